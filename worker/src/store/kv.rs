//! Workers KV access for the records in this module's layout. Every KV
//! failure is `StorageUnavailable` (503: the caller may retry); a value that
//! does not parse is `StoredRecordUnreadable`.
//!
//! The binding's methods are called directly through js-sys rather than
//! through `worker::kv`: its builders convert every value and option with
//! serde-wasm-bindgen (a string value goes through its generic `Serialize`
//! path, which also links float printing), which costs bundle size and time
//! on every call for nothing these plain-text records need.

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use serde::Serialize;
use serde::de::DeserializeOwned;
use worker::wasm_bindgen::{JsCast, JsValue};

use crate::error::{Error, Result};

/// The KV namespace binding (`env.SHARES`).
pub struct Kv(Object);

impl Kv {
    pub fn binding(env: &worker::Env, name: &str) -> Result<Kv> {
        let env: &JsValue = env;
        Reflect::get(env, &JsValue::from_str(name))
            .ok()
            .and_then(|value| value.dyn_into::<Object>().ok())
            .map(Kv)
            .ok_or(Error::Misconfigured("KV binding SHARES is missing"))
    }

    async fn call(&self, method: &str, args: &[&JsValue]) -> Result<JsValue> {
        let function: Function = Reflect::get(&self.0, &JsValue::from_str(method))
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or(Error::Misconfigured(
                "KV binding SHARES is not a KV namespace",
            ))?;
        let args: Array = args.iter().copied().collect();
        let promise: Promise = function
            .apply(&self.0, &args)
            .map_err(|_| Error::StorageUnavailable)?
            .unchecked_into();
        promise.await.map_err(|_| Error::StorageUnavailable)
    }
}

pub async fn get_text(kv: &Kv, key: &str) -> Result<Option<String>> {
    // `get(key)` reads as text by default; a missing key is null.
    Ok(kv
        .call("get", &[&JsValue::from_str(key)])
        .await?
        .as_string())
}

/// The value's bytes (`get(key, "arrayBuffer")`): copied into wasm memory
/// as they are, where text would be decoded from UTF-8 by KV and encoded
/// back by wasm-bindgen, character by character, on every read.
pub async fn get_bytes(kv: &Kv, key: &str) -> Result<Option<Vec<u8>>> {
    let value = kv
        .call(
            "get",
            &[&JsValue::from_str(key), &JsValue::from_str("arrayBuffer")],
        )
        .await?;
    if value.is_null() || value.is_undefined() {
        return Ok(None);
    }
    Ok(Some(Uint8Array::new(&value).to_vec()))
}

pub async fn get_json<T: DeserializeOwned>(kv: &Kv, key: &str) -> Result<Option<T>> {
    match get_bytes(kv, key).await? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| Error::StoredRecordUnreadable),
    }
}

pub async fn put_json<T: Serialize>(kv: &Kv, key: &str, value: &T) -> Result<()> {
    let text = serde_json::to_string(value).map_err(|_| Error::Internal("record encoding"))?;
    put_text(kv, key, &text).await
}

pub async fn put_text(kv: &Kv, key: &str, value: &str) -> Result<()> {
    kv.call("put", &[&JsValue::from_str(key), &JsValue::from_str(value)])
        .await
        .map(drop)
}

pub async fn delete(kv: &Kv, key: &str) -> Result<()> {
    kv.call("delete", &[&JsValue::from_str(key)])
        .await
        .map(drop)
}
