//! The backup and recovery flows as data: their steps, which run in
//! parallel (one round trip), which key/ciphertext pairs recovery tries and
//! in what order. `browser::flows` performs them.
//!
//! Backup with Google Drive, four round trips:
//!
//! 1. `storeKey` ‖ `storeShare`: create the new key file in appDataFolder;
//!    PUT the ciphertext to the Worker (`notifyPortal: false`: Portal hears
//!    of the share only after the key; the Worker keeps the last confirmed
//!    version).
//! 2. `checkStorage`: read the new key file back and compare ‖ list the key
//!    files of that name. Writing the real key and reading it back *is* the
//!    storage check: Portal's SDK writes, reads and deletes a test file
//!    first (three more round trips). If the check fails nothing old was
//!    deleted yet, so the previous backup still opens.
//! 3. `notifyPortal` ‖ `confirm`: PATCH STORED_CLIENT_BACKUP_SHARE_KEY ‖
//!    confirm the version to the Worker, which then drops the previous one.
//!    Both halves are proven stored, so confirming does not depend on
//!    Portal's answer.
//! 4. `notifyPortal` ‖ `removeOldKeys`, both only once `confirm` succeeded:
//!    the Worker tells Portal STORED_CLIENT_BACKUP_SHARE (`/notify`, also
//!    only after the KEY PATCH succeeded: the order of Portal's own SDK),
//!    so Portal never hears of a share whose backup was not confirmed;
//!    delete the older key files. Deleting alongside `confirm` would risk a
//!    Drive whose only key belongs to an unconfirmed version that the next
//!    backup's PUT may replace while the Worker still falls back to a
//!    version whose key is gone.
//!
//! Recovery, one round trip: list the key files, their keys in their
//! appProperties ‖ GET current and previous versions; try the pairs
//! locally, the last confirmed version first (AES-GCM's tag tells which key
//! belongs to which ciphertext). A key file from before appProperties held
//! the key is downloaded: one more round trip.

use alloc::{string::String, vec::Vec};
use alloc::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Encrypt,
    StoreKey,
    StoreShare,
    CheckStorage,
    NotifyPortal,
    Confirm,
    RemoveOldKeys,
    FetchKey,
    FetchShare,
    Decrypt,
}

impl Step {
    /// The name `onProgress` events and errors carry.
    pub fn name(self) -> &'static str {
        match self {
            Step::Encrypt => "encrypt",
            Step::StoreKey => "storeKey",
            Step::StoreShare => "storeShare",
            Step::CheckStorage => "checkStorage",
            Step::NotifyPortal => "notifyPortal",
            Step::Confirm => "confirm",
            Step::RemoveOldKeys => "removeOldKeys",
            Step::FetchKey => "fetchKey",
            Step::FetchShare => "fetchShare",
            Step::Decrypt => "decrypt",
        }
    }

    /// Whether the step talks to a server (local steps cost no round trip).
    pub fn is_remote(self) -> bool {
        !matches!(self, Step::Encrypt | Step::Decrypt)
    }
}

/// A flow: each inner slice runs in parallel; slices run one after another.
pub type Plan = &'static [&'static [Step]];

pub const GDRIVE_BACKUP: Plan = &[
    &[Step::Encrypt],
    &[Step::StoreKey, Step::StoreShare],
    &[Step::CheckStorage],
    &[Step::NotifyPortal, Step::Confirm],
    &[Step::NotifyPortal, Step::RemoveOldKeys],
];

pub const PASSWORD_BACKUP: Plan =
    &[&[Step::Encrypt], &[Step::StoreShare], &[Step::NotifyPortal, Step::Confirm], &[Step::NotifyPortal]];

/// The listing answers with the keys (Drive: each key file's appProperties;
/// iCloud: the records), so a recovery is one round trip. A Drive key file
/// from before appProperties held the key costs one more (its download).
pub const GDRIVE_RECOVERY: Plan = &[&[Step::FetchKey, Step::FetchShare], &[Step::Decrypt]];

/// iCloud's key store behaves as Drive's.
pub const ICLOUD_BACKUP: Plan = GDRIVE_BACKUP;
pub const ICLOUD_RECOVERY: Plan = GDRIVE_RECOVERY;

