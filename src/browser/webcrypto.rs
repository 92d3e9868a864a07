//! AES-256-GCM through the browser's WebCrypto: native speed and no AES
//! code in the package. The envelope's header and associated data come from
//! `crate::envelope`, so the bytes equal the native `aes-gcm` path (a
//! browser test reproduces the known-answer vectors through here).
//!
//! Each operation is one call into a few lines of JS (the key import, the
//! parameters and the WebCrypto call chained there) and one promise back:
//! a call across the wasm boundary costs more than the JS it saves. The
//! bulk of an envelope never enters wasm memory: the plaintext goes from
//! the caller's buffer to WebCrypto, the ciphertext from WebCrypto's buffer
//! to the base64url text, and back. Only the header (at most
//! `MAX_HEADER_LEN` bytes) is read or written in Rust.

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::{argon2, base64, platform};
use crate::{Error, ErrorCode};
use crate::envelope::{self, BackupKey, Context, Envelope, Header, KeyKind, MAX_HEADER_LEN, NONCE_LEN};

fn unavailable() -> Error {
    Error::remote(ErrorCode::WebcryptoUnavailable, "crypto.subtle is unavailable: serve the page over https or localhost", None)
}

/// A bridge function's answer: its promise, or `unavailable` for null.
fn promise(answer: JsValue) -> Result<Promise, Error> {
    if answer.is_null() { Err(unavailable()) } else { Ok(answer.unchecked_into()) }
}

/// Seals `plaintext` (a JS buffer: it is not copied into wasm memory): a
/// promise of `{key: key_text, cipherText}`, the envelope's base64url text.
fn seal_share_with(
    key: &BackupKey,
    kind: KeyKind,
    nonce: &[u8; NONCE_LEN],
    context: &Context<'_>,
    plaintext: &Uint8Array,
    key_text: &str,
) -> Result<Promise, Error> {
    if plaintext.length() as usize > envelope::MAX_PLAINTEXT_LEN {
        return Err(Error::InvalidInput("plaintext larger than 4 MiB"));
    }
    let header = envelope::encode_header(&kind, nonce);
    let aad = envelope::associated_data(&header, context);
    let refused = Error::InvalidInput("WebCrypto refused to encrypt");
    let (code, message) = (refused.code().name(), refused.message());
    promise(platform::seal_share(key.as_bytes(), &header, nonce, &aad, plaintext, key_text, code, &message))
}

/// `encryptShare`: a promise of `{key, cipherText}` under a fresh key. No
/// Rust future: the promise is the platform's own, so a call costs one
/// crossing into JS and no turns through wasm-bindgen-futures.
pub fn seal_share(context: &Context<'_>, plaintext: &Uint8Array) -> Result<Promise, Error> {
    let key = BackupKey::generate()?;
    seal_share_with(&key, KeyKind::Random, &envelope::random_nonce()?, context, plaintext, &base64::key_text(&key))
}

/// Awaits a sealing of `seal_text`: the envelope's text.
async fn cipher_text(sealing: Promise) -> Result<JsValue, Error> {
    JsFuture::from(sealing).await.map_err(|_| Error::InvalidInput("WebCrypto refused to encrypt"))
}

/// Seals like `envelope::seal` / `seal_with_password` with a fresh nonce:
/// a promise of the envelope's base64url text, a JS string, as it goes into
/// JSON and back to a wallet. No Rust future.
pub fn seal_text(key: &BackupKey, kind: KeyKind, context: &Context<'_>, plaintext: &Uint8Array) -> Result<Promise, Error> {
    seal_share_with(key, kind, &envelope::random_nonce()?, context, plaintext, "")
}

/// `seal_text`, awaited.
pub async fn seal_to_text(
    key: &BackupKey,
    kind: KeyKind,
    context: &Context<'_>,
    plaintext: &Uint8Array,
) -> Result<String, Error> {
    cipher_text(seal_text(key, kind, context, plaintext)?).await?.as_string().ok_or(Error::InvalidInput("WebCrypto refused to encrypt"))
}

/// Seals like `envelope::seal` / `seal_with_password`, with a fresh nonce.
pub async fn seal(key: &BackupKey, kind: KeyKind, context: &Context<'_>, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
    seal_with_nonce(key, kind, &envelope::random_nonce()?, context, plaintext).await
}

/// Only for known-answer tests: a fixed nonce must never be reused with a
/// real key. Every real path draws a fresh one.
#[doc(hidden)]
pub async fn seal_with_nonce(
    key: &BackupKey,
    kind: KeyKind,
    nonce: &[u8; NONCE_LEN],
    context: &Context<'_>,
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let sealing = seal_share_with(key, kind, nonce, context, &Uint8Array::from(plaintext), "")?;
    base64::envelope_from_text(&cipher_text(sealing).await?)
}

