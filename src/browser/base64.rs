//! The envelope's base64url text through the platform's native codec
//! (`Uint8Array.prototype.toBase64` / `Uint8Array.fromBase64`: Chromium 140,
//! Firefox 133, Safari 18.2) where it exists, else `crate::base64url` in
//! wasm. Native, the text never crosses into wasm memory as a string, which
//! is most of an envelope's cost (11 KB of text per 8 KiB share). Only for
//! public bytes: keys stay with base64ct.

use alloc::{string::String, vec::Vec};
use js_sys::{JsString, Uint8Array};
use wasm_bindgen::prelude::*;

use super::js;
use crate::Error;
use base64ct::{Base64UrlUnpadded, Encoding};

#[wasm_bindgen]
extern "C" {
    /// A `Uint8Array`, seen only for the method below.
    type Base64Bytes;
    // `catch`: older browsers lack these and throw a TypeError.
    #[wasm_bindgen(method, catch, js_name = toBase64)]
    fn to_base64(this: &Base64Bytes, options: &JsValue) -> Result<JsString, JsValue>;
    #[wasm_bindgen(js_namespace = Uint8Array, catch, js_name = fromBase64)]
    fn from_base64(text: &JsString, options: &JsValue) -> Result<Uint8Array, JsValue>;
}

fn options(omit_padding: bool) -> JsValue {
    let options = js::object(&[("alphabet", "base64url".into())]);
    if omit_padding {
        let _ = js_sys::Reflect::set(&options, &"omitPadding".into(), &true.into());
    }
    options
}

fn native_encode(bytes: &Uint8Array) -> Option<JsString> {
    bytes.unchecked_ref::<Base64Bytes>().to_base64(&options(true)).ok()
}

/// `envelope::envelope_to_text` of bytes in JS memory, as a JS string.
pub fn to_text(bytes: &Uint8Array) -> JsString {
    match native_encode(bytes) {
        Some(text) => text,
        None => Base64UrlUnpadded::encode_string(&bytes.to_vec()).into(),
    }
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
    if let Ok(bytes) = from_base64(text, &options(false)) {
        if native_encode(&bytes).is_some_and(|canonical| &canonical == text) {
            return Ok(bytes);
        }
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
