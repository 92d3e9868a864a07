//! Workers KV access for the records in this module's layout. Every KV
//! failure is `StorageUnavailable` (503: the caller may retry); a value that
//! does not parse is `StoredRecordUnreadable`.
//!
//! The binding's methods are called directly through js-sys rather than
//! through `worker::kv`: its builders convert every value and option with
//! serde-wasm-bindgen (a string value goes through its generic `Serialize`
//! path, which also links float printing), which costs bundle size and time
//! on every call for nothing these plain-text records need.

use futures_util::future::join;
use js_sys::{Array, Function, Object, Promise, Reflect};
use serde::Serialize;
use serde::de::DeserializeOwned;
use worker::wasm_bindgen::{JsCast, JsValue};

use super::MethodIndex;
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

pub async fn get_json<T: DeserializeOwned>(kv: &Kv, key: &str) -> Result<Option<T>> {
    match get_text(kv, key).await? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
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

fn field(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

async fn list_keys(kv: &Kv, prefix: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut cursor: Option<JsValue> = None;
    loop {
        let options = Object::new();
        let set = |name: &str, value: &JsValue| {
            Reflect::set(&options, &JsValue::from_str(name), value)
                .map_err(|_| Error::Internal("list options"))
        };
        set("prefix", &JsValue::from_str(prefix))?;
        if let Some(cursor) = cursor.take() {
            set("cursor", &cursor)?;
        }
        let page = kv.call("list", &[&options]).await?;
        let keys: Array = field(&page, "keys")
            .dyn_into()
            .map_err(|_| Error::StorageUnavailable)?;
        names.extend(
            keys.iter()
                .filter_map(|key| field(&key, "name").as_string()),
        );
        let next = field(&page, "cursor");
        let complete = field(&page, "list_complete").as_bool().unwrap_or(true);
        match next.as_string() {
            Some(next_cursor) if !complete && !next_cursor.is_empty() => cursor = Some(next),
            _ => return Ok(names),
        }
    }
}

/// The client's method index, and what `list()` adds to it when the index
/// is not complete (see `store`).
pub async fn index(kv: &Kv, index_key: &str, prefix: &str) -> Result<(MethodIndex, Vec<String>)> {
    let index = MethodIndex::parse(get_text(kv, index_key).await?.as_deref())?;
    let listed = if index.needs_list() {
        list_keys(kv, prefix).await?
    } else {
        Vec::new()
    };
    Ok((index, listed))
}

/// Backup methods stored for a client: the index (which covers `list()`'s
/// lag for a fresh write) united with `list()` (which covers a method the
/// index lost when two stores of new methods for one client overlapped, as
/// Portal's per-curve webhooks do). Both reads run together.
pub async fn methods(kv: &Kv, index_key: &str, prefix: &str) -> Result<Vec<String>> {
    let (index, listed) = join(get_text(kv, index_key), list_keys(kv, prefix)).await;
    Ok(MethodIndex::parse(index?.as_deref())?.methods(&listed?, prefix))
}

/// Writes the complete index naming `method`, unless it already does.
/// Part of the store: a failure fails the request, so every stored record
/// stays reachable from a complete index.
pub async fn remember_method(
    kv: &Kv,
    (index, listed): &(MethodIndex, Vec<String>),
    index_key: &str,
    prefix: &str,
    method: &str,
) -> Result<()> {
    match index.with(method, listed, prefix) {
        Some(text) => put_text(kv, index_key, &text).await,
        None => Ok(()),
    }
}
