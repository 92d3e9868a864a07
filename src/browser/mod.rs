//! The wasm-bindgen face: what a web wallet imports. Thin over the core;
//! every error reaches JS as an `Error` with a stable `code`.

pub mod base64;
mod drive;
mod flows;
mod http;
mod join;
mod js;
mod js_error;
mod options;
mod portal;
mod server;
pub mod webcrypto;

pub use js_error::{Failure, JsResult};

use alloc::{string::String, vec::Vec, string::ToString};
use js_sys::{JsString, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::Error;
use zeroize::Zeroizing;

use crate::envelope::{self, BackupKey, Context, Envelope, KeyKind, PasswordParams};
use options::Options;
pub use options::{
    BackupOptions, BackupResult, BackupSummaries, DeleteResult, MethodOptions, NotifyResult, RecoveredWallet,
    ServerOptions,
};

/// Backs up the client backup share: seals it, keeps the key in the user's
/// Google Drive (or derives it from a password), stores the ciphertext on the
/// app's server and tells Portal. Four round trips with Drive, two with a
/// password. If any step fails the previous backup still recovers; the
/// error's `step` says where it stopped.
#[wasm_bindgen(js_name = backupWallet)]
pub async fn backup_wallet(options: BackupOptions) -> Result<BackupResult, JsValue> {
    let plaintext = client_backup_bytes(&options)?;
    let options = Options::parse(&options)?;
    Ok(flows::backup(&options, plaintext).await?.unchecked_into())
}

/// Recovers the client backup share: the exact plaintext `backupWallet` was
/// given. Falls back to the last good key/ciphertext pair after a backup that
/// failed half-way (`fellBack`, `version`).
#[wasm_bindgen(js_name = recoverWallet)]
pub async fn recover_wallet(options: MethodOptions) -> Result<RecoveredWallet, JsValue> {
    let options = Options::parse(&options)?;
    Ok(flows::recover(&options).await?.unchecked_into())
}

/// The backups the server holds for this client, one per method.
#[wasm_bindgen(js_name = listBackups)]
pub async fn list_backups(options: ServerOptions) -> Result<BackupSummaries, JsValue> {
    let options = Options::parse(&options)?;
    Ok(flows::list_backups(&options).await?.unchecked_into())
}

/// Deletes a method's backup: the server's ciphertext and, for GDRIVE, the
/// key files in the user's Drive.
#[wasm_bindgen(js_name = deleteBackup)]
pub async fn delete_backup(options: MethodOptions) -> Result<DeleteResult, JsValue> {
    let options = Options::parse(&options)?;
    Ok(flows::delete_backup(&options).await?.unchecked_into())
}

/// Tells Portal again that the current backup's share and key are stored,
/// after `backupWallet` answered `portalNotified: false`.
#[wasm_bindgen(js_name = notifyPortal)]
pub async fn notify_portal(options: MethodOptions) -> Result<NotifyResult, JsValue> {
    let options = Options::parse(&options)?;
    Ok(flows::notify(&options).await?.unchecked_into())
}

/// `clientBackup` as bytes: a string is taken as UTF-8.
fn client_backup_bytes(options: &JsValue) -> Result<Vec<u8>, Error> {
    let value = js_sys::Reflect::get(options, &"clientBackup".into()).unwrap_or(JsValue::UNDEFINED);
    if let Some(text) = value.as_string() {
        return Ok(text.into_bytes());
    }
    match value.dyn_into::<Uint8Array>() {
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(_) => Err(Error::InvalidInput("clientBackup must be a string or a Uint8Array")),
    }
}

/// A sealed client backup share: the key goes to the user's Drive, the
/// ciphertext to the app's server.
#[wasm_bindgen(getter_with_clone)]
pub struct SealedShare {
    /// 32-byte key, base64url without padding.
    pub key: String,
    /// The envelope, base64url without padding.
    #[wasm_bindgen(js_name = cipherText)]
    pub cipher_text: JsString,
}

/// Seal `plaintext` under a fresh random key, bound to (clientId, backupMethod).
/// AES-GCM runs in WebCrypto.
#[wasm_bindgen(js_name = encryptShare)]
pub async fn encrypt_share(plaintext: Vec<u8>, client_id: String, backup_method: String) -> JsResult<SealedShare> {
    let context = Context::new(&client_id, &backup_method)?;
    let key = BackupKey::generate()?;
    let sealed = webcrypto::seal(&key, KeyKind::Random, &context, &plaintext).await?;
    Ok(SealedShare { key: key.to_text().to_string(), cipher_text: base64::envelope_to_text(&sealed) })
}

/// Open a ciphertext from `encryptShare` with its key.
#[wasm_bindgen(js_name = decryptShare)]
pub async fn decrypt_share(
    #[wasm_bindgen(unchecked_param_type = "string")] cipher_text: JsValue,
    key: String,
    client_id: String,
    backup_method: String,
) -> JsResult<Uint8Array> {
    let context = Context::new(&client_id, &backup_method)?;
    let key = BackupKey::from_text(&key)?;
    let sealed = base64::envelope_from_text(&cipher_text)?;
    Ok(webcrypto::open_to_js(&key, &Envelope::parse(&sealed)?, &context).await?)
}

/// Seal `plaintext` under a key derived from `password` (Argon2id, default
/// costs). Returns the envelope as base64url.
#[wasm_bindgen(js_name = encryptShareWithPassword)]
pub async fn encrypt_share_with_password(
    plaintext: Vec<u8>,
    password: String,
    client_id: String,
    backup_method: String,
) -> JsResult<JsString> {
    let password = Zeroizing::new(password);
    let context = Context::new(&client_id, &backup_method)?;
    if password.is_empty() {
        return Err(Error::InvalidInput("password must not be empty").into());
    }
    let mut salt = [0u8; envelope::SALT_LEN];
    getrandom::fill(&mut salt).map_err(|_| Error::Randomness)?;
    let params = PasswordParams::DEFAULT;
    let key = envelope::derive_password_key(&password, &params, &salt)?;
    let sealed = webcrypto::seal(&key, KeyKind::Password { params, salt }, &context, &plaintext).await?;
    Ok(base64::envelope_to_text(&sealed))
}

/// Open a password envelope. A wrong password throws `WRONG_PASSWORD`.
#[wasm_bindgen(js_name = decryptShareWithPassword)]
pub async fn decrypt_share_with_password(
    #[wasm_bindgen(unchecked_param_type = "string")] cipher_text: JsValue,
    password: String,
    client_id: String,
    backup_method: String,
) -> JsResult<Uint8Array> {
    let password = Zeroizing::new(password);
    let context = Context::new(&client_id, &backup_method)?;
    let sealed = base64::envelope_from_text(&cipher_text)?;
    Ok(webcrypto::open_with_password_to_js(&password, &Envelope::parse(&sealed)?, &context).await?)
}
