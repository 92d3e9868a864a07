//! Client backups as the client's Durable Object holds them: per backup
//! method, the current version and, while current is unconfirmed, the last
//! confirmed one. Only names and facts live here; each version's ciphertext
//! (the browser's envelope: the Worker never holds its key) is a write-once
//! KV blob, `envelope/{clientId}/{method}/{backupId}` (see [`super`]).
//!
//! Every change is a pure function of the record that returns the versions
//! it stopped naming, so the object can hand their blobs to the trash.

use std::collections::BTreeMap;

use portal_backup::wire::{ClientBackup, ClientBackupSummary, ClientBackupVersions};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};
use crate::validate::{CLIENT_BACKUP_METHODS, is_safe_id};

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

/// One stored version, without its ciphertext.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoredVersion {
    pub backup_id: String,
    pub backup_share_pair_ids: Vec<String>,
    pub created_at: String,
    /// Length of the ciphertext text, as the summaries report it.
    pub size: u64,
    pub portal_notified: bool,
    pub confirmed: bool,
}

/// One method's versions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClientBackupRecord {
    pub current: StoredVersion,
    pub previous: Option<StoredVersion>,
}

/// Every client backup method of one client: the object's `client` key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientRecords {
    methods: BTreeMap<String, ClientBackupRecord>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientRecordsV1 {
    #[serde(deserialize_with = "known_record_version")]
    v: u8,
    methods: BTreeMap<String, ClientBackupRecord>,
}

impl ClientBackupRecord {
    /// A PUT: `new` becomes current. A confirmed current becomes previous;
    /// an unconfirmed one is dropped and previous (the last confirmed) stays,
    /// so a backup that fails half-way never loses the last good one.
    /// Returns the record and the backupId it no longer names, if any.
    pub fn store(
        existing: Option<ClientBackupRecord>,
        new: StoredVersion,
    ) -> (ClientBackupRecord, Option<String>) {
        let (previous, dropped) = match existing {
            None => (None, None),
            Some(old) if old.current.confirmed => {
                (Some(old.current), old.previous.map(|v| v.backup_id))
            }
            Some(old) => (old.previous, Some(old.current.backup_id)),
        };
        let record = ClientBackupRecord {
            current: new,
            previous,
        };
        (record, dropped)
    }

    /// The client says the whole backup finished: current is the one to
    /// recover from, the fallback is no longer needed. Returns the backupId
    /// it no longer names (the fallback), if any.
    pub fn confirm(&mut self, backup_id: &str) -> Result<Option<String>> {
        if self.current.backup_id != backup_id {
            return Err(Error::NotCurrent);
        }
        self.current.confirmed = true;
        Ok(self.previous.take().map(|v| v.backup_id))
    }

    /// Portal accepted `STORED_CLIENT_BACKUP_SHARE` for `backup_id`.
    pub fn mark_notified(&mut self, backup_id: &str) {
        for version in core::iter::once(&mut self.current).chain(self.previous.as_mut()) {
            if version.backup_id == backup_id {
                version.portal_notified = true;
            }
        }
    }

    /// Every backupId named, current first.
    pub fn backup_ids(&self) -> impl Iterator<Item = &str> {
        core::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .map(|v| v.backup_id.as_str())
    }

    /// The answer to `GET`, given the ciphertexts of current and previous.
    pub fn versions(
        &self,
        client_id: &str,
        backup_method: &str,
        current: String,
        previous: Option<String>,
    ) -> ClientBackupVersions {
        ClientBackupVersions {
            client_id: client_id.into(),
            current: self.current.with_cipher_text(backup_method, current),
            previous: self
                .previous
                .as_ref()
                .zip(previous)
                .map(|(v, text)| v.with_cipher_text(backup_method, text)),
        }
    }
}

impl StoredVersion {
    pub fn summary(&self, backup_method: &str) -> ClientBackupSummary {
        ClientBackupSummary {
            backup_method: backup_method.into(),
            backup_id: self.backup_id.clone(),
            backup_share_pair_ids: self.backup_share_pair_ids.clone(),
            size: self.size,
            created_at: self.created_at.clone(),
            portal_notified: self.portal_notified,
            confirmed: self.confirmed,
        }
    }

    fn with_cipher_text(&self, backup_method: &str, cipher_text: String) -> ClientBackup {
        ClientBackup {
            summary: self.summary(backup_method),
            cipher_text,
        }
    }
}

