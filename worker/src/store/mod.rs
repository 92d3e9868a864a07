//! What lives in Workers KV, and under which keys.
//!
//! ```text
//! custodian/{clientId}/{backupMethod}        sealed custodian share (at_rest::SealedShare)
//! custodian-index/{clientId}                 {"v":2,"methods":["GDRIVE", ...]}: methods ever stored
//! client/{clientId}/{backupMethod}           client backup versions (client::ClientBackupRecord)
//! client-index/{clientId}                    {"v":2,"methods":["GDRIVE", ...]}
//! client-notified/{clientId}/{backupMethod}  backupId last reported to Portal
//! ```
//! clientId and backupMethod match `[A-Za-z0-9_-]{1,128}` (see `validate`),
//! so `/` cannot occur inside them and a prefix `custodian/{clientId}/`
//! never matches another client. Each record is one KV value, so each write
//! replaces it atomically.
//!
//! The index keys say which methods a client has, so readers never need
//! KV `list()`: `list()` may lag a fresh write by up to a minute (a `get` at
//! the location that wrote is current at once), and it costs a prefix scan.
//! A store writes the index as part of the request and fails (5xx, the
//! caller retries) when it cannot, so an index in the current format
//! ([`MethodIndex::Complete`]) names every stored method. Indexes from
//! before that rule (a bare JSON array, written best effort) or none at all
//! are [`MethodIndex::Partial`]: readers add `list()` to them, and the next
//! store replaces them with a complete one. The notified marker is its own
//! key so the PATCH to Portal right after a PUT does not write the same key
//! twice within a second (KV allows 1 write/s/key).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub mod at_rest;
pub mod client;
#[cfg(target_arch = "wasm32")]
pub mod kv;

pub fn custodian_key(client_id: &str, backup_method: &str) -> String {
    format!("custodian/{client_id}/{backup_method}")
}

pub fn custodian_prefix(client_id: &str) -> String {
    format!("custodian/{client_id}/")
}

pub fn custodian_index_key(client_id: &str) -> String {
    format!("custodian-index/{client_id}")
}

pub fn client_backup_key(client_id: &str, backup_method: &str) -> String {
    format!("client/{client_id}/{backup_method}")
}

pub fn client_backup_prefix(client_id: &str) -> String {
    format!("client/{client_id}/")
}

pub fn client_index_key(client_id: &str) -> String {
    format!("client-index/{client_id}")
}

pub fn client_notified_key(client_id: &str, backup_method: &str) -> String {
    format!("client-notified/{client_id}/{backup_method}")
}

/// A client's method index (`custodian-index/…`, `client-index/…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodIndex {
    /// `{"v":2,"methods":[…]}`: written with every store. Overlapping stores
    /// of new methods can still lose one (read-extend-write), so readers
    /// unite it with `list()`; stores need no `list()`.
    Complete(Vec<String>),
    /// A pre-v2 array (written best effort) or no index: may miss methods,
    /// so readers add `list()`.
    Partial(Vec<String>),
}

#[derive(Serialize, Deserialize)]
struct IndexV2 {
    v: u8,
    methods: Vec<String>,
}

const INDEX_VERSION: u8 = 2;

impl MethodIndex {
    /// The index from its KV text (`None`: no index stored).
    pub fn parse(text: Option<&str>) -> Result<Self> {
        let Some(text) = text else {
            return Ok(MethodIndex::Partial(Vec::new()));
        };
        let unreadable = |_| Error::StoredRecordUnreadable;
        if text.trim_start().starts_with('[') {
            return serde_json::from_str(text)
                .map(MethodIndex::Partial)
                .map_err(unreadable);
        }
        match serde_json::from_str::<IndexV2>(text).map_err(unreadable)? {
            IndexV2 {
                v: INDEX_VERSION,
                methods,
            } => Ok(MethodIndex::Complete(methods)),
            _ => Err(Error::StoredRecordUnreadable),
        }
    }

    /// Whether readers must add `list()` to this index.
    pub fn needs_list(&self) -> bool {
        matches!(self, MethodIndex::Partial(_))
    }