/// `changeBackupKey`: the recovery, the new key's envelope, stored and
/// confirmed; the cloud methods remove the old key only after the confirm.
/// The new key file is created beside the recovery's first round trip and
/// read back beside the PUT.
pub const GDRIVE_CHANGE_KEY: Plan = &[
    &[Step::FetchKey, Step::FetchShare, Step::StoreKey],
    &[Step::Decrypt],
    &[Step::Encrypt],
    &[Step::StoreShare, Step::CheckStorage],
    &[Step::Confirm],
    &[Step::RemoveOldKeys],
];
/// The same flow as Drive's, but iCloud sends one CloudKit request at a
/// time (a web auth token is good for one), so the record's create waits
/// for the query: one round trip more (the decrypt and encrypt run beside
/// it).
pub const ICLOUD_CHANGE_KEY: Plan = &[
    &[Step::FetchKey, Step::FetchShare],
    &[Step::StoreKey],
    &[Step::Decrypt],
    &[Step::Encrypt],
    &[Step::StoreShare, Step::CheckStorage],
    &[Step::Confirm],
    &[Step::RemoveOldKeys],
];
/// PASSWORD and PASSKEY.
pub const PASSWORD_CHANGE_KEY: Plan =
    &[&[Step::FetchShare], &[Step::Decrypt], &[Step::Encrypt], &[Step::StoreShare], &[Step::Confirm]];

pub const PASSWORD_RECOVERY: Plan = &[&[Step::FetchShare], &[Step::Decrypt]];

/// Sequential requests on the critical path.
pub fn round_trips(plan: Plan) -> usize {
    plan.iter().filter(|round| round.iter().any(|s| s.is_remote())).count()
}

/// One curve's entry of the client backup plaintext,
/// `{"SECP256K1": {"id": "<backupSharePairId>", "share": "..."}, ...}`.
#[derive(Debug, Deserialize)]
pub struct CurveShare {
    pub id: String,
    /// Never read here: it is sealed as part of the plaintext bytes.
    #[allow(dead_code)]
    share: IgnoredAny,
}

/// The plaintext as Portal's SDK builds it, keyed by curve.
pub type ClientBackupShares = BTreeMap<String, CurveShare>;

/// The backupSharePairIds Portal must be told about, one per curve, in curve
/// order, without duplicates.
pub fn backup_share_pair_ids(shares: &ClientBackupShares) -> Result<Vec<String>> {
    pair_ids_in_curve_order(shares.iter().map(|(curve, share)| (curve.clone(), share.id.clone())).collect())
}

/// `backup_share_pair_ids` from (curve, backupSharePairId) pairs in any
/// order, each curve once: the browser reads them with `JSON.parse`, and a
/// map type would cost the package a B-tree.
pub fn pair_ids_in_curve_order(mut shares: Vec<(String, String)>) -> Result<Vec<String>> {
    const SHAPE: &str = r#"the client backup must be {"<curve>": {"id", "share"}, ...} JSON"#;
    if shares.is_empty() || shares.iter().any(|(_, id)| id.is_empty()) {
        return Err(Error::InvalidInput(SHAPE));
    }
    // Insertion sort: two or three curves, and the general sort costs kilobytes of wasm.
    for sorted in 1..shares.len() {
        let mut at = sorted;
        while at > 0 && shares[at - 1].0 > shares[at].0 {
            shares.swap(at - 1, at);
            at -= 1;
        }
    }
    let mut ids: Vec<String> = Vec::with_capacity(shares.len());
    for (_, id) in shares {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Which stored ciphertext version a recovery opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Current,
    Previous,
}

impl Version {
    pub fn name(self) -> &'static str {
        match self {
            Version::Current => "current",
            Version::Previous => "previous",
        }
    }
}

/// The stored versions recovery tries, in order: the last confirmed backup
/// first. The Worker keeps `previous` only while `current` is unconfirmed,
/// i.e. after a backup that failed half-way; that unfinished backup may
/// even open (its key and ciphertext both written), but it is tried last:
/// a fault must not silently replace the backup the user last completed.
pub fn version_order(current_confirmed: bool, has_previous: bool) -> &'static [Version] {
    match (current_confirmed, has_previous) {
        (false, true) => &[Version::Previous, Version::Current],
        (true, true) => &[Version::Current, Version::Previous],
        (_, false) => &[Version::Current],
    }
}

