//! The share envelope: how a client backup share is sealed before it leaves
//! the browser. Byte layout in `docs/ENVELOPE.md`.
//!
//! ```text
//! magic "PBAK" | version 0x01 | key kind | [kdf params | passkey] | nonce (12) | ciphertext || tag (16)
//! ```
//! Everything before the ciphertext is the header; the AEAD's associated
//! data is the header followed by the context (clientId, backupMethod), so
//! neither the header nor the context can be changed without `CannotDecrypt`.

use alloc::{string::String, vec::Vec};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64ct::{Base64UrlUnpadded, Encoding};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};

pub const MAGIC: &[u8; 4] = b"PBAK";
pub const VERSION: u8 = 1;
pub const KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
pub const SALT_LEN: usize = 16;
/// The WebAuthn PRF evaluation salt of a passkey envelope.
pub const PRF_SALT_LEN: usize = 32;
/// WebAuthn bounds a credential id to 1023 bytes.
pub const MAX_CREDENTIAL_ID_LEN: usize = 1023;
/// HKDF-SHA-256 `info` for a passkey envelope's key (salt empty, ikm = the
/// 32-byte PRF output). WebCrypto derives it in the browser.
pub const PASSKEY_HKDF_INFO: &[u8] = b"portal-backup/v1/passkey";
/// Domain separation of the PRF evaluation salt; see [`passkey_prf_salt_preimage`].
pub const PASSKEY_PRF_DOMAIN: &[u8] = b"portal-backup/v1/passkey-prf";
/// A client backup is a few KiB; this bound only stops absurd inputs.
pub const MAX_PLAINTEXT_LEN: usize = 4 * 1024 * 1024;
const MAX_CONTEXT_FIELD_LEN: usize = 1024;

const KIND_RANDOM_KEY: u8 = 0x01;
const KIND_PASSWORD: u8 = 0x02;
const KIND_PASSKEY: u8 = 0x03;

/// A 256-bit AES key. Wiped on drop; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct BackupKey([u8; KEY_LEN]);

impl BackupKey {
    /// A fresh key from the platform CSPRNG (WebCrypto in a browser).
    pub fn generate() -> Result<Self> {
        let mut key = BackupKey([0; KEY_LEN]);
        getrandom::fill(&mut key.0).map_err(|_| Error::Randomness)?;
        Ok(key)
    }

    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        BackupKey(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The key as stored in the user's Drive: base64url without padding
    /// (RFC 4648 §5), 43 characters. Surrounding whitespace is ignored.
    pub fn from_text(text: &str) -> Result<Self> {
        let mut key = BackupKey([0; KEY_LEN]);
        match Base64UrlUnpadded::decode(text.trim().as_bytes(), &mut key.0) {
            Ok(decoded) if decoded.len() == KEY_LEN => Ok(key),
            _ => Err(Error::MalformedKey),
        }
    }

    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(Base64UrlUnpadded::encode_string(&self.0))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&Key::<Aes256Gcm>::from(self.0))
    }
}

impl core::fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("BackupKey(<redacted>)")
    }
}

/// Who and what a ciphertext is for. Bound into the associated data, so a
/// ciphertext moved to another client or method does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context<'a> {
    pub client_id: &'a str,
    pub backup_method: &'a str,
}

impl<'a> Context<'a> {
    pub fn new(client_id: &'a str, backup_method: &'a str) -> Result<Self> {
        for (field, name) in [(client_id, "clientId"), (backup_method, "backupMethod")] {
            if field.is_empty() || field.len() > MAX_CONTEXT_FIELD_LEN {
                return Err(Error::InvalidInput(match name {
                    "clientId" => "clientId must be 1 to 1024 bytes",
                    _ => "backupMethod must be 1 to 1024 bytes",
                }));
            }
        }
        Ok(Context { client_id, backup_method })
    }
}

/// Argon2id cost parameters, stored in the header of a password envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory in KiB.
    pub m_cost: u32,
    pub t_cost: u32,
    pub p_cost: u8,
}

impl PasswordParams {
    /// 64 MiB, 3 passes, 1 lane: RFC 9106's second recommended option with
    /// one lane (a browser has one thread for us). ~0.25 s in Chromium here;
    /// see BENCHMARKS.md.
    pub const DEFAULT: PasswordParams = PasswordParams { m_cost: 64 * 1024, t_cost: 3, p_cost: 1 };