/// An envelope left in JS memory: its header read in Rust, the ciphertext
/// and tag handed to WebCrypto where they are.
pub struct SealedBytes {
    header: Header,
    /// The header's bytes, for the associated data.
    header_bytes: Vec<u8>,
    /// Ciphertext followed by the tag.
    sealed: Uint8Array,
}

impl SealedBytes {
    pub fn new(envelope: Uint8Array) -> Result<Self, Error> {
        let len = envelope.length();
        let prefix = envelope.subarray(0, len.min(MAX_HEADER_LEN as u32)).to_vec();
        let header = Header::parse(&prefix, len as usize)?;
        let header_bytes = prefix.get(..header.len).unwrap_or_default().to_vec();
        let sealed = envelope.subarray(header.len as u32, len);
        Ok(SealedBytes { header, header_bytes, sealed })
    }

    /// From the envelope's base64url text.
    pub fn from_text(text: &JsValue) -> Result<Self, Error> {
        SealedBytes::new(base64::from_text(text)?)
    }

    pub fn kind(&self) -> &KeyKind {
        &self.header.kind
    }
}

/// `decryptShare`: a promise of the plaintext of `sealed`, like `seal_share`
/// without a Rust future. A failure to authenticate rejects with `CannotDecrypt`.
pub fn open_share(key: &BackupKey, sealed: &SealedBytes, context: &Context<'_>) -> Result<Promise, Error> {
    open_share_as(key, sealed, context, Error::CannotDecrypt)
}

/// `open_share`, rejecting with `failed` when the tag does not authenticate.
pub fn open_share_as(key: &BackupKey, sealed: &SealedBytes, context: &Context<'_>, failed: Error) -> Result<Promise, Error> {
    let aad = envelope::associated_data(&sealed.header_bytes, context);
    let (code, message) = (failed.code().name(), failed.message());
    promise(platform::open_share(key.as_bytes(), &sealed.header.nonce, &aad, &sealed.sealed, code, &message))
}

/// Opens `sealed` with `key`; the plaintext stays in WebCrypto's buffer.
/// Any failure is `CannotDecrypt`.
pub async fn open_js(key: &BackupKey, sealed: &SealedBytes, context: &Context<'_>) -> Result<Uint8Array, Error> {
    let opening = open_share(key, sealed, context)?;
    Ok(JsFuture::from(opening).await.map_err(|_| Error::CannotDecrypt)?.unchecked_into())
}

/// Opens a password envelope: Argon2id from its own wasm, loaded when first
/// needed (`argon2`; WebCrypto has none), then AES-GCM here. Any failure to
/// authenticate is `WrongPassword`.
pub async fn open_js_with_password(
    password: &str,
    sealed: &SealedBytes,
    context: &Context<'_>,
) -> Result<Uint8Array, Error> {
    let KeyKind::Password { params, salt } = sealed.kind() else {
        return Err(Error::InvalidInput("this backup is not protected by a password"));
    };
    let key = argon2::password_key(password, params, salt).await?;
    open_js(&key, sealed, context).await.map_err(|error| match error {
        Error::CannotDecrypt => Error::WrongPassword,
        other => other,
    })
}

fn sealed_bytes(parsed: &Envelope<'_>) -> Result<SealedBytes, Error> {
    let mut bytes = envelope::encode_header(&parsed.kind, &parsed.nonce);
    bytes.extend_from_slice(parsed.sealed());
    SealedBytes::new(Uint8Array::from(bytes.as_slice()))
}

/// Opens a parsed envelope with `key`. Any failure is `CannotDecrypt`.
pub async fn open(key: &BackupKey, parsed: &Envelope<'_>, context: &Context<'_>) -> Result<Vec<u8>, Error> {
    Ok(open_js(key, &sealed_bytes(parsed)?, context).await?.to_vec())
}

/// `open` for a password envelope. Any failure to authenticate is `WrongPassword`.
pub async fn open_with_password(
    password: &str,
    parsed: &Envelope<'_>,
    context: &Context<'_>,
) -> Result<Vec<u8>, Error> {
    Ok(open_js_with_password(password, &sealed_bytes(parsed)?, context).await?.to_vec())
}

/// The Drive key file's name: `crate::drive::key_file_name` with WebCrypto's
/// SHA-256 (a browser test checks both give the same name).
pub async fn key_file_name(custodian_id: &str, client_id: &str) -> Result<String, Error> {
    let preimage = crate::drive::key_file_name_preimage(custodian_id, client_id)?;
    Ok(crate::drive::key_file_name_from_digest(&sha256(&preimage).await?))
}

/// WebCrypto's SHA-256 of `data`.
pub async fn sha256(data: &[u8]) -> Result<Vec<u8>, Error> {
    let digest = JsFuture::from(promise(platform::sha256(data))?).await.map_err(|_| unavailable())?;
    Ok(digest.unchecked_into::<Uint8Array>().to_vec())
}
