//! What lives in Workers KV and in the per-client Durable Object, and under
//! which keys.
//!
//! ```text
//! KV   custodian/{clientId}/{backupMethod}/{version}  sealed custodian share (at_rest::SealedShare), written once
//! KV   client/{clientId}/{backupMethod}               client backup versions (client::ClientBackupRecord)
//! KV   client-notified/{clientId}/{backupMethod}      backupId last reported to Portal
//! DO   CustodianDirectory("{clientId}") "directory"   {"v":1,"methods":{"GDRIVE": "{version}", ...}}
//! ```
//! clientId and backupMethod match `[A-Za-z0-9_-]{1,128}` (see `validate`),
//! so `/` cannot occur inside them and one client's keys never share a
//! prefix with another's. Each record is one KV value, so each write
//! replaces it atomically.
//!
//! Nothing is found with KV `list()`: it may lag a write by a minute. A
//! client's custodian methods are named by its Durable Object
//! ([`custodian`]); its client backup methods are the closed set the browser
//! module supports ([`crate::validate::CLIENT_BACKUP_METHODS`]), read with
//! one `get` each. The notified marker is its own key so the PATCH to Portal
//! right after a PUT does not write the same key twice within a second (KV
//! allows 1 write/s/key).

pub mod at_rest;
pub mod client;
pub mod custodian;
#[cfg(target_arch = "wasm32")]
pub mod kv;

/// Where one delivery of a custodian share is kept; `version` is fresh per
/// delivery (see [`custodian`]).
pub fn custodian_share_key(client_id: &str, backup_method: &str, version: &str) -> String {
    format!("custodian/{client_id}/{backup_method}/{version}")
}

pub fn client_backup_key(client_id: &str, backup_method: &str) -> String {
    format!("client/{client_id}/{backup_method}")
}

pub fn client_notified_key(client_id: &str, backup_method: &str) -> String {
    format!("client-notified/{client_id}/{backup_method}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_clients_keys_never_cover_another_clients() {
        let version = custodian::version_from(&[7; 16]);
        assert!(!custodian_share_key("ab", "GDRIVE", &version).starts_with("custodian/a/"));
        assert!(!client_backup_key("ab", "GDRIVE").starts_with("client/a/"));
        assert_ne!(
            custodian_share_key("a", "b", &version),
            client_backup_key("a", "b")
        );
        assert_ne!(client_backup_key("a", "b"), client_notified_key("a", "b"));
    }
}