/// The (key file index, version) pairs recovery tries, in order: versions
/// as `version_order`, each with every key file, newest first. The newest
/// key with a confirmed current version is the normal case; the rest cover a
/// backup that failed half-way (an older key for the last confirmed version,
/// or a key written without its ciphertext).
pub fn recovery_candidates(key_files: usize, current_confirmed: bool, has_previous: bool) -> Vec<(usize, Version)> {
    version_order(current_confirmed, has_previous).iter().flat_map(|&v| (0..key_files).map(move |k| (k, v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAINTEXT: &str = include_str!("../tests/fixtures/client-backup-plaintext.json");

    #[test]
    fn backups_and_recoveries_stay_within_their_round_trip_budget() {
        assert_eq!(round_trips(GDRIVE_BACKUP), 4);
        assert_eq!(round_trips(PASSWORD_BACKUP), 3);
        assert_eq!(round_trips(GDRIVE_RECOVERY), 1);
        assert_eq!(round_trips(PASSWORD_RECOVERY), 1);
        assert_eq!(round_trips(ICLOUD_BACKUP), 4);
        assert_eq!(round_trips(ICLOUD_RECOVERY), 1);
        // changeBackupKey: at most 5 with a cloud key store, 3 without.
        assert_eq!(round_trips(GDRIVE_CHANGE_KEY), 4);
        assert_eq!(round_trips(ICLOUD_CHANGE_KEY), 5);
        assert_eq!(round_trips(PASSWORD_CHANGE_KEY), 3);
    }

    #[test]
    fn pair_ids_come_from_the_real_plaintext_shape() {
        let shares: ClientBackupShares = serde_json::from_str(PLAINTEXT).unwrap();
        let ids = backup_share_pair_ids(&shares).unwrap();
        assert_eq!(ids.len(), shares.len());
        assert!(ids.iter().all(|id| PLAINTEXT.contains(&format!(r#""id": "{id}""#))));
    }

    #[test]
    fn pair_ids_are_deduplicated_and_shapes_checked() {
        let parse = |s: &str| serde_json::from_str::<ClientBackupShares>(s);
        let shares = parse(r#"{"SECP256K1":{"id":"p1","share":"a"},"ED25519":{"id":"p1","share":"b"}}"#).unwrap();
        assert_eq!(backup_share_pair_ids(&shares).unwrap(), ["p1"]);
        assert!(backup_share_pair_ids(&parse("{}").unwrap()).is_err());
        assert!(backup_share_pair_ids(&parse(r#"{"X":{"id":"","share":"a"}}"#).unwrap()).is_err());
        assert!(parse(r#"{"X":{"share":"a"}}"#).is_err());
        assert!(parse(r#"["p1"]"#).is_err());
    }

    #[test]
    fn pair_ids_from_pairs_come_in_curve_order() {
        let pairs = |p: &[(&str, &str)]| p.iter().map(|(c, i)| (c.to_string(), i.to_string())).collect::<Vec<_>>();
        assert_eq!(pair_ids_in_curve_order(pairs(&[("SECP256K1", "p2"), ("ED25519", "p1")])).unwrap(), ["p1", "p2"]);
        assert_eq!(pair_ids_in_curve_order(pairs(&[("B", "p"), ("A", "p")])).unwrap(), ["p"]);
        assert!(pair_ids_in_curve_order(Vec::new()).is_err());
        assert!(pair_ids_in_curve_order(pairs(&[("A", "")])).is_err());
    }

    #[test]
    fn recovery_tries_the_last_confirmed_backup_first() {
        use Version::*;
        assert_eq!(recovery_candidates(1, true, false), [(0, Current)]);
        // A backup failed half-way: its unconfirmed version goes last.
        assert_eq!(recovery_candidates(2, false, true), [(0, Previous), (1, Previous), (0, Current), (1, Current)]);
        // The first backup ever failed half-way: nothing confirmed to prefer.
        assert_eq!(recovery_candidates(2, false, false), [(0, Current), (1, Current)]);
        assert!(recovery_candidates(0, false, true).is_empty());
        assert_eq!(version_order(true, true), [Current, Previous]);
    }
}