impl ClientRecords {
    /// The records from their stored text (`None`: nothing stored yet).
    pub fn parse(text: Option<&str>) -> Result<Self> {
        let Some(text) = text else {
            return Ok(Self::default());
        };
        let record: ClientRecordsV1 =
            serde_json::from_slice(text.as_bytes()).map_err(|_| Error::StoredRecordUnreadable)?;
        let sound = record.methods.iter().all(|(method, versions)| {
            CLIENT_BACKUP_METHODS.contains(&method.as_str())
                && versions.backup_ids().all(is_safe_id)
        });
        if !sound {
            return Err(Error::StoredRecordUnreadable);
        }
        Ok(Self {
            methods: record.methods,
        })
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(&ClientRecordsV1 {
            v: RECORD_VERSION,
            methods: self.methods.clone(),
        })
        .unwrap_or_default()
    }

    pub fn get(&self, method: &str) -> Option<&ClientBackupRecord> {
        self.methods.get(method)
    }

    pub fn get_mut(&mut self, method: &str) -> Option<&mut ClientBackupRecord> {
        self.methods.get_mut(method)
    }

    /// Stores `new` as `method`'s current version; returns the backupId it
    /// no longer names.
    pub fn store(&mut self, method: &str, new: StoredVersion) -> Option<String> {
        let (record, dropped) = ClientBackupRecord::store(self.methods.remove(method), new);
        self.methods.insert(method.to_owned(), record);
        dropped
    }

    /// Puts a record moved from the earlier layout.
    pub fn insert(&mut self, method: &str, record: ClientBackupRecord) {
        self.methods.insert(method.to_owned(), record);
    }

    pub fn remove(&mut self, method: &str) -> Option<ClientBackupRecord> {
        self.methods.remove(method)
    }

    /// Each method's current version, in [`CLIENT_BACKUP_METHODS`] order.
    pub fn summaries(&self) -> Vec<ClientBackupSummary> {
        CLIENT_BACKUP_METHODS
            .iter()
            .filter_map(|method| Some(self.methods.get(*method)?.current.summary(method)))
            .collect()
    }
}

// ---- the layout before the object held client backups ----------------------------------

/// A version as the earlier Worker kept it in KV, ciphertext included.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LegacyVersion {
    pub backup_id: String,
    pub cipher_text: String,
    pub backup_share_pair_ids: Vec<String>,
    pub created_at: String,
    pub portal_notified: bool,
    pub confirmed: bool,
}

/// The earlier Worker's KV value of `client/{clientId}/{backupMethod}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LegacyRecord {
    #[serde(deserialize_with = "known_record_version")]
    pub v: u8,
    pub current: LegacyVersion,
    pub previous: Option<LegacyVersion>,
}