    /// Bounds applied when reading a header, so a hostile envelope cannot
    /// make us allocate gigabytes or spin for minutes (and by the browser's
    /// Argon2id module before it loads).
    pub fn check(&self) -> Result<()> {
        let ok = (1..=16).contains(&self.p_cost)
            && self.m_cost >= 8 * u32::from(self.p_cost)
            && self.m_cost <= 1024 * 1024
            && (1..=64).contains(&self.t_cost);
        if ok { Ok(()) } else { Err(Error::Malformed("password cost parameters out of range")) }
    }
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How the envelope's key was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// A random key stored elsewhere (the user's Google Drive).
    Random,
    /// A key derived from a password with Argon2id.
    Password { params: PasswordParams, salt: [u8; SALT_LEN] },
    /// A key derived (HKDF-SHA-256) from a passkey's WebAuthn PRF output for
    /// `prf_salt`; `credential_id` names the passkey (1 to 1023 bytes).
    Passkey { credential_id: Vec<u8>, prf_salt: [u8; PRF_SALT_LEN] },
}

/// A parsed envelope, borrowing the bytes it was read from.
#[derive(Debug)]
pub struct Envelope<'a> {
    pub kind: KeyKind,
    pub nonce: [u8; NONCE_LEN],
    /// Every byte before the ciphertext: authenticated as associated data.
    header: &'a [u8],
    /// Ciphertext followed by the 16-byte tag.
    sealed: &'a [u8],
}

impl<'a> Envelope<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let Header { kind, nonce, len } = Header::parse(bytes, bytes.len())?;
        let (header, sealed) = bytes.split_at_checked(len).ok_or(Error::Malformed("truncated header"))?;
        Ok(Envelope { kind, nonce, header, sealed })
    }

    /// The associated data for this envelope under `context`.
    pub fn associated_data(&self, context: &Context) -> Vec<u8> {
        associated_data(self.header, context)
    }

    /// Ciphertext followed by the tag, as AES-GCM (and WebCrypto) take it.
    pub fn sealed(&self) -> &'a [u8] {
        self.sealed
    }

    pub fn open(&self, key: &BackupKey, context: &Context) -> Result<Zeroizing<Vec<u8>>> {
        let aad = self.associated_data(context);
        key.cipher()
            .decrypt(&Nonce::from(self.nonce), Payload { msg: self.sealed, aad: &aad })
            .map(Zeroizing::new)
            .map_err(|_| Error::CannotDecrypt)
    }
}

/// The longest header: magic, version, key kind, the longest key parameters
/// (a passkey's: u16 length, credential id, PRF salt), nonce.
pub const MAX_HEADER_LEN: usize = MAGIC.len() + 2 + 2 + MAX_CREDENTIAL_ID_LEN + PRF_SALT_LEN + NONCE_LEN;

/// An envelope's header, read without its ciphertext: a browser reads the
/// first bytes of an envelope that stays in JS memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub kind: KeyKind,
    pub nonce: [u8; NONCE_LEN],
    /// Bytes before the ciphertext.
    pub len: usize,
}

impl Header {
    /// The header of an envelope `envelope_len` bytes long, from its first
    /// bytes (`MAX_HEADER_LEN` of them are always enough). Checks what
    /// `Envelope::parse` checks.
    pub fn parse(prefix: &[u8], envelope_len: usize) -> Result<Header> {
        let mut reader = Reader { bytes: prefix, at: 0 };
        if reader.take(MAGIC.len()).ok() != Some(MAGIC.as_slice()) {
            return Err(Error::NotAnEnvelope);
        }
        let version = reader.byte()?;
        if version != VERSION {
            return Err(Error::UnsupportedVersion(version));
        }
        let kind = match reader.byte()? {
            KIND_RANDOM_KEY => KeyKind::Random,
            KIND_PASSWORD => {
                let params = PasswordParams {
                    m_cost: reader.u32()?,
                    t_cost: reader.u32()?,
                    p_cost: reader.byte()?,
                };
                params.check()?;
                let salt = reader.array::<SALT_LEN>()?;
                KeyKind::Password { params, salt }
            }
            KIND_PASSKEY => {
                let len = usize::from(u16::from_be_bytes(reader.array::<2>()?));
                if !(1..=MAX_CREDENTIAL_ID_LEN).contains(&len) {
                    return Err(Error::Malformed("passkey credential id length out of range"));
                }
                let credential_id = reader.take(len)?.to_vec();
                KeyKind::Passkey { credential_id, prf_salt: reader.array::<PRF_SALT_LEN>()? }
            }
            _ => return Err(Error::Malformed("unknown key kind")),
        };
        let nonce = reader.array::<NONCE_LEN>()?;
        if envelope_len < reader.at + TAG_LEN {
            return Err(Error::Malformed("truncated: no room for the authentication tag"));
        }
        Ok(Header { kind, nonce, len: reader.at })
    }
}

