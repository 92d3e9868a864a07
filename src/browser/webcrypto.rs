//! AES-256-GCM through the browser's WebCrypto: native speed and no AES
//! code in the package. The envelope's header and associated data come from
//! `crate::envelope`, so the bytes equal the native `aes-gcm` path (a
//! browser test reproduces the known-answer vectors through here).
//!
//! The bulk of an envelope never enters wasm memory: the plaintext goes from
//! the caller's buffer to WebCrypto, the ciphertext from WebCrypto's buffer
//! to the base64url text, and back. Only the header (at most
//! `MAX_HEADER_LEN` bytes) is read or written in Rust.

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Object, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

use super::{base64, js};
use crate::Error;
use crate::envelope::{self, BackupKey, Context, Envelope, Header, KeyKind, MAX_HEADER_LEN, NONCE_LEN};

fn subtle() -> Result<SubtleCrypto, Error> {
    let subtle = js::field(&js::field(&js_sys::global(), "crypto"), "subtle");
    // `crypto.subtle` is undefined outside secure contexts (plain http pages
    // other than localhost).
    if subtle.is_undefined() { Err(unavailable()) } else { Ok(subtle.unchecked_into()) }
}

fn unavailable() -> Error {
    Error::Remote {
        code: "WEBCRYPTO_UNAVAILABLE",
        message: "crypto.subtle is unavailable: serve the page over https or localhost".into(),
        status: None,
    }
}

/// WebCrypto, the key imported and the algorithm parameters built: what
/// one AES-GCM call needs.
async fn aes_gcm(
    key: &BackupKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
) -> Result<(SubtleCrypto, CryptoKey, Object), Error> {
    let subtle = subtle()?;
    let usages: Array = ["encrypt", "decrypt"].into_iter().map(JsValue::from).collect();
    let raw = Uint8Array::from(key.as_bytes().as_slice());
    let promise = subtle.import_key_with_str("raw", &raw, "AES-GCM", false, &usages).map_err(|_| unavailable())?;
    let crypto_key = JsFuture::from(promise).await.map_err(|_| unavailable())?.unchecked_into();
    let algorithm = js::object(&[
        ("name", "AES-GCM".into()),
        ("iv", Uint8Array::from(nonce.as_slice()).into()),
        ("additionalData", Uint8Array::from(aad).into()),
    ]);
    Ok((subtle, crypto_key, algorithm.unchecked_into()))
}

/// Seals `plaintext` (a JS buffer: it is not copied into wasm memory) into
/// the envelope's bytes, in JS memory.
async fn seal_js(
    key: &BackupKey,
    kind: KeyKind,
    nonce: &[u8; NONCE_LEN],
    context: &Context<'_>,
    plaintext: &Uint8Array,
) -> Result<Uint8Array, Error> {
    if plaintext.length() as usize > envelope::MAX_PLAINTEXT_LEN {
        return Err(Error::InvalidInput("plaintext larger than 4 MiB"));
    }
    let header = envelope::encode_header(&kind, nonce);
    let (subtle, crypto_key, algorithm) = aes_gcm(key, nonce, &envelope::associated_data(&header, context)).await?;
    let promise =
        subtle.encrypt_with_object_and_js_u8_array(&algorithm, &crypto_key, plaintext).map_err(|_| unavailable())?;
    let ciphertext = JsFuture::from(promise).await.map_err(|_| Error::InvalidInput("WebCrypto refused to encrypt"))?;
    // The header, then WebCrypto's ciphertext and tag where they are.
    let ciphertext = Uint8Array::new(&ciphertext);
    let sealed = Uint8Array::new_with_length((header.len() as u32) + ciphertext.length());
    sealed.subarray(0, header.len() as u32).copy_from(&header);
    sealed.set(&ciphertext, header.len() as u32);
    Ok(sealed)
}

/// Seals like `envelope::seal` / `seal_with_password` with a fresh nonce,
/// into the envelope's base64url text: a JS string, as it goes into JSON
/// and back to a wallet.
pub async fn seal_to_text(
    key: &BackupKey,
    kind: KeyKind,
    context: &Context<'_>,
    plaintext: &Uint8Array,
) -> Result<JsValue, Error> {
    let sealed = seal_js(key, kind, &envelope::random_nonce()?, context, plaintext).await?;
    Ok(base64::to_text(&sealed).into())
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
    Ok(seal_js(key, kind, nonce, context, &Uint8Array::from(plaintext)).await?.to_vec())
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

/// Opens `sealed` with `key`; the plaintext stays in WebCrypto's buffer.
/// Any failure is `CannotDecrypt`.
pub async fn open_js(key: &BackupKey, sealed: &SealedBytes, context: &Context<'_>) -> Result<Uint8Array, Error> {
    let aad = envelope::associated_data(&sealed.header_bytes, context);
    let (subtle, crypto_key, algorithm) = aes_gcm(key, &sealed.header.nonce, &aad).await?;
    let promise = subtle
        .decrypt_with_object_and_js_u8_array(&algorithm, &crypto_key, &sealed.sealed)
        .map_err(|_| unavailable())?;
    let plaintext = JsFuture::from(promise).await.map_err(|_| Error::CannotDecrypt)?;
    Ok(Uint8Array::new(&plaintext))
}

/// Opens a password envelope: Argon2id in Rust (WebCrypto has none), then
/// AES-GCM here. Any failure to authenticate is `WrongPassword`.
pub async fn open_js_with_password(
    password: &str,
    sealed: &SealedBytes,
    context: &Context<'_>,
) -> Result<Uint8Array, Error> {
    let KeyKind::Password { params, salt } = sealed.kind() else {
        return Err(Error::InvalidInput("this backup is not protected by a password"));
    };
    let key = envelope::derive_password_key(password, params, salt)?;
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
    let promise = subtle()?.digest_with_str_and_u8_array("SHA-256", &preimage).map_err(|_| unavailable())?;
    let digest = JsFuture::from(promise).await.map_err(|_| unavailable())?;
    Ok(crate::drive::key_file_name_from_digest(&Uint8Array::new(&digest).to_vec()))
}
