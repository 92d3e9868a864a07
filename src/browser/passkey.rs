//! The PASSKEY method's key: the user's own passkey evaluates the WebAuthn
//! PRF extension inside the authenticator, WebCrypto's HKDF-SHA-256 turns
//! that into the AES key. No server, the app's or Portal's, ever holds it;
//! a synced passkey carries it to a new device.
//!
//! The PRF salt (`envelope::passkey_prf_salt`) binds the key to the relying
//! party id, the client and the method; it and the credential id sit in
//! the envelope's authenticated header, so recovery reads them back. The
//! ceremony, the salt and HKDF run in one JS call (`platform::passkey_key`,
//! held to the native definitions by tests/browser_webcrypto.rs): one await.

use alloc::string::String;

use base64ct::{Base64UrlUnpadded, Encoding};
use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use zeroize::Zeroizing;

use super::options::Options;
use super::{base64, js, platform};
use crate::envelope::{BackupKey, Context, KeyKind};
use crate::{Error, ErrorCode};

fn failure(code: ErrorCode, message: &str) -> Error {
    Error::remote(code, message, None)
}

fn prf_unsupported() -> Error {
    failure(
        ErrorCode::PasskeyPrfUnsupported,
        "passkey: this browser or authenticator cannot derive a key (no WebAuthn PRF); back up with GDRIVE or PASSWORD instead",
    )
}

/// A rejected ceremony: the user said no (or no passkey of this backup is
/// on the device, which WebAuthn does not tell apart), no PRF output, or
/// the browser refused for another reason (e.g. an `rpId` the page may not use).
fn ceremony_error(error: JsValue) -> Error {
    match js::string(&error, "name").as_deref() {
        Some("NotAllowedError" | "AbortError") => {
            failure(ErrorCode::PasskeyCancelled, "passkey: cancelled, or this backup's passkey is not on this device")
        }
        Some("NotSupportedError") => prf_unsupported(),
        Some("TimeoutError") => failure(ErrorCode::PasskeyTimeout, "passkey: nobody answered the passkey prompt in time (passkeyTimeoutMs)"),
        _ => failure(ErrorCode::PasskeyFailed, &["passkey: ", &js::string(&error, "message").unwrap_or_default()].concat()),
    }
}

/// One ceremony: `get` with `credential_id`, or `create` a passkey without
/// one. The key and the envelope's key kind (the credential that answered,
/// the PRF salt: `prf_salt`, or this app's, client's and method's).
/// `options`: the caller's options object (`rpId`, `userDisplayName`).
pub async fn evaluate(
    options: &JsValue,
    context: &Context<'_>,
    credential_id: Option<&[u8]>,
    prf_salt: Option<&[u8]>,
) -> Result<(BackupKey, KeyKind), Error> {
    let (id, salt) = (credential_id.map(Uint8Array::from), prf_salt.map(Uint8Array::from));
    let answer = platform::passkey_key(options, context.client_id, context.backup_method, id, salt);
    if answer.is_null() {
        return Err(prf_unsupported());
    }
    let answer = JsFuture::from(js_sys::Promise::from(answer)).await.map_err(ceremony_error)?;
    // key (32) || PRF salt (32) || credential id; the key wiped from both copies after use.
    let bytes = answer.unchecked_into::<Uint8Array>();
    let answer = Zeroizing::new(bytes.to_vec());
    bytes.fill(0, 0, 32);
    let (key, rest) = answer.split_first_chunk::<32>().ok_or_else(prf_unsupported)?;
    let (prf_salt, credential_id) = rest.split_first_chunk::<32>().ok_or_else(prf_unsupported)?;
    let kind = KeyKind::Passkey { credential_id: credential_id.to_vec(), prf_salt: *prf_salt };
    kind.check()?;
    Ok((BackupKey::from_bytes(*key), kind))
}

/// Backup: the key and the envelope's key kind, from the passkey named by
/// `credentialId` or, without it, a new one. Nothing is stored anywhere.
pub async fn backup_key(options: &Options, context: &Context<'_>) -> Result<(BackupKey, KeyKind), Error> {
    let requested = match js::string(&options.raw, "credentialId") {
        Some(text) => Some(
            Base64UrlUnpadded::decode_vec(text.trim()).map_err(|_| Error::InvalidInput("credentialId must be base64url"))?,
        ),
        None => None,
    };
    evaluate(&options.raw, context, requested.as_deref(), None).await
}

/// The key of a stored passkey envelope of key kind `kind`: one `get` with
/// the credential and PRF salt its header names. Recovery uses it, and so
/// can anything else that must open one. Another passkey's PRF output
/// gives another key, which AES-GCM refuses: `CANNOT_DECRYPT`.
pub async fn envelope_key(options: &Options, context: &Context<'_>, kind: &KeyKind) -> Result<BackupKey, Error> {
    let KeyKind::Passkey { credential_id, prf_salt } = kind else {
        return Err(Error::InvalidInput("this backup is not protected by a passkey"));
    };
    Ok(evaluate(&options.raw, context, Some(credential_id), Some(prf_salt)).await?.0)
}

/// The credential id of a passkey key kind as base64url text (what
/// `credentialId` takes and results carry); `None` for other kinds.
pub fn credential_id_text(kind: &KeyKind) -> Option<String> {
    match kind {
        KeyKind::Passkey { credential_id, .. } => Some(base64::text_of(credential_id)),
        _ => None,
    }
}
