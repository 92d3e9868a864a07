//! Client backups as the client's Durable Object holds them: per backup
//! method, the current version and, while current is unconfirmed, the last
//! confirmed one. Only names and facts live here; each version's ciphertext
//! (the browser's envelope: the Worker never holds its key) is a write-once
//! KV blob, `envelope/{clientId}/{method}/{backupId}` (see [`super`]).
//!
//! Every change is a pure function of the record that returns the versions
//! it stopped naming, so the object can hand their blobs to the trash.

use portal_backup::wire::{
    ClientBackup, ClientBackupSummary, ClientBackupVersions, StoredClientBackup,
};
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

/// Every client backup method of one client. One field per method the
/// routes take, so an unknown method in stored text does not parse, and
/// no map code is needed for a set of three.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRecords {
    #[serde(rename = "GDRIVE", default, skip_serializing_if = "Option::is_none")]
    gdrive: Option<ClientBackupRecord>,
    #[serde(rename = "ICLOUD", default, skip_serializing_if = "Option::is_none")]
    icloud: Option<ClientBackupRecord>,
    #[serde(rename = "PASSWORD", default, skip_serializing_if = "Option::is_none")]
    password: Option<ClientBackupRecord>,
    #[serde(rename = "PASSKEY", default, skip_serializing_if = "Option::is_none")]
    passkey: Option<ClientBackupRecord>,
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

    /// The answer to PUT, confirm and notify: this version, for the client.
    pub fn stored(&self, client_id: &str, backup_method: &str) -> StoredClientBackup {
        StoredClientBackup {
            client_id: client_id.into(),
            backup: self.summary(backup_method),
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
    /// The slot of a method the client routes take (others have none).
    fn slot(&mut self, method: &str) -> Option<&mut Option<ClientBackupRecord>> {
        match method {
            "GDRIVE" => Some(&mut self.gdrive),
            "ICLOUD" => Some(&mut self.icloud),
            "PASSWORD" => Some(&mut self.password),
            "PASSKEY" => Some(&mut self.passkey),
            _ => None,
        }
    }

    /// (method, record) for each method stored, in [`CLIENT_BACKUP_METHODS`] order.
    fn entries(&self) -> impl Iterator<Item = (&'static str, &ClientBackupRecord)> {
        CLIENT_BACKUP_METHODS
            .into_iter()
            .zip([&self.gdrive, &self.icloud, &self.password, &self.passkey])
            .filter_map(|(method, record)| Some((method, record.as_ref()?)))
    }

    /// Whether what was read is sound: every backupId could be part of a
    /// KV key.
    pub fn is_sound(&self) -> bool {
        self.entries()
            .all(|(_, record)| record.backup_ids().all(is_safe_id))
    }

    pub fn get(&self, method: &str) -> Option<&ClientBackupRecord> {
        self.entries().find(|(m, _)| *m == method).map(|(_, r)| r)
    }

    pub fn get_mut(&mut self, method: &str) -> Option<&mut ClientBackupRecord> {
        self.slot(method)?.as_mut()
    }

    /// Whether Portal holds the pairs of a re-keyed version as stored: it
    /// re-seals `rekey_of`, the method's last confirmed version, whose pairs
    /// it keeps and of which Portal was told (changeBackupKey asks Portal
    /// nothing: the backup share pair is unchanged). False for any other
    /// version, so a stale or forged `rekeyOf` claims nothing.
    pub fn reseals(&self, method: &str, rekey_of: &str, pair_ids: &[String]) -> bool {
        let Some(record) = self.get(method) else {
            return false;
        };
        let confirmed = if record.current.confirmed {
            Some(&record.current)
        } else {
            record.previous.as_ref()
        };
        confirmed.is_some_and(|version| {
            version.backup_id == rekey_of
                && version.backup_share_pair_ids == pair_ids
                && version.portal_notified
        })
    }

    /// Stores `new` as `method`'s current version; returns the backupId it
    /// no longer names.
    pub fn store(&mut self, method: &str, new: StoredVersion) -> Option<String> {
        let slot = self.slot(method)?;
        let (record, dropped) = ClientBackupRecord::store(slot.take(), new);
        *slot = Some(record);
        dropped
    }

    /// Puts a record moved from the earlier layout.
    pub fn insert(&mut self, method: &str, record: ClientBackupRecord) {
        if let Some(slot) = self.slot(method) {
            *slot = Some(record);
        }
    }

    pub fn remove(&mut self, method: &str) -> Option<ClientBackupRecord> {
        self.slot(method)?.take()
    }

    /// Each method's current version, in [`CLIENT_BACKUP_METHODS`] order.
    pub fn summaries(&self) -> Vec<ClientBackupSummary> {
        self.entries()
            .map(|(method, record)| record.current.summary(method))
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
    fn a_rekey_counts_as_told_only_for_the_confirmed_version_portal_knows() {
        let mut records = ClientRecords::default();
        let pairs = vec!["p".to_owned()];
        records.store("PASSWORD", version("v1"));
        // Not confirmed, not told: nothing to carry.
        assert!(!records.reseals("PASSWORD", "v1", &pairs));
        let record = records.get_mut("PASSWORD").unwrap();
        record.confirm("v1").unwrap();
        assert!(
            !records.reseals("PASSWORD", "v1", &pairs),
            "confirmed, but Portal was not told"
        );
        records.get_mut("PASSWORD").unwrap().mark_notified("v1");
        assert!(records.reseals("PASSWORD", "v1", &pairs));
        assert!(
            !records.reseals("PASSWORD", "v0", &pairs),
            "another version"
        );
        assert!(
            !records.reseals("PASSWORD", "v1", &["q".to_owned()]),
            "other pairs"
        );
        assert!(!records.reseals("GDRIVE", "v1", &pairs), "another method");
        // An unfinished newer version: the confirmed one is `previous`.
        records.store("PASSWORD", version("v2"));
        assert!(records.reseals("PASSWORD", "v1", &pairs));
        assert!(!records.reseals("PASSWORD", "v2", &pairs));
    }

    #[test]
    fn records_round_trip_and_list_in_method_order() {
        let mut records = ClientRecords::default();
        for method in ["PASSKEY", "ICLOUD", "GDRIVE", "PASSWORD"] {
            records.store(method, version(&format!("id-{method}")));
        }
        records
            .get_mut("GDRIVE")
            .unwrap()
            .mark_notified("id-GDRIVE");
        let back: ClientRecords =
            serde_json::from_str(&serde_json::to_string(&records).unwrap()).unwrap();
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

    /// A method the routes refuse, or an id that could not be part of a KV
    /// key, is not read as a record (see also `state::BackupState::parse`).
    #[test]
    fn a_foreign_method_or_an_unsafe_id_is_not_sound() {
        let mut records = ClientRecords::default();
        records.store("GDRIVE", version("v1"));
        assert!(records.is_sound());
        let text = serde_json::to_string(&records).unwrap();
        let parse = |text: &str| serde_json::from_str::<ClientRecords>(text);
        assert!(parse(&text.replace("GDRIVE", "YUBIKEY")).is_err());
        assert!(parse(&text.replace(r#""size":5"#, r#""size":5,"cipherText":"x""#)).is_err());
        let unsafe_id = parse(&text.replace(r#""backupId":"v1""#, r#""backupId":"a/b""#)).unwrap();
        assert!(!unsafe_id.is_sound());
        assert_eq!(records.store("YUBIKEY", version("v2")), None);
        assert_eq!(records.get("YUBIKEY"), None);
    }

    /// A record moved from the earlier layout goes into its method's slot
    /// (none for a method the routes refuse); a DELETE takes it out.
    #[test]
    fn insert_and_remove_touch_only_their_method() {
        let mut records = ClientRecords::default();
        let record = ClientBackupRecord {
            current: version("v2"),
            previous: Some(version("v1")),
        };
        records.insert("PASSKEY", record.clone());
        records.insert("YUBIKEY", record.clone());
        assert_eq!(records.get("PASSKEY"), Some(&record));
        assert_eq!(records.summaries().len(), 1);
        assert_eq!(records.remove("GDRIVE"), None);
        assert_eq!(records.remove("PASSKEY"), Some(record));
        assert_eq!(records, ClientRecords::default());
    }

    /// The earlier layout's record carries `"v": 1`; another version (a
    /// newer Worker's, read after a rollback) does not parse.
    #[test]
    fn a_legacy_record_of_another_version_does_not_parse() {
        let text = |v: u32| {
            format!(
                r#"{{"v":{v},"current":{{"backupId":"b1","cipherText":"x","backupSharePairIds":["p"],"createdAt":"2026-01-01T00:00:00.000Z","portalNotified":false,"confirmed":false}},"previous":null}}"#
            )
        };
        let record: LegacyRecord = serde_json::from_str(&text(1)).unwrap();
        assert_eq!(record.v, 1);
        assert_eq!(record.current.backup_id, "b1");
        for v in [0, 2, 255] {
            assert!(
                serde_json::from_str::<LegacyRecord>(&text(v)).is_err(),
                "v {v}"
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
