//! What lives in Workers KV, and under which keys.
//!
//! ```text
//! custodian/{clientId}/{backupMethod}        sealed custodian share (at_rest::SealedShare)
//! custodian-index/{clientId}                 ["GDRIVE", ...]: methods ever stored
//! client/{clientId}/{backupMethod}           client backup versions (client::ClientBackupRecord)
//! client-index/{clientId}                    ["GDRIVE", ...]
//! client-notified/{clientId}/{backupMethod}  backupId last reported to Portal
//! ```
//! clientId and backupMethod match `[A-Za-z0-9_-]{1,128}` (see `validate`),
//! so `/` cannot occur inside them and a prefix `custodian/{clientId}/`
//! never matches another client. Each record is one KV value, so each write
//! replaces it atomically.
//!
//! The index keys exist because KV `list()` may lag a fresh write by up to
//! a minute, while a `get` at the location that wrote is current at once;
//! readers take the union of index and `list()`. The notified marker is its
//! own key so the PATCH to Portal right after a PUT does not write the same
//! key twice within a second (KV allows 1 write/s/key).

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

/// The backup methods a reader should look at: the index's and `list()`'s
/// (each key name after the prefix), sorted, without duplicates.
pub fn methods_to_read(index: &[String], listed_keys: &[String], prefix: &str) -> Vec<String> {
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
    methods.sort();
    methods.dedup();
    methods
}

/// The index after storing `method`, or `None` when it is already there
/// (no write needed).
pub fn index_with(index: &[String], method: &str) -> Option<Vec<String>> {
    if index.iter().any(|m| m == method) {
        return None;
    }
    let mut next = index.to_vec();
    next.push(method.to_owned());
    next.sort();
    Some(next)
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
    fn readers_see_the_union_of_index_and_list() {
        let prefix = custodian_prefix("c");
        let index = vec!["PASSWORD".to_owned(), "GDRIVE".to_owned()];
        let listed = vec![
            "custodian/c/GDRIVE".to_owned(),
            "custodian/c/ICLOUD".to_owned(),
        ];
        assert_eq!(
            methods_to_read(&index, &listed, &prefix),
            ["GDRIVE", "ICLOUD", "PASSWORD"]
        );
    }

    #[test]
    fn index_grows_only_when_a_method_is_new() {
        let index = vec!["GDRIVE".to_owned()];
        assert_eq!(index_with(&index, "GDRIVE"), None);
        assert_eq!(index_with(&index, "ICLOUD").unwrap(), ["GDRIVE", "ICLOUD"]);
    }
}
