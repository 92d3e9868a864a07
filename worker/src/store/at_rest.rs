//! Custodian shares at rest: AES-256-GCM under a key from the secret
//! `SHARE_ENCRYPTION_KEYS` (`kid:base64key,kid:base64key`). The first key
//! seals; every listed key opens, found by the key id stored in the record,
//! so a rotation (put the new key first, keep the old one) leaves old
//! records readable while new writes use the new key. The KV key's parts
//! (clientId, backupMethod) are the associated data: a record copied to
//! another client or method does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

const RECORD_VERSION: u8 = 1;
const AAD_LABEL: &[u8] = b"portal-backup-worker/custodian-share/v1";
const NONCE_LEN: usize = 12;
const MAX_KID_LEN: usize = 32;

struct ShareKey {
    kid: String,
    key: Zeroizing<[u8; 32]>,
}

/// The parsed `SHARE_ENCRYPTION_KEYS`. Never printed.
pub struct Keyring {
    keys: Vec<ShareKey>,
}

impl core::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("Keyring")
            .field("kids", &kids)
            .finish_non_exhaustive()
    }
}

const MALFORMED_KEYS: Error = Error::Misconfigured(
    "SHARE_ENCRYPTION_KEYS must be kid:base64-32-byte-key[,kid:key...] with unique kids",
);

impl Keyring {
    pub fn parse(secret: &str) -> Result<Self> {
        let mut keys: Vec<ShareKey> = Vec::new();
        for entry in secret.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (kid, encoded) = entry.split_once(':').ok_or(MALFORMED_KEYS)?;
            let kid = kid.trim();
            let kid_ok = kid.len() <= MAX_KID_LEN && crate::validate::is_safe_id(kid);
            if !kid_ok || keys.iter().any(|k| k.kid == kid) {
                return Err(MALFORMED_KEYS);
            }
            let mut key = Zeroizing::new([0u8; 32]);
            let encoded = encoded.trim().as_bytes();
            // `openssl rand -base64 32` gives padded base64; base64url is also taken.
            let decoded_len = match Base64::decode(encoded, &mut key[..]) {
                Ok(bytes) => bytes.len(),
                Err(_) => Base64UrlUnpadded::decode(encoded, &mut key[..])
                    .map_err(|_| MALFORMED_KEYS)?
                    .len(),
            };
            if decoded_len != 32 {
                return Err(MALFORMED_KEYS);
            }
            keys.push(ShareKey {
                kid: kid.to_owned(),
                key,
            });
        }
        if keys.is_empty() {
            return Err(MALFORMED_KEYS);
        }
        Ok(Keyring { keys })
    }

    /// The key id new records are sealed under.
    pub fn current_kid(&self) -> &str {
        &self.keys[0].kid
    }

    pub fn seal(
        &self,
        client_id: &str,
        backup_method: &str,
        custodian_share: &str,
    ) -> Result<SealedShare> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| Error::Internal("randomness unavailable"))?;
        self.seal_with_nonce(client_id, backup_method, custodian_share, nonce)
    }

    fn seal_with_nonce(
        &self,
        client_id: &str,
        backup_method: &str,
        custodian_share: &str,
        nonce: [u8; NONCE_LEN],
    ) -> Result<SealedShare> {
        let share_key = &self.keys[0];
        let aad = associated_data(client_id, backup_method);
        let sealed = cipher(share_key)
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: custodian_share.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| Error::Internal("sealing failed"))?;
        Ok(SealedShare {
            v: RECORD_VERSION,
            kid: share_key.kid.clone(),
            nonce: Base64UrlUnpadded::encode_string(&nonce),
            ciphertext: Base64UrlUnpadded::encode_string(&sealed),
        })
    }

    /// The share exactly as Portal sent it. Any failure (unknown kid, wrong
    /// client or method, damage) is the same `StoredRecordUnreadable`.
    pub fn open(
        &self,
        client_id: &str,
        backup_method: &str,
        record: &SealedShare,
    ) -> Result<Zeroizing<String>> {
        let unreadable = Error::StoredRecordUnreadable;
        if record.v != RECORD_VERSION {
            return Err(unreadable);
        }
        let share_key = self
            .keys
            .iter()
            .find(|k| k.kid == record.kid)
            .ok_or(unreadable)?;
        let mut nonce = [0u8; NONCE_LEN];
        match Base64UrlUnpadded::decode(record.nonce.as_bytes(), &mut nonce) {
            Ok(bytes) if bytes.len() == NONCE_LEN => {}
            _ => return Err(unreadable),
        }
        let sealed = Base64UrlUnpadded::decode_vec(&record.ciphertext).map_err(|_| unreadable)?;
        let aad = associated_data(client_id, backup_method);
        let plain = cipher(share_key)
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| unreadable)?;
        String::from_utf8(plain)
            .map(Zeroizing::new)
            .map_err(|_| unreadable)
    }
}