/// Header for a new envelope (everything before the ciphertext).
pub fn encode_header(kind: &KeyKind, nonce: &[u8; NONCE_LEN]) -> Vec<u8> {
    let mut header = Vec::with_capacity(MAGIC.len() + 2 + 9 + SALT_LEN + NONCE_LEN);
    header.extend_from_slice(MAGIC);
    header.push(VERSION);
    match kind {
        KeyKind::Random => header.push(KIND_RANDOM_KEY),
        KeyKind::Password { params, salt } => {
            header.push(KIND_PASSWORD);
            header.extend_from_slice(&params.m_cost.to_be_bytes());
            header.extend_from_slice(&params.t_cost.to_be_bytes());
            header.push(params.p_cost);
            header.extend_from_slice(salt);
        }
        KeyKind::Passkey { credential_id, prf_salt } => {
            header.push(KIND_PASSKEY);
            // `check_passkey` bounds the id to 1023 bytes.
            header.extend_from_slice(&(credential_id.len() as u16).to_be_bytes());
            header.extend_from_slice(credential_id);
            header.extend_from_slice(prf_salt);
        }
    }
    header.extend_from_slice(nonce);
    header
}

/// header || u16be len || clientId || u16be len || backupMethod.
/// Length prefixes keep ("ab", "c") and ("a", "bc") apart.
pub fn associated_data(header: &[u8], context: &Context) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + 4 + context.client_id.len() + context.backup_method.len());
    aad.extend_from_slice(header);
    for field in [context.client_id, context.backup_method] {
        // Context::new bounds each field to 1024 bytes, so this fits in u16.
        aad.extend_from_slice(&(field.len() as u16).to_be_bytes());
        aad.extend_from_slice(field.as_bytes());
    }
    aad
}

pub fn random_nonce() -> Result<[u8; NONCE_LEN]> {
    let mut nonce = [0; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| Error::Randomness)?;
    Ok(nonce)
}

/// Seal `plaintext` under `key` with a fresh random nonce.
pub fn seal(key: &BackupKey, context: &Context, plaintext: &[u8]) -> Result<Vec<u8>> {
    seal_with_nonce(key, KeyKind::Random, &random_nonce()?, context, plaintext)
}

/// Only for known-answer vectors: a fixed nonce must never be reused with a
/// real key. Hidden from the docs; every real path goes through `seal`.
#[doc(hidden)]
pub fn seal_with_nonce(
    key: &BackupKey,
    kind: KeyKind,
    nonce: &[u8; NONCE_LEN],
    context: &Context,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(Error::InvalidInput("plaintext larger than 4 MiB"));
    }
    kind.check()?;
    let mut envelope = encode_header(&kind, nonce);
    let aad = associated_data(&envelope, context);
    let sealed = key
        .cipher()
        .encrypt(&Nonce::from(*nonce), Payload { msg: plaintext, aad: &aad })
        .map_err(|_| Error::InvalidInput("plaintext too large for AES-GCM"))?;
    envelope.extend_from_slice(&sealed);
    Ok(envelope)
}

/// Open an envelope sealed under a random key.
pub fn open(key: &BackupKey, context: &Context, envelope: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    Envelope::parse(envelope)?.open(key, context)
}

impl KeyKind {
    /// What a reader would refuse, refused before writing: a passkey's
    /// credential id must be 1 to 1023 bytes.
    pub fn check(&self) -> Result<()> {
        match self {
            KeyKind::Passkey { credential_id, .. }
                if !(1..=MAX_CREDENTIAL_ID_LEN).contains(&credential_id.len()) =>
            {
                Err(Error::InvalidInput("a passkey credential id must be 1 to 1023 bytes"))
            }
            _ => Ok(()),
        }
    }
}

