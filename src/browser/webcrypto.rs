//! AES-256-GCM through the browser's WebCrypto: native speed and no AES
//! code in the package. The envelope's header and associated data come from
//! `crate::envelope`, so the bytes equal the native `aes-gcm` path (a
//! browser test reproduces the known-answer vectors through here).

use alloc::{string::String, vec::Vec};
use js_sys::{Array, Object, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesGcmParams, CryptoKey, SubtleCrypto};

use crate::Error;
use crate::envelope::{self, BackupKey, Context, Envelope, KeyKind, NONCE_LEN};

fn subtle() -> Result<SubtleCrypto, Error> {
    let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into()).map_err(|_| unavailable())?;
    if crypto.is_undefined() {
        return Err(unavailable());
    }
    let subtle = js_sys::Reflect::get(&crypto, &"subtle".into()).map_err(|_| unavailable())?;
    // `crypto.subtle` is undefined outside secure contexts (plain http pages
    // other than localhost).
    if subtle.is_undefined() {
        return Err(unavailable());
    }
    Ok(subtle.unchecked_into())
}

fn unavailable() -> Error {
    Error::Remote {
        code: "WEBCRYPTO_UNAVAILABLE",
        message: "crypto.subtle is unavailable: serve the page over https or localhost".into(),
        status: None,
    }
}

async fn import_key(subtle: &SubtleCrypto, key: &BackupKey) -> Result<CryptoKey, Error> {
    let raw = Uint8Array::from(key.as_bytes().as_slice());
    let usages = Array::of2(&"encrypt".into(), &"decrypt".into());
    let promise = subtle.import_key_with_str("raw", &raw, "AES-GCM", false, &usages).map_err(|_| unavailable())?;
    Ok(JsFuture::from(promise).await.map_err(|_| unavailable())?.unchecked_into())
}

fn params(nonce: &[u8; NONCE_LEN], aad: &[u8]) -> AesGcmParams {
    let params = AesGcmParams::new("AES-GCM", &Uint8Array::from(nonce.as_slice()));
    params.set_additional_data_u8_array(&Uint8Array::from(aad));
    params.set_tag_length(128);
    params
}

/// Seals like `envelope::seal` / `seal_with_password`, with a fresh nonce.
pub async fn seal(key: &BackupKey, kind: KeyKind, context: &Context<'_>, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
    seal_with_nonce(key, kind, &envelope::random_nonce()?, context, plaintext).await
}

/// Only for known-answer tests: a fixed nonce must never be reused with a
/// real key. Every real path goes through `seal`.
#[doc(hidden)]
pub async fn seal_with_nonce(
    key: &BackupKey,
    kind: KeyKind,
    nonce: &[u8; NONCE_LEN],
    context: &Context<'_>,
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    if plaintext.len() > envelope::MAX_PLAINTEXT_LEN {
        return Err(Error::InvalidInput("plaintext larger than 4 MiB"));
    }
    let subtle = subtle()?;
    let crypto_key = import_key(&subtle, key).await?;
    let mut sealed = envelope::encode_header(&kind, nonce);
    let aad = envelope::associated_data(&sealed, context);
    let algorithm: Object = params(nonce, &aad).into();
    let promise =
        subtle.encrypt_with_object_and_u8_array(&algorithm, &crypto_key, plaintext).map_err(|_| unavailable())?;
    let ciphertext = JsFuture::from(promise).await.map_err(|_| Error::InvalidInput("WebCrypto refused to encrypt"))?;
    // Straight from WebCrypto's buffer behind the header: one copy.
    let ciphertext = Uint8Array::new(&ciphertext);
    let header_len = sealed.len();
    sealed.resize(header_len + ciphertext.length() as usize, 0);
    ciphertext.copy_to(&mut sealed[header_len..]);
    Ok(sealed)
}

/// Opens a parsed envelope with `key`. Any failure is `CannotDecrypt`.
pub async fn open(key: &BackupKey, parsed: &Envelope<'_>, context: &Context<'_>) -> Result<Vec<u8>, Error> {
    Ok(open_to_js(key, parsed, context).await?.to_vec())
}

/// `open`, leaving the plaintext in WebCrypto's buffer: for callers that
/// hand it straight back to JS (no copy into wasm memory and out again).
pub async fn open_to_js(key: &BackupKey, parsed: &Envelope<'_>, context: &Context<'_>) -> Result<Uint8Array, Error> {
    let subtle = subtle()?;
    let crypto_key = import_key(&subtle, key).await?;
    let algorithm: Object = params(&parsed.nonce, &parsed.associated_data(context)).into();
    let promise =
        subtle.decrypt_with_object_and_u8_array(&algorithm, &crypto_key, parsed.sealed()).map_err(|_| unavailable())?;
    let plaintext = JsFuture::from(promise).await.map_err(|_| Error::CannotDecrypt)?;
    Ok(Uint8Array::new(&plaintext))
}

/// Opens a password envelope: Argon2id in Rust (WebCrypto has none), then
/// AES-GCM here. Any failure to authenticate is `WrongPassword`.
pub async fn open_with_password(password: &str, parsed: &Envelope<'_>, context: &Context<'_>) -> Result<Vec<u8>, Error> {
    Ok(open_with_password_to_js(password, parsed, context).await?.to_vec())
}

/// `open_with_password`, leaving the plaintext in WebCrypto's buffer.
pub async fn open_with_password_to_js(
    password: &str,
    parsed: &Envelope<'_>,
    context: &Context<'_>,
) -> Result<Uint8Array, Error> {
    let KeyKind::Password { params, salt } = &parsed.kind else {
        return Err(Error::InvalidInput("this backup is not protected by a password"));
    };
    let key = envelope::derive_password_key(password, params, salt)?;
    open_to_js(&key, parsed, context).await.map_err(|error| match error {
        Error::CannotDecrypt => Error::WrongPassword,
        other => other,
    })
}

/// The Drive key file's name: `crate::drive::key_file_name` with WebCrypto's
/// SHA-256 (a browser test checks both give the same name).
pub async fn key_file_name(custodian_id: &str, client_id: &str) -> Result<String, Error> {
    let preimage = crate::drive::key_file_name_preimage(custodian_id, client_id)?;
    let promise = subtle()?.digest_with_str_and_u8_array("SHA-256", &preimage).map_err(|_| unavailable())?;
    let digest = JsFuture::from(promise).await.map_err(|_| unavailable())?;
    Ok(crate::drive::key_file_name_from_digest(&Uint8Array::new(&digest).to_vec()))
}