    /// The methods to read: the index's, plus `list()`'s keys (each name
    /// after `prefix`) for a partial index; sorted, without duplicates.
    pub fn methods(&self, listed_keys: &[String], prefix: &str) -> Vec<String> {
        let (MethodIndex::Complete(index) | MethodIndex::Partial(index)) = self;
        let mut methods: Vec<String> = index
            .iter()
            .cloned()
            .chain(
                listed_keys
                    .iter()
                    .filter_map(|key| key.strip_prefix(prefix).map(str::to_owned)),
            )
            .filter(|method| crate::validate::is_safe_id(method))
            .collect();
        methods.sort_unstable();
        methods.dedup();
        methods
    }

    /// The complete index's text after storing `method`, or `None` when the
    /// index is complete and already names it (no write needed).
    /// `listed_keys` is what `list()` found (needed for a partial index only).
    pub fn with(&self, method: &str, listed_keys: &[String], prefix: &str) -> Option<String> {
        if let MethodIndex::Complete(index) = self
            && index.iter().any(|m| m == method)
        {
            return None;
        }
        let mut methods = self.methods(listed_keys, prefix);
        if !methods.iter().any(|m| m == method) {
            methods.push(method.to_owned());
            methods.sort_unstable();
        }
        serde_json::to_string(&IndexV2 {
            v: INDEX_VERSION,
            methods,
        })
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_clients_prefix_never_covers_another_client() {
        assert!(custodian_key("ab", "GDRIVE").starts_with(&custodian_prefix("ab")));
        assert!(!custodian_key("ab", "GDRIVE").starts_with(&custodian_prefix("a")));
        assert!(!client_backup_key("ab", "GDRIVE").starts_with(&client_backup_prefix("a")));
        assert_ne!(custodian_key("a", "b"), client_backup_key("a", "b"));
    }

    #[test]
    fn a_partial_index_is_read_with_list_a_complete_one_alone() {
        let prefix = custodian_prefix("c");
        let listed = vec![
            "custodian/c/GDRIVE".to_owned(),
            "custodian/c/ICLOUD".to_owned(),
        ];
        let legacy = MethodIndex::parse(Some(r#"["PASSWORD","GDRIVE"]"#)).unwrap();
        assert!(legacy.needs_list());
        assert_eq!(
            legacy.methods(&listed, &prefix),
            ["GDRIVE", "ICLOUD", "PASSWORD"]
        );
        let missing = MethodIndex::parse(None).unwrap();
        assert!(missing.needs_list());
        assert_eq!(missing.methods(&listed, &prefix), ["GDRIVE", "ICLOUD"]);
        let complete = MethodIndex::parse(Some(r#"{"v":2,"methods":["PASSWORD"]}"#)).unwrap();
        assert!(!complete.needs_list());
        assert_eq!(complete.methods(&[], &prefix), ["PASSWORD"]);
        assert_eq!(
            MethodIndex::parse(Some(r#"{"v":3,"methods":[]}"#)),
            Err(Error::StoredRecordUnreadable)
        );
        assert_eq!(
            MethodIndex::parse(Some("not json")),
            Err(Error::StoredRecordUnreadable)
        );
    }

    #[test]
    fn a_store_writes_a_complete_index_only_when_something_changes() {
        let prefix = client_backup_prefix("c");
        let complete = MethodIndex::parse(Some(r#"{"v":2,"methods":["GDRIVE"]}"#)).unwrap();
        assert_eq!(complete.with("GDRIVE", &[], &prefix), None);
        let grown = complete.with("ICLOUD", &[], &prefix).unwrap();
        assert_eq!(grown, r#"{"v":2,"methods":["GDRIVE","ICLOUD"]}"#);
        // A partial index is always rewritten, with what list() found folded in.
        let legacy = MethodIndex::parse(Some(r#"["GDRIVE"]"#)).unwrap();
        let upgraded = legacy
            .with("GDRIVE", &["client/c/PASSWORD".to_owned()], &prefix)
            .unwrap();
        assert_eq!(upgraded, r#"{"v":2,"methods":["GDRIVE","PASSWORD"]}"#);
        assert_eq!(
            MethodIndex::parse(Some(&upgraded)).unwrap(),
            MethodIndex::Complete(vec!["GDRIVE".into(), "PASSWORD".into()])
        );
    }
}