/// What the PRF evaluation salt of a passkey envelope hashes: it binds the
/// passkey's key to this app (the WebAuthn relying party id), the client and
/// the method, so another app or client asking the same passkey gets another key.
///
/// `"portal-backup/v1/passkey-prf" || 0x00 || u16be len || rpId || u16be len || clientId || u16be len || backupMethod`
pub fn passkey_prf_salt_preimage(rp_id: &str, context: &Context) -> Result<Vec<u8>> {
    if rp_id.is_empty() || rp_id.len() > MAX_CONTEXT_FIELD_LEN {
        return Err(Error::InvalidInput("rpId must be 1 to 1024 bytes"));
    }
    let mut preimage = Vec::with_capacity(PASSKEY_PRF_DOMAIN.len() + 7 + rp_id.len() + context.client_id.len() + context.backup_method.len());
    preimage.extend_from_slice(PASSKEY_PRF_DOMAIN);
    preimage.push(0);
    for field in [rp_id, context.client_id, context.backup_method] {
        // Each field is at most 1024 bytes (Context::new and the check above).
        preimage.extend_from_slice(&(field.len() as u16).to_be_bytes());
        preimage.extend_from_slice(field.as_bytes());
    }
    Ok(preimage)
}

/// The PRF evaluation salt: SHA-256 of [`passkey_prf_salt_preimage`]. The
/// browser hashes the same preimage with WebCrypto; the salt is stored in
/// the envelope's header, so recovery never recomputes it.
pub fn passkey_prf_salt(rp_id: &str, context: &Context) -> Result<[u8; PRF_SALT_LEN]> {
    use sha2::Digest;
    Ok(sha2::Sha256::digest(passkey_prf_salt_preimage(rp_id, context)?).into())
}

