//! Where a client's backups live, and the one rule that makes them hold on
//! Cloudflare and not only in Miniflare:
//!
//! - **KV holds only immutable blobs**: sealed custodian shares and client
//!   envelopes. Each is written once, under a fresh key that nothing reads
//!   before it is named.
//! - **Everything that changes lives in the client's Durable Object**
//!   ([`object`], one per clientId): which client version is current and
//!   which is previous, confirmed, Portal notified, the custodian methods
//!   and their receivedAt. Store, confirm, notify, delete and a custodian
//!   delivery are each one transaction in the object. No KV key is ever
//!   written twice (a blob's delete waits in the [`trash`] until more than
//!   a second after its write).
//! - **A read takes its names from the object**, and the object is the one
//!   that reads (and writes) KV: the edge Worker has no KV binding, so no
//!   location's cached answer can stand in for it. A blob that is named but
//!   not yet readable is retried briefly, then the answer is 503: never a
//!   shorter list, never an older version than the object names.
//!
//! Why: Cloudflare's KV allows one write per second per key, caches `get`
//! answers (negative ones too) per location for up to a minute, and does
//! not promise read-your-writes; a Durable Object's storage is strongly
//! consistent and one object sees its client's requests in order. A key
//! that is written once and never read before it is named has no stale
//! value and no cached "not found" anywhere.
//!
//! ```text
//! KV  custodian/{clientId}/{backupMethod}/{version}  sealed custodian share (at_rest::SealedShare), written once by the object
//! KV  envelope/{clientId}/{backupMethod}/{backupId}  client envelope (cipherText as sent), written once by the object, then named
//! DO  BackupDirectory(clientId) "backups"           state::BackupState: the custodian directory, the client records,
//!                                                   the trash (blobs no longer named, each with when its delete is due)
//! ```
//! Read once and moved into the object on the client's first request, from
//! the layout before this one: KV `client/{clientId}/{backupMethod}` (both
//! versions with their ciphertexts in one value, rewritten on every change)
//! and `client-notified/{clientId}/{backupMethod}`; and the object's own
//! `directory` key (its custodian directory, before it held the client half).
//!
//! clientId, backupMethod and backupId match `[A-Za-z0-9_-]{1,128}` (see
//! `validate`), so `/` cannot occur inside them and one client's keys never
//! share a prefix with another's. Nothing is found with KV `list()`.

pub mod at_rest;
pub mod client;
pub mod custodian;
#[cfg(all(target_arch = "wasm32", feature = "object"))]
pub mod directory;
#[cfg(all(target_arch = "wasm32", feature = "object"))]
pub mod kv;
pub mod object;
pub mod state;
pub mod trash;

/// Where one delivery of a custodian share is kept; `version` is fresh per
/// delivery (see [`custodian`]).
pub fn custodian_share_key(client_id: &str, backup_method: &str, version: &str) -> String {
    format!("custodian/{client_id}/{backup_method}/{version}")
}

/// Where one version of a client backup's ciphertext is kept; `backup_id`
/// is fresh per PUT.
pub fn envelope_key(client_id: &str, backup_method: &str, backup_id: &str) -> String {
    format!("envelope/{client_id}/{backup_method}/{backup_id}")
}

/// The earlier layout's client record (read once to move it).
pub fn legacy_client_key(client_id: &str, backup_method: &str) -> String {
    format!("client/{client_id}/{backup_method}")
}

/// The earlier layout's marker of the backupId last reported to Portal.
pub fn legacy_notified_key(client_id: &str, backup_method: &str) -> String {
    format!("client-notified/{client_id}/{backup_method}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_clients_keys_never_cover_another_clients() {
        let version = custodian::version_from(&[7; 16]);
        assert!(!custodian_share_key("ab", "GDRIVE", &version).starts_with("custodian/a/"));
        assert!(!envelope_key("ab", "GDRIVE", "id").starts_with("envelope/a/"));
        assert!(!legacy_client_key("ab", "GDRIVE").starts_with("client/a/"));
        let keys = [
            custodian_share_key("a", "b", "c"),
            envelope_key("a", "b", "c"),
            legacy_client_key("a", "b"),
            legacy_notified_key("a", "b"),
        ];
        for (i, key) in keys.iter().enumerate() {
            for other in &keys[i + 1..] {
                assert_ne!(key, other);
            }
        }
    }
}
