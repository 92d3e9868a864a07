//! The wasm-bindgen face: what a web wallet imports. Thin over the core;
//! every error reaches JS as an `Error` with a stable `code`.
//!
//! The layers, bottom up; a module imports only from layers below it
//! (tests/layers.rs holds every `use super::` to this order):
//! 1. `js`, `platform`, `join`: JS values, the JS bridge, `join`;
//! 2. `base64`, `js_error`, `argon2`: envelope text, errors as JS, a
//!    password's key (Argon2id from its own wasm, loaded when first needed;
//!    below the services, as `webcrypto` opens password envelopes with it);
//! 3. `options`: what a wallet passes in;
//! 4. `results`: what it gets back, and the one way out to JS;
//! 5. `http`: the one request path, knowing no service;
//! 6. `webcrypto`, `passkey`, `drive`, `icloud`, `portal`, `server`: the
//!    services, each reading its answers into Rust values;
//! 7. `key_store`: Drive and iCloud as one cloud key store;
//! 8. `flows`: backup, recovery and housekeeping, step by step;
//! 9. `check`: `checkBackup`, a recovery beside the server's lists;
//! 10. this module: the exported functions.

pub mod argon2;
pub mod base64;
mod check;
mod drive;
mod flows;
mod http;
mod icloud;
mod join;
mod js;
mod js_error;
mod key_store;
mod options;
pub mod passkey;
mod platform;
mod portal;
mod results;
mod server;
pub mod webcrypto;

pub use js_error::{Failure, JsResult};

use alloc::string::String;
use alloc::vec::Vec;
use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};

use crate::Error;
use zeroize::Zeroizing;

use crate::envelope::{self, BackupKey, Context, KeyKind, PasswordParams};
use options::Options;
pub use options::{
    BackupCheck, BackupOptions, BackupResult, BackupSummaries, ChangeKeyOptions, CheckOptions, CustodianBackupSummaries, DeleteResult, MethodOptions, NotifyResult, RecoveredWallet,
    ServerOptions,
};

/// Backs up the client backup share: seals it, keeps the key in the user's
/// Google Drive (or derives it from a password or the user's passkey),
/// stores the ciphertext on the app's server and tells Portal. Four round
/// trips with Drive, three with a password or a passkey. If any step
/// fails the previous backup still recovers; the error's `step` says where
/// it stopped.
#[wasm_bindgen(js_name = backupWallet)]
pub async fn backup_wallet(options: BackupOptions) -> Result<BackupResult, JsValue> {
    let plaintext = client_backup_bytes(&options)?;
    let options = Options::parse(&options)?;
    Ok(flows::backup(&options, plaintext).await?.to_js().unchecked_into())
}

/// Recovers the client backup share: the exact plaintext `backupWallet` was
/// given. Falls back to the last good key/ciphertext pair after a backup that
/// failed half-way (`fellBack`, `version`).
#[wasm_bindgen(js_name = recoverWallet)]
pub async fn recover_wallet(options: MethodOptions) -> Result<RecoveredWallet, JsValue> {
    let options = Options::parse(&options)?;
    Ok(flows::recover(&options).await?.to_js().unchecked_into())
}

/// A new key for the same backup, with no new MPC ceremony: opens the last
/// confirmed backup in memory, seals the same share under a new key (a new
/// password, another passkey, or a fresh key in a new Drive file or iCloud
/// record), stores and confirms it as a new version, then removes the old
/// key file or record. Portal is asked nothing. Until the confirm the old key
/// keeps opening the backup; after it, only the new one does.
#[wasm_bindgen(js_name = changeBackupKey)]
pub async fn change_backup_key(options: ChangeKeyOptions) -> Result<BackupResult, JsValue> {
    let options = Options::parse(&options)?;
    Ok(flows::change_key(&options).await?.to_js().unchecked_into())
}

