//! Client backups: one KV value per (clientId, backupMethod) holding the
//! current version and, while current is unconfirmed, the last confirmed
//! one. The ciphertext is the browser's envelope: the Worker never holds
//! its key, so it is stored as sent.

use portal_backup::wire::{ClientBackup, ClientBackupSummary, ClientBackupVersions};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};

const RECORD_VERSION: u8 = 1;

/// A record of another version (say a newer Worker's, read after a
/// rollback) fails to parse, so it is `StoredRecordUnreadable` rather than
/// misread; sealed custodian records and the directory check theirs too.
fn known_record_version<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
    match u8::deserialize(deserializer)? {
        RECORD_VERSION => Ok(RECORD_VERSION),
        _ => Err(D::Error::custom("unknown client backup record version")),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StoredVersion {
    pub backup_id: String,
    pub cipher_text: String,
    pub backup_share_pair_ids: Vec<String>,
    pub created_at: String,
    /// As known when this record was written; the `client-notified` marker
    /// may say more (see [`ClientBackupRecord::fold_notified`]).
    pub portal_notified: bool,
    pub confirmed: bool,
}

/// The KV value of `client/{clientId}/{backupMethod}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClientBackupRecord {
    #[serde(deserialize_with = "known_record_version")]
    pub v: u8,
    pub current: StoredVersion,
    pub previous: Option<StoredVersion>,
}

impl ClientBackupRecord {
    /// A PUT: `new` becomes current. A confirmed current becomes previous;
    /// an unconfirmed one is dropped and previous (the last confirmed) stays,
    /// so a backup that fails half-way never loses the last good one.
    pub fn store(existing: Option<ClientBackupRecord>, new: StoredVersion) -> ClientBackupRecord {
        let previous = match existing {
            None => None,
            Some(old) if old.current.confirmed => Some(old.current),
            Some(old) => old.previous,
        };
        ClientBackupRecord {
            v: RECORD_VERSION,
            current: new,
            previous,
        }
    }

    /// The client says the whole backup finished: current is the one to
    /// recover from, the fallback is no longer needed. `Ok(false)` means
    /// nothing changed (already confirmed), so no KV write is needed.
    pub fn confirm(&mut self, backup_id: &str) -> Result<bool> {
        if self.current.backup_id != backup_id {
            return Err(Error::NotCurrent);
        }
        let changed = !self.current.confirmed || self.previous.is_some();
        self.current.confirmed = true;
        self.previous = None;
        Ok(changed)
    }

    /// Applies the `client-notified` marker (the backupId last reported to
    /// Portal) to the versions it names.
    pub fn fold_notified(&mut self, notified_backup_id: Option<&str>) {
        let Some(notified) = notified_backup_id else {
            return;
        };
        for version in core::iter::once(&mut self.current).chain(self.previous.as_mut()) {
            if version.backup_id == notified {
                version.portal_notified = true;
            }
        }
    }

    pub fn versions(&self, client_id: &str, backup_method: &str) -> ClientBackupVersions {
        ClientBackupVersions {
            client_id: client_id.into(),
            current: self.current.with_cipher_text(backup_method),
            previous: self
                .previous
                .as_ref()
                .map(|v| v.with_cipher_text(backup_method)),
        }
    }
}

impl StoredVersion {
    pub fn summary(&self, backup_method: &str) -> ClientBackupSummary {
        ClientBackupSummary {
            backup_method: backup_method.into(),
            backup_id: self.backup_id.clone(),
            backup_share_pair_ids: self.backup_share_pair_ids.clone(),
            size: self.cipher_text.len() as u64,
            created_at: self.created_at.clone(),
            portal_notified: self.portal_notified,
            confirmed: self.confirmed,
        }
    }

    fn with_cipher_text(&self, backup_method: &str) -> ClientBackup {
        ClientBackup {
            summary: self.summary(backup_method),
            cipher_text: self.cipher_text.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(id: &str) -> StoredVersion {
        StoredVersion {
            backup_id: id.into(),
            cipher_text: format!("ct-{id}"),
            backup_share_pair_ids: vec!["p".into()],
            created_at: "2026-01-01T00:00:00.000Z".into(),
            portal_notified: false,
            confirmed: false,
        }
    }

    #[test]
    fn a_failed_backup_never_loses_the_last_confirmed_one() {
        let mut record = ClientBackupRecord::store(None, version("v1"));
        assert_eq!(record.previous, None);
        record.confirm("v1").unwrap();
        // v2 is stored but never confirmed: v1 stays as the fallback.
        let record = ClientBackupRecord::store(Some(record), version("v2"));
        assert_eq!(record.current.backup_id, "v2");
        assert_eq!(record.previous.as_ref().unwrap().backup_id, "v1");
        // v3 replaces the unconfirmed v2; v1 is still the fallback.
        let mut record = ClientBackupRecord::store(Some(record), version("v3"));
        assert_eq!(record.previous.as_ref().unwrap().backup_id, "v1");
        record.confirm("v3").unwrap();
        assert_eq!(record.previous, None);
        assert!(record.current.confirmed);
    }

    #[test]
    fn confirm_only_names_the_current_version() {
        let record = ClientBackupRecord::store(None, version("v1"));
        let mut record = ClientBackupRecord::store(Some(record), version("v2"));
        assert_eq!(record.confirm("v1"), Err(Error::NotCurrent));
        assert_eq!(record.confirm("v2"), Ok(true));
        assert_eq!(record.confirm("v2"), Ok(false));
    }

    /// Found by the property tests: a `"v":2` record was served as if it
    /// were version 1.
    #[test]
    fn a_record_of_another_version_is_unreadable() {
        let record = ClientBackupRecord::store(None, version("v1"));
        let text = serde_json::to_string(&record).unwrap();
        assert!(serde_json::from_str::<ClientBackupRecord>(&text).is_ok());
        for other in [0, 2, 255] {
            let text = text.replace(r#""v":1"#, &format!(r#""v":{other}"#));
            assert!(serde_json::from_str::<ClientBackupRecord>(&text).is_err(), "v {other}");
        }
    }

    #[test]
    fn the_notified_marker_marks_the_version_it_names() {
        let mut first = ClientBackupRecord::store(None, version("v1"));
        first.confirm("v1").unwrap();
        let mut record = ClientBackupRecord::store(Some(first), version("v2"));
        record.fold_notified(Some("v1"));
        assert!(record.previous.as_ref().unwrap().portal_notified);
        assert!(!record.current.portal_notified);
        record.fold_notified(Some("v2"));
        assert!(record.current.portal_notified);
        let summary = record.current.summary("GDRIVE");
        assert_eq!(summary.size, 5);
        assert_eq!(summary.backup_method, "GDRIVE");
    }
}