/// Derive the AES key for a password envelope with Argon2id.
pub fn derive_password_key(password: &str, params: &PasswordParams, salt: &[u8; SALT_LEN]) -> Result<BackupKey> {
    params.check()?;
    let argon_params = argon2::Params::new(params.m_cost, params.t_cost, u32::from(params.p_cost), Some(KEY_LEN))
        .map_err(|_| Error::Malformed("password cost parameters out of range"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, argon_params);
    let mut key = BackupKey([0; KEY_LEN]);
    argon
        .hash_password_into(password.as_bytes(), salt, &mut key.0)
        .map_err(|_| Error::InvalidInput("password too long"))?;
    Ok(key)
}

/// Seal `plaintext` under a key derived from `password` (fresh salt and nonce).
pub fn seal_with_password(
    password: &str,
    params: PasswordParams,
    context: &Context,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    if password.is_empty() {
        return Err(Error::InvalidInput("password must not be empty"));
    }
    let mut salt = [0; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|_| Error::Randomness)?;
    let key = derive_password_key(password, &params, &salt)?;
    seal_with_nonce(&key, KeyKind::Password { params, salt }, &random_nonce()?, context, plaintext)
}

/// Open a password envelope. Any failure to authenticate is `WrongPassword`.
pub fn open_with_password(password: &str, context: &Context, envelope: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let parsed = Envelope::parse(envelope)?;
    let KeyKind::Password { params, salt } = &parsed.kind else {
        return Err(Error::InvalidInput("this backup is not protected by a password"));
    };
    let key = derive_password_key(password, params, salt)?;
    parsed.open(&key, context).map_err(|_| Error::WrongPassword)
}

/// Text form of an envelope for JSON: base64url without padding. The
/// envelope is public, so this takes the fast variable-time codec.
pub fn envelope_to_text(envelope: &[u8]) -> String {
    crate::base64url::encode(envelope)
}

pub fn envelope_from_text(text: &str) -> Result<Vec<u8>> {
    crate::base64url::decode(text.trim().as_bytes()).ok_or(Error::Malformed("ciphertext is not base64url"))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).ok_or(Error::Malformed("truncated header"))?;
        let slice = self.bytes.get(self.at..end).ok_or(Error::Malformed("truncated header"))?;
        self.at = end;
        Ok(slice)
    }
    fn byte(&mut self) -> Result<u8> {
        self.array::<1>().map(|[byte]| byte)
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array::<4>()?))
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        <[u8; N]>::try_from(self.take(N)?).map_err(|_| Error::Malformed("truncated header"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context<'static> {
        Context::new("client-1", "GDRIVE").unwrap()
    }

    #[test]
    fn round_trip_random_key() {
        let key = BackupKey::generate().unwrap();
        let sealed = seal(&key, &ctx(), b"share").unwrap();
        assert_eq!(&open(&key, &ctx(), &sealed).unwrap()[..], b"share");
    }

    #[test]
    fn two_seals_differ() {
        let key = BackupKey::generate().unwrap();
        assert_ne!(seal(&key, &ctx(), b"x").unwrap(), seal(&key, &ctx(), b"x").unwrap());
    }

    #[test]
    fn key_text_round_trip_and_redaction() {
        let key = BackupKey::generate().unwrap();
        let text = key.to_text();
        assert_eq!(text.len(), 43);
        assert_eq!(BackupKey::from_text(&text).unwrap(), key);
        assert_eq!(format!("{key:?}"), "BackupKey(<redacted>)");
        assert_eq!(BackupKey::from_text("too-short"), Err(Error::MalformedKey));
    }

    #[test]
    fn hostile_password_params_are_refused_before_argon2_runs() {
        let key = BackupKey::from_bytes([1; 32]);
        let huge = PasswordParams { m_cost: u32::MAX, t_cost: 3, p_cost: 1 };
        let sealed = seal_with_nonce(&key, KeyKind::Password { params: huge, salt: [0; 16] }, &[0; 12], &ctx(), b"x")
            .unwrap();
        assert!(matches!(Envelope::parse(&sealed), Err(Error::Malformed(_))));
    }

    // ---- the bounds at their edges (docs/RELIABILITY.md §9: each of these
    // ---- tests kills a mutant that the tests above let live) ---------------

    /// A key is exactly 32 bytes: canonical base64url of 0 to 31 or of 33
    /// bytes is `MALFORMED_KEY`, not a short key padded with zeros.
    #[test]
    fn a_key_text_of_any_other_length_than_32_bytes_is_malformed() {
        for len in (0..KEY_LEN).chain([KEY_LEN + 1]) {
            let text = Base64UrlUnpadded::encode_string(&[0xa5; KEY_LEN + 1][..len]);
            assert_eq!(BackupKey::from_text(&text), Err(Error::MalformedKey), "{len} bytes: {text}");
        }
        let text = Base64UrlUnpadded::encode_string(&[0xa5; KEY_LEN]);
        assert_eq!(BackupKey::from_text(&format!(" {text}\n")), Ok(BackupKey::from_bytes([0xa5; KEY_LEN])));
    }

    /// A password header with these costs, as `Envelope::parse` judges it.
    fn parse_costs(m_cost: u32, t_cost: u32, p_cost: u8) -> Result<()> {
        let kind = KeyKind::Password { params: PasswordParams { m_cost, t_cost, p_cost }, salt: [0; SALT_LEN] };
        let sealed = seal_with_nonce(&BackupKey::from_bytes([1; KEY_LEN]), kind, &[0; NONCE_LEN], &ctx(), b"x")?;
        Envelope::parse(&sealed).map(|_| ())
    }

    /// Argon2id costs: 1 to 16 lanes, at least 8 KiB per lane, at most 1 GiB,
    /// 1 to 64 passes; each bound accepted at its edge, refused one past it.
    /// Only headers are parsed: no Argon2 runs.
    #[test]
    fn password_cost_bounds_hold_at_their_edges() {
        let refused = Err(Error::Malformed("password cost parameters out of range"));
        for p_cost in [1u8, 2, 16] {
            let least = 8 * u32::from(p_cost);
            assert_eq!(parse_costs(least, 1, p_cost), Ok(()), "{p_cost} lanes, {least} KiB");
            assert_eq!(parse_costs(least - 1, 1, p_cost), refused, "{p_cost} lanes, {} KiB", least - 1);
        }
        assert_eq!(parse_costs(1024, 1, 0), refused);
        assert_eq!(parse_costs(1024, 1, 17), refused);
        assert_eq!(parse_costs(1024 * 1024, 1, 1), Ok(()));
        assert_eq!(parse_costs(1024 * 1024 + 1, 1, 1), refused);
        assert_eq!(parse_costs(8, 0, 1), refused);
        assert_eq!(parse_costs(8, 64, 1), Ok(()));
        assert_eq!(parse_costs(8, 65, 1), refused);
        // Deriving checks the same bounds before Argon2 would run.
        let cheap_but_out_of_range = PasswordParams { m_cost: 8, t_cost: 65, p_cost: 1 };
        assert_eq!(derive_password_key("pw", &cheap_but_out_of_range, &[0; SALT_LEN]).map(|_| ()), refused);
    }

    /// The defaults BENCHMARKS.md measures: 64 MiB, 3 passes, 1 lane.
    #[test]
    fn the_default_costs_are_64_mib_3_passes_1_lane() {
        assert_eq!(PasswordParams::default(), PasswordParams { m_cost: 65_536, t_cost: 3, p_cost: 1 });
    }

    /// 4 MiB of plaintext seals; one byte more is refused.
    #[test]
    fn plaintext_is_bounded_at_4_mib() {
        assert_eq!(MAX_PLAINTEXT_LEN, 4_194_304);
        let key = BackupKey::from_bytes([2; KEY_LEN]);
        let mut plaintext = vec![0; MAX_PLAINTEXT_LEN];
        let sealed = seal_with_nonce(&key, KeyKind::Random, &[0; NONCE_LEN], &ctx(), &plaintext).unwrap();
        assert_eq!(sealed.len(), MAGIC.len() + 2 + NONCE_LEN + MAX_PLAINTEXT_LEN + TAG_LEN);
        plaintext.push(0);
        assert_eq!(
            seal_with_nonce(&key, KeyKind::Random, &[0; NONCE_LEN], &ctx(), &plaintext),
            Err(Error::InvalidInput("plaintext larger than 4 MiB"))
        );
    }

    /// rpId, like clientId and backupMethod, is 1 to 1024 bytes.
    #[test]
    fn rp_id_and_context_fields_are_bounded_at_1024_bytes() {
        let long = "r".repeat(MAX_CONTEXT_FIELD_LEN);
        assert!(passkey_prf_salt_preimage(&long, &ctx()).is_ok());
        assert_eq!(
            passkey_prf_salt_preimage(&format!("{long}r"), &ctx()),
            Err(Error::InvalidInput("rpId must be 1 to 1024 bytes"))
        );
        assert!(Context::new(&long, &long).is_ok());
        assert!(Context::new(&format!("{long}c"), "GDRIVE").is_err());
        assert!(Context::new("c", &format!("{long}m")).is_err());
    }

    /// `MAX_HEADER_LEN` is the longest header there is (a passkey's with a
    /// 1023-byte credential id), and that many bytes are enough to read it.
    #[test]
    fn max_header_len_is_the_longest_header_and_enough_to_read_it() {
        let kind = KeyKind::Passkey { credential_id: vec![7; MAX_CREDENTIAL_ID_LEN], prf_salt: [9; PRF_SALT_LEN] };
        assert_eq!(encode_header(&kind, &[0; NONCE_LEN]).len(), MAX_HEADER_LEN);
        let sealed = seal_with_nonce(&BackupKey::from_bytes([3; KEY_LEN]), kind.clone(), &[5; NONCE_LEN], &ctx(), b"x").unwrap();
        let header = Header::parse(&sealed[..MAX_HEADER_LEN], sealed.len()).unwrap();
        assert_eq!(header, Header { kind, nonce: [5; NONCE_LEN], len: MAX_HEADER_LEN });
        assert_eq!(Header::parse(&sealed[..MAX_HEADER_LEN - 1], sealed.len()), Err(Error::Malformed("truncated header")));
    }

    /// After the header there must be room for the 16-byte tag: an empty
    /// plaintext's envelope (header and tag only) parses and opens, one byte
    /// less is malformed, in `Header::parse` and `Envelope::parse` alike.
    #[test]
    fn the_tag_must_fit_after_the_header() {
        let key = BackupKey::from_bytes([4; KEY_LEN]);
        let sealed = seal_with_nonce(&key, KeyKind::Random, &[6; NONCE_LEN], &ctx(), b"").unwrap();
        let header_len = MAGIC.len() + 2 + NONCE_LEN;
        assert_eq!(sealed.len(), header_len + TAG_LEN);
        assert_eq!(Header::parse(&sealed, sealed.len()).map(|h| h.len), Ok(header_len));
        assert_eq!(&open(&key, &ctx(), &sealed).unwrap()[..], b"");
        let no_room = Err(Error::Malformed("truncated: no room for the authentication tag"));
        assert_eq!(Header::parse(&sealed, sealed.len() - 1).map(|_| ()), no_room);
        assert_eq!(Envelope::parse(&sealed[..sealed.len() - 1]).map(|_| ()), no_room);
    }

    /// `sealed()` is what follows the header: ciphertext, then the tag.
    #[test]
    fn sealed_is_ciphertext_and_tag_after_the_header() {
        let sealed = seal_with_nonce(&BackupKey::from_bytes([8; KEY_LEN]), KeyKind::Random, &[0; NONCE_LEN], &ctx(), b"share")
            .unwrap();
        let envelope = Envelope::parse(&sealed).unwrap();
        let header_len = MAGIC.len() + 2 + NONCE_LEN;
        assert_eq!(envelope.sealed(), &sealed[header_len..]);
        assert_eq!(envelope.sealed().len(), b"share".len() + TAG_LEN);
    }
}