/// Whether this wallet could be recovered right now with `method`, and if
/// not, why: the client half on the server (confirmed, Portal told), its key
/// (Drive key file, passkey or password), the ciphertext opening in memory
/// (wiped after), Portal's half on the server and, when `clientBackup` is
/// given, the backup matching it. Never returns the plaintext.
#[wasm_bindgen(js_name = checkBackup)]
pub async fn check_backup(options: CheckOptions) -> Result<BackupCheck, JsValue> {
    let has_device_backup = !js::field(&options, "clientBackup").is_undefined();
    let device_backup = if has_device_backup { Some(client_backup_bytes(&options)?) } else { None };
    let options = Options::parse(&options)?;
    Ok(check::check(&options, device_backup).await?.to_js().unchecked_into())
}

/// The backups the server holds for this client, one per method.
#[wasm_bindgen(js_name = listBackups)]
pub async fn list_backups(options: ServerOptions) -> Result<BackupSummaries, JsValue> {
    let options = Options::parse(&options)?;
    Ok(results::backup_summaries(&flows::list(&options).await?).unchecked_into())
}

/// Portal's half: the custodian shares Portal delivered to the app's server
/// for this client, with when each came (never the shares themselves).
#[wasm_bindgen(js_name = listCustodianBackups)]
pub async fn list_custodian_backups(options: ServerOptions) -> Result<CustodianBackupSummaries, JsValue> {
    let options = Options::parse(&options)?;
    Ok(results::custodian_summaries(&flows::list_custodian(&options).await?).unchecked_into())
}

/// Deletes a method's backup: the server's ciphertext and, for GDRIVE, the
/// key files in the user's Drive.
#[wasm_bindgen(js_name = deleteBackup)]
pub async fn delete_backup(options: MethodOptions) -> Result<DeleteResult, JsValue> {
    let options = Options::parse(&options)?;
    Ok(flows::delete_backup(&options).await?.to_js().unchecked_into())
}

/// Tells Portal again that the current backup's share and key are stored,
/// after `backupWallet` answered `portalNotified: false`.
#[wasm_bindgen(js_name = notifyPortal)]
pub async fn notify_portal(options: MethodOptions) -> Result<NotifyResult, JsValue> {
    let options = Options::parse(&options)?;
    Ok(flows::notify(&options).await?.to_js().unchecked_into())
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

#[wasm_bindgen(typescript_custom_section)]
const TS_SEALED_SHARE: &'static str = r#"
/**
 * A sealed client backup share: the key goes to the user's Drive, the
 * ciphertext to the app's server.
 */
export interface SealedShare {
  /** 32-byte key, base64url without padding. */
  key: string;
  /** The envelope, base64url without padding. */
  cipherText: string;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "Promise<SealedShare>")]
    pub type SealedSharePromise;
    #[wasm_bindgen(typescript_type = "Promise<Uint8Array>")]
    pub type PlaintextPromise;
    #[wasm_bindgen(typescript_type = "Promise<string>")]
    pub type CipherTextPromise;
}

/// A string argument, or `INVALID_INPUT` naming it.
fn text(value: &JsValue, what: &'static str) -> Result<String, Error> {
    value.as_string().ok_or(Error::InvalidInput(what))
}

/// The bytes to seal, left in JS memory: a `Uint8Array` as it is, another
/// array-like copied into one.
fn plaintext_bytes(value: JsValue) -> Uint8Array {
    match value.dyn_into::<Uint8Array>() {
        Ok(bytes) => bytes,
        Err(other) => Uint8Array::new(&other),
    }
}

/// The envelope functions' (clientId, backupMethod) arguments.
#[inline(never)]
fn context_args(client_id: &JsValue, backup_method: &JsValue) -> Result<(String, String), Error> {
    const NOT_STRINGS: Error = Error::InvalidInput("clientId and backupMethod must be strings");
    Ok((client_id.as_string().ok_or(NOT_STRINGS)?, backup_method.as_string().ok_or(NOT_STRINGS)?))
}

/// Seal `plaintext` under a fresh random key, bound to (clientId, backupMethod).
/// AES-GCM runs in WebCrypto.
#[wasm_bindgen(js_name = encryptShare)]
pub fn encrypt_share(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | number[]")] plaintext: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] client_id: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] backup_method: &JsValue,
) -> SealedSharePromise {
    let sealing = context_args(client_id, backup_method).and_then(|(client_id, backup_method)| {
        webcrypto::seal_share(&Context::new(&client_id, &backup_method)?, &plaintext_bytes(plaintext.clone()))
    });
    promise(sealing).unchecked_into()
}

