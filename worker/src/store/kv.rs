//! Workers KV access for the records in this module's layout. Every KV
//! failure is `StorageUnavailable` (503: the caller may retry); a value that
//! does not parse is `StoredRecordUnreadable`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use worker::kv::KvStore;

use crate::error::{Error, Result};

pub async fn get_text(kv: &KvStore, key: &str) -> Result<Option<String>> {
    kv.get(key)
        .text()
        .await
        .map_err(|_| Error::StorageUnavailable)
}

pub async fn get_json<T: DeserializeOwned>(kv: &KvStore, key: &str) -> Result<Option<T>> {
    match get_text(kv, key).await? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|_| Error::StoredRecordUnreadable),
    }
}

pub async fn put_json<T: Serialize>(kv: &KvStore, key: &str, value: &T) -> Result<()> {
    let text = serde_json::to_string(value).map_err(|_| Error::Internal("record encoding"))?;
    put_text(kv, key, &text).await
}

pub async fn put_text(kv: &KvStore, key: &str, value: &str) -> Result<()> {
    kv.put(key, value)
        .map_err(|_| Error::StorageUnavailable)?
        .execute()
        .await
        .map_err(|_| Error::StorageUnavailable)
}

pub async fn delete(kv: &KvStore, key: &str) -> Result<()> {
    kv.delete(key).await.map_err(|_| Error::StorageUnavailable)
}

async fn list_keys(kv: &KvStore, prefix: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut cursor = None;
    loop {
        let mut list = kv.list().prefix(prefix.to_owned());
        if let Some(cursor) = cursor.take() {
            list = list.cursor(cursor);
        }
        let page = list
            .execute()
            .await
            .map_err(|_| Error::StorageUnavailable)?;
        names.extend(page.keys.into_iter().map(|key| key.name));
        match page.cursor {
            Some(next) if !page.list_complete && !next.is_empty() => cursor = Some(next),
            _ => return Ok(names),
        }
    }
}

/// Backup methods stored for a client: index ∪ `list()` (see `store`).
pub async fn methods(kv: &KvStore, index_key: &str, prefix: &str) -> Result<Vec<String>> {
    let index: Vec<String> = get_json(kv, index_key).await?.unwrap_or_default();
    let listed = list_keys(kv, prefix).await?;
    Ok(super::methods_to_read(&index, &listed, prefix))
}

/// Records `method` in the client's index. Best effort: the record itself is
/// already stored and `list()` finds it once KV catches up, so a failure
/// here (e.g. two methods within a second) must not fail the request.
pub async fn remember_method(kv: &KvStore, index_key: &str, method: &str) {
    let index: Vec<String> = match get_json(kv, index_key).await {
        Ok(index) => index.unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    if let Some(next) = super::index_with(&index, method) {
        let _ = put_json(kv, index_key, &next).await;
    }
}