impl LegacyRecord {
    /// The record as the object holds it, with each version's ciphertext
    /// (to be written to its own blob) and the `client-notified` marker
    /// (the backupId last reported to Portal) applied.
    pub fn into_record(
        self,
        notified: Option<&str>,
    ) -> (ClientBackupRecord, Vec<(String, String)>) {
        let mut blobs = Vec::with_capacity(2);
        let mut convert = |v: LegacyVersion| {
            let version = StoredVersion {
                size: v.cipher_text.len() as u64,
                portal_notified: v.portal_notified || notified == Some(v.backup_id.as_str()),
                backup_id: v.backup_id,
                backup_share_pair_ids: v.backup_share_pair_ids,
                created_at: v.created_at,
                confirmed: v.confirmed,
            };
            blobs.push((version.backup_id.clone(), v.cipher_text));
            version
        };
        let current = convert(self.current);
        let previous = self.previous.map(&mut convert);
        (ClientBackupRecord { current, previous }, blobs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(id: &str) -> StoredVersion {
        StoredVersion {
            backup_id: id.into(),
            backup_share_pair_ids: vec!["p".into()],
            created_at: "2026-01-01T00:00:00.000Z".into(),
            size: 5,
            portal_notified: false,
            confirmed: false,
        }
    }

    #[test]
    fn a_failed_backup_never_loses_the_last_confirmed_one() {
        let mut records = ClientRecords::default();
        assert_eq!(records.store("GDRIVE", version("v1")), None);
        let record = records.get_mut("GDRIVE").unwrap();
        assert_eq!(record.confirm("v1"), Ok(None));
        // v2 is stored but never confirmed: v1 stays as the fallback.
        assert_eq!(records.store("GDRIVE", version("v2")), None);
        let record = records.get("GDRIVE").unwrap();
        assert_eq!(record.current.backup_id, "v2");
        assert_eq!(record.previous.as_ref().unwrap().backup_id, "v1");
        // v3 replaces the unconfirmed v2, whose blob is no longer named; v1
        // is still the fallback.
        assert_eq!(records.store("GDRIVE", version("v3")), Some("v2".into()));
        let record = records.get_mut("GDRIVE").unwrap();
        assert_eq!(record.previous.as_ref().unwrap().backup_id, "v1");
        assert_eq!(record.confirm("v3"), Ok(Some("v1".into())));
        assert_eq!(record.previous, None);
        assert!(record.current.confirmed);
        // A confirmed current becomes the fallback of the next one.
        assert_eq!(records.store("GDRIVE", version("v4")), None);
        assert_eq!(
            records
                .get("GDRIVE")
                .unwrap()
                .backup_ids()
                .collect::<Vec<_>>(),
            ["v4", "v3"]
        );
    }

    #[test]
    fn confirm_only_names_the_current_version() {
        let mut records = ClientRecords::default();
        records.store("PASSWORD", version("v1"));
        records.store("PASSWORD", version("v2"));
        let record = records.get_mut("PASSWORD").unwrap();
        assert_eq!(record.confirm("v1"), Err(Error::NotCurrent));
        assert_eq!(record.confirm("v2"), Ok(None));
        assert_eq!(record.confirm("v2"), Ok(None));
    }

    #[test]
    fn records_round_trip_and_list_in_method_order() {
        let mut records = ClientRecords::default();
        for method in ["PASSKEY", "GDRIVE", "PASSWORD"] {
            records.store(method, version(&format!("id-{method}")));
        }
        records
            .get_mut("GDRIVE")
            .unwrap()
            .mark_notified("id-GDRIVE");
        let back = ClientRecords::parse(Some(&records.to_text())).unwrap();
        assert_eq!(back, records);
        let listed: Vec<_> = back
            .summaries()
            .into_iter()
            .map(|s| s.backup_method)
            .collect();
        assert_eq!(listed, CLIENT_BACKUP_METHODS);
        assert!(back.get("GDRIVE").unwrap().current.portal_notified);
        assert!(!back.get("PASSKEY").unwrap().current.portal_notified);
    }

    /// A record of another version, a method the routes refuse, or an id
    /// that could not be part of a KV key is unreadable, not misread.
    #[test]
    fn a_damaged_or_foreign_record_is_unreadable() {
        let mut records = ClientRecords::default();
        records.store("GDRIVE", version("v1"));
        let text = records.to_text();
        assert!(ClientRecords::parse(Some(&text)).is_ok());
        for bad in [
            text.replace(r#""v":1"#, r#""v":2"#),
            text.replace("GDRIVE", "ICLOUD"),
            text.replace(r#""backupId":"v1""#, r#""backupId":"a/b""#),
            text.replace(r#""size":5"#, r#""size":5,"cipherText":"x""#),
            "not json".into(),
        ] {
            assert_eq!(
                ClientRecords::parse(Some(&bad)),
                Err(Error::StoredRecordUnreadable),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_legacy_record_moves_with_its_marker_and_ciphertexts() {
        let legacy = |id: &str, confirmed| LegacyVersion {
            backup_id: id.into(),
            cipher_text: format!("ct-{id}"),
            backup_share_pair_ids: vec!["p".into()],
            created_at: "2026-01-01T00:00:00.000Z".into(),
            portal_notified: false,
            confirmed,
        };
        let record = LegacyRecord {
            v: 1,
            current: legacy("v2", false),
            previous: Some(legacy("v1", true)),
        };
        let (moved, blobs) = record.into_record(Some("v1"));
        assert_eq!(moved.current.size, 5);
        assert!(!moved.current.portal_notified);
        assert!(moved.previous.as_ref().unwrap().portal_notified);
        assert!(moved.previous.as_ref().unwrap().confirmed);
        assert_eq!(
            blobs,
            [
                ("v2".to_owned(), "ct-v2".to_owned()),
                ("v1".to_owned(), "ct-v1".to_owned())
            ]
        );
    }
}