/// Open a ciphertext from `encryptShare` with its key.
#[wasm_bindgen(js_name = decryptShare)]
pub fn decrypt_share(
    #[wasm_bindgen(unchecked_param_type = "string")] cipher_text: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] key: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] client_id: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] backup_method: &JsValue,
) -> PlaintextPromise {
    let opening = context_args(client_id, backup_method).and_then(|(client_id, backup_method)| {
        let context = Context::new(&client_id, &backup_method)?;
        let key = BackupKey::from_text(&Zeroizing::new(text(key, "key must be a string")?))?;
        webcrypto::open_share(&key, &webcrypto::SealedBytes::from_text(cipher_text)?, &context)
    });
    promise(opening).unchecked_into()
}

/// The platform's promise, or one rejected with the error: like an `async`
/// function, these never throw.
fn promise(answer: Result<js_sys::Promise, Error>) -> js_sys::Promise {
    answer.unwrap_or_else(|error| js_sys::Promise::reject(&error.into()))
}

/// Seal `plaintext` under a key derived from `password` (Argon2id, default
/// costs). Returns the envelope as base64url. Argon2id runs in a small wasm
/// module of its own, loaded on the first call that needs a password;
/// AES-GCM in WebCrypto.
#[wasm_bindgen(js_name = encryptShareWithPassword)]
pub fn encrypt_share_with_password(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | number[]")] plaintext: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] password: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] client_id: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] backup_method: &JsValue,
) -> CipherTextPromise {
    with_password(password_args(password, client_id, backup_method), Some(plaintext_bytes(plaintext.clone())), JsValue::UNDEFINED)
        .unchecked_into()
}

/// Open a password envelope. A wrong password rejects with `WRONG_PASSWORD`.
#[wasm_bindgen(js_name = decryptShareWithPassword)]
pub fn decrypt_share_with_password(
    #[wasm_bindgen(unchecked_param_type = "string")] cipher_text: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] password: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] client_id: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] backup_method: &JsValue,
) -> PlaintextPromise {
    with_password(password_args(password, client_id, backup_method), None, cipher_text.clone()).unchecked_into()
}

/// Both password functions as one future: seal `plaintext`, or without one
/// open `cipher_text`. One `future_to_promise` in the wasm rather than one
/// per function (about 1 KB less). Errors reject, as the other functions'.
fn with_password(
    args: Result<(Zeroizing<String>, String, String), Error>,
    plaintext: Option<Uint8Array>,
    cipher_text: JsValue,
) -> js_sys::Promise {
    future_to_promise(async move {
        let (password, client_id, backup_method) = args?;
        let context = Context::new(&client_id, &backup_method)?;
        let Some(plaintext) = plaintext else {
            let sealed = webcrypto::SealedBytes::from_text(&cipher_text)?;
            return Ok(webcrypto::open_js_with_password(&password, &sealed, &context).await?.into());
        };
        let mut salt = [0u8; envelope::SALT_LEN];
        getrandom::fill(&mut salt).map_err(|_| Error::Randomness)?;
        let params = PasswordParams::DEFAULT;
        let key = argon2::password_key(&password, &params, &salt).await?;
        JsFuture::from(webcrypto::seal_text(&key, KeyKind::Password { params, salt }, &context, &plaintext)?).await
    })
}

/// The password functions' (password, clientId, backupMethod) arguments;
/// the password is wiped from Rust memory on drop.
fn password_args(password: &JsValue, client_id: &JsValue, backup_method: &JsValue) -> Result<(Zeroizing<String>, String, String), Error> {
    let password = Zeroizing::new(text(password, "password must be a string")?);
    let (client_id, backup_method) = context_args(client_id, backup_method)?;
    if password.is_empty() {
        return Err(Error::InvalidInput("password must not be empty"));
    }
    Ok((password, client_id, backup_method))
}