fn cipher(share_key: &ShareKey) -> Aes256Gcm {
    Aes256Gcm::new(&Key::<Aes256Gcm>::from(*share_key.key))
}

/// Label, then each part length-prefixed so ("ab","c") ≠ ("a","bc").
fn associated_data(client_id: &str, backup_method: &str) -> Vec<u8> {
    let mut aad = AAD_LABEL.to_vec();
    for part in [client_id, backup_method] {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

/// The KV value of `custodian/{clientId}/{backupMethod}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealedShare {
    pub v: u8,
    pub kid: String,
    pub nonce: String,
    pub ciphertext: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
    const SHARE: &str = r#"{"share":"1234567890","pailler_p":"987654321"}"#;

    #[test]
    fn sealed_record_holds_no_clear_share_and_opens_back() {
        let ring = Keyring::parse(K1).unwrap();
        let record = ring.seal("client-a", "GDRIVE", SHARE).unwrap();
        let stored = serde_json::to_string(&record).unwrap();
        assert!(!stored.contains("1234567890") && !stored.contains("pailler"));
        assert_eq!(record.kid, "k1");
        assert_eq!(
            ring.open("client-a", "GDRIVE", &record).unwrap().as_str(),
            SHARE
        );
    }

    #[test]
    fn a_record_moved_to_another_client_or_method_does_not_open() {
        let ring = Keyring::parse(K1).unwrap();
        let record = ring.seal("client-a", "GDRIVE", SHARE).unwrap();
        assert_eq!(
            ring.open("client-b", "GDRIVE", &record),
            Err(Error::StoredRecordUnreadable)
        );
        assert_eq!(
            ring.open("client-a", "PASSWORD", &record),
            Err(Error::StoredRecordUnreadable)
        );
        assert_eq!(
            ring.open("client-aG", "DRIVE", &record),
            Err(Error::StoredRecordUnreadable)
        );
    }

    #[test]
    fn rotation_keeps_old_records_readable_and_seals_new_ones_under_the_new_key() {
        let old_ring = Keyring::parse(K1).unwrap();
        let old_record = old_ring.seal("c", "GDRIVE", SHARE).unwrap();
        let rotated = Keyring::parse(&format!("{K2}, {K1}")).unwrap();
        assert_eq!(
            rotated.open("c", "GDRIVE", &old_record).unwrap().as_str(),
            SHARE
        );
        let new_record = rotated.seal("c", "GDRIVE", SHARE).unwrap();
        assert_eq!(new_record.kid, "k2");
        // Once k1 is dropped its records are unreadable, not silently empty.
        let k2_only = Keyring::parse(K2).unwrap();
        assert_eq!(
            k2_only.open("c", "GDRIVE", &old_record),
            Err(Error::StoredRecordUnreadable)
        );
    }

    #[test]
    fn a_flipped_bit_is_detected() {
        let ring = Keyring::parse(K1).unwrap();
        let mut record = ring.seal_with_nonce("c", "GDRIVE", SHARE, [7; 12]).unwrap();
        let mut bytes = Base64UrlUnpadded::decode_vec(&record.ciphertext).unwrap();
        bytes[0] ^= 1;
        record.ciphertext = Base64UrlUnpadded::encode_string(&bytes);
        assert_eq!(
            ring.open("c", "GDRIVE", &record),
            Err(Error::StoredRecordUnreadable)
        );
    }

    #[test]
    fn malformed_key_lists_are_refused_without_echoing_them() {
        let short = "k1:AAECAw==";
        for bad in [
            "",
            "nokid",
            short,
            "k/1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            &format!("{K1},{K1}"),
        ] {
            let err = Keyring::parse(bad).unwrap_err();
            assert_eq!(err.code(), crate::error::ErrorCode::Misconfigured);
            assert!(!err.to_string().contains("AAECAw"));
        }
        assert!(!format!("{:?}", Keyring::parse(K1).unwrap()).contains("AAEC"));
    }
}
