//! The envelope's base64url text through the platform's native codec
//! (`Uint8Array.prototype.toBase64` / `Uint8Array.fromBase64`: Chromium 140,
//! Firefox 133, Safari 18.2) where it exists; else `btoa` writes it and
//! base64ct in wasm reads it (exactly as strict as `crate::base64url`; tests
//! compare them). Native, the text
//! never crosses into wasm memory as a string, which is most of an
//! envelope's cost (11 KB of text per 8 KiB share).

use alloc::{string::String, vec::Vec};
use js_sys::{JsString, Uint8Array};
use wasm_bindgen::prelude::*;

use super::platform;
use crate::Error;
use base64ct::{Base64UrlUnpadded, Encoding};

/// Base64url text of a few bytes (a key, a credential id) through the
/// platform's encoder, so the package carries no base64 encoder of its own;
/// the JS copy of the bytes is zeroed after.
pub fn text_of(bytes: &[u8]) -> String {
    let copy = Uint8Array::from(bytes);
    let text = String::from(platform::to_text(&copy));
    copy.fill(0, 0, copy.length());
    text
}

/// `BackupKey::to_text`, through `text_of`.
pub fn key_text(key: &crate::envelope::BackupKey) -> zeroize::Zeroizing<String> {
    zeroize::Zeroizing::new(text_of(key.as_bytes()))
}

/// `envelope::envelope_to_text` of bytes in JS memory, as a JS string.
pub fn to_text(bytes: &Uint8Array) -> JsString {
    platform::to_text(bytes)
}

/// `envelope::envelope_from_text` for a JS string, into JS memory, exactly
/// as strict: the native decoder is lenient (whitespace, padding, stray low
/// bits), so its answer counts only if it encodes back to the very same
/// text; anything else (surrounding whitespace included) takes the wasm
/// path, which decides.
pub fn from_text(text: &JsValue) -> Result<Uint8Array, Error> {
    let Some(text) = text.dyn_ref::<JsString>() else {
        return Err(Error::InvalidInput("cipherText must be a string"));
    };
    let bytes = platform::from_text(text);
    if !bytes.is_undefined() {
        return Ok(bytes.unchecked_into());
    }
    let bytes = Base64UrlUnpadded::decode_vec(String::from(text).trim())
        .map_err(|_| Error::Malformed("ciphertext is not base64url"))?;
    Ok(bytes.as_slice().into())
}

/// `to_text` of bytes in wasm memory.
pub fn envelope_to_text(sealed: &[u8]) -> JsString {
    to_text(&Uint8Array::from(sealed))
}

/// `from_text`, into wasm memory.
pub fn envelope_from_text(text: &JsValue) -> Result<Vec<u8>, Error> {
    Ok(from_text(text)?.to_vec())
}
