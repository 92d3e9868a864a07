//! The wasm-bindgen face: what a web wallet imports. Thin over the core;
//! every error reaches JS as an `Error` with a stable `code`.

mod js_error;

pub use js_error::JsResult;

use wasm_bindgen::prelude::*;

use crate::envelope::{self, BackupKey, Context, PasswordParams};

/// A sealed client backup share: the key goes to the user's Drive, the
/// ciphertext to the app's server.
#[wasm_bindgen(getter_with_clone)]
pub struct SealedShare {
    /// 32-byte key, base64url without padding.
    pub key: String,
    /// The envelope, base64url without padding.
    #[wasm_bindgen(js_name = cipherText)]
    pub cipher_text: String,
}

/// Seal `plaintext` under a fresh random key, bound to (clientId, backupMethod).
#[wasm_bindgen(js_name = encryptShare)]
pub fn encrypt_share(plaintext: &[u8], client_id: &str, backup_method: &str) -> JsResult<SealedShare> {
    let context = Context::new(client_id, backup_method)?;
    let key = BackupKey::generate()?;
    let sealed = envelope::seal(&key, &context, plaintext)?;
    Ok(SealedShare { key: key.to_text().to_string(), cipher_text: envelope::envelope_to_text(&sealed) })
}

/// Open a ciphertext from `encryptShare` with its key.
#[wasm_bindgen(js_name = decryptShare)]
pub fn decrypt_share(cipher_text: &str, key: &str, client_id: &str, backup_method: &str) -> JsResult<Vec<u8>> {
    let context = Context::new(client_id, backup_method)?;
    let key = BackupKey::from_text(key)?;
    let sealed = envelope::envelope_from_text(cipher_text)?;
    Ok(envelope::open(&key, &context, &sealed)?.to_vec())
}

/// Seal `plaintext` under a key derived from `password` (Argon2id, default
/// costs). Returns the envelope as base64url.
#[wasm_bindgen(js_name = encryptShareWithPassword)]
pub fn encrypt_share_with_password(
    plaintext: &[u8],
    password: &str,
    client_id: &str,
    backup_method: &str,
) -> JsResult<String> {
    let context = Context::new(client_id, backup_method)?;
    let sealed = envelope::seal_with_password(password, PasswordParams::DEFAULT, &context, plaintext)?;
    Ok(envelope::envelope_to_text(&sealed))
}

/// Open a password envelope. A wrong password throws `WRONG_PASSWORD`.
#[wasm_bindgen(js_name = decryptShareWithPassword)]
pub fn decrypt_share_with_password(
    cipher_text: &str,
    password: &str,
    client_id: &str,
    backup_method: &str,
) -> JsResult<Vec<u8>> {
    let context = Context::new(client_id, backup_method)?;
    let sealed = envelope::envelope_from_text(cipher_text)?;
    Ok(envelope::open_with_password(password, &context, &sealed)?.to_vec())
}
