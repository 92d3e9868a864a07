//! The envelope's known-answer vectors (tests/vectors/envelope-v1.json),
//! read by the native, browser and WebCrypto tests alike.

use portal_backup::envelope::{self, BackupKey, Context, KeyKind, PasswordParams};
use serde::Deserialize;

const VECTORS: &str = include_str!("../vectors/envelope-v1.json");

#[derive(Deserialize)]
struct VectorFile {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vector {
    pub name: String,
    pub client_id: String,
    pub backup_method: String,
    pub plaintext_hex: String,
    pub nonce_hex: String,
    /// Random-key vectors: the key as stored in Drive.
    pub key: Option<String>,
    /// Password vectors: password, cost parameters and salt.
    pub password: Option<String>,
    m_cost: Option<u32>,
    t_cost: Option<u32>,
    p_cost: Option<u8>,
    salt_hex: Option<String>,
    /// Passkey vectors: the relying party id, the authenticator's PRF output
    /// (fixed here), the credential id, the PRF salt and the HKDF-derived key.
    pub rp_id: Option<String>,
    pub prf_output_hex: Option<String>,
    credential_id_hex: Option<String>,
    prf_salt_hex: Option<String>,
    pub passkey_key_hex: Option<String>,
    pub envelope: String,
}

#[allow(dead_code)] // each test file uses its own subset
impl Vector {
    pub fn context(&self) -> Context<'_> {
        Context::new(&self.client_id, &self.backup_method).unwrap()
    }

    pub fn key_and_kind(&self) -> (BackupKey, KeyKind) {
        match (&self.key, &self.password) {
            (Some(key), None) => (BackupKey::from_text(key).unwrap(), KeyKind::Random),
            (None, None) => {
                let prf_output = hex::decode(self.prf_output_hex.as_ref().unwrap()).unwrap();
                let mut key = [0u8; 32];
                hkdf::Hkdf::<sha2::Sha256>::new(None, &prf_output).expand(envelope::PASSKEY_HKDF_INFO, &mut key).unwrap();
                assert_eq!(Some(hex::encode(key)), self.passkey_key_hex, "vector {}: HKDF-SHA-256 of the PRF output", self.name);
                let prf_salt = hex::decode(self.prf_salt_hex.as_ref().unwrap()).unwrap().try_into().unwrap();
                let rp_id = self.rp_id.as_deref().unwrap();
                assert_eq!(envelope::passkey_prf_salt(rp_id, &self.context()).unwrap(), prf_salt, "vector {}", self.name);
                let credential_id = hex::decode(self.credential_id_hex.as_ref().unwrap()).unwrap();
                (BackupKey::from_bytes(key), KeyKind::Passkey { credential_id, prf_salt })
            }
            (None, Some(password)) => {
                let params = PasswordParams {
                    m_cost: self.m_cost.unwrap(),
                    t_cost: self.t_cost.unwrap(),
                    p_cost: self.p_cost.unwrap(),
                };
                let salt: [u8; 16] = hex::decode(self.salt_hex.as_ref().unwrap()).unwrap().try_into().unwrap();
                (envelope::derive_password_key(password, &params, &salt).unwrap(), KeyKind::Password { params, salt })
            }
            _ => panic!("vector {} needs at most one of key and password", self.name),
        }
    }

    pub fn nonce(&self) -> [u8; 12] {
        hex::decode(&self.nonce_hex).unwrap().try_into().unwrap()
    }

    pub fn plaintext(&self) -> Vec<u8> {
        hex::decode(&self.plaintext_hex).unwrap()
    }
}

pub fn vectors() -> Vec<Vector> {
    let all = serde_json::from_str::<VectorFile>(VECTORS).unwrap().vectors;
    assert!(all.len() >= 6, "the vector file lost vectors");
    all
}
