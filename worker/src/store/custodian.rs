//! A client's custodian directory: which backup methods it has and which
//! immutable KV key holds each method's current share. It lives in the
//! client's Durable Object ([`super::object`]), the one place
//! that sees every delivery for that client in order, so overlapping
//! per-curve deliveries can never lose a method the way a read-extend-write
//! of a KV index can.
//!
//! Each delivery is written to a fresh key `custodian/{clientId}/{method}/{version}`
//! and only then named here. A KV key is therefore written once and never
//! changed: a reader that finds the key in the directory never meets an old
//! value of it, and no key was read (and its absence cached) before it was
//! written.

use std::collections::BTreeMap;

use portal_backup::wire::CustodianBackupSummary;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::validate::is_safe_id;

/// Custodian methods one client may hold. Portal stores one share per
/// method and curve (`GDRIVE-SECP256K1`, ...); 32 is several times what its
/// methods and curves add up to, and bounds what one client can make us
/// store.
pub const MAX_METHODS: usize = 32;

/// A version names one delivery: 16 random bytes, lower-case hex.
pub const VERSION_LEN: usize = 32;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DirectoryRecord {
    /// backupMethod → its current share.
    methods: BTreeMap<String, NamedShare>,
}

/// The current delivery of one method: where it is, and when it came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamedShare {
    pub version: String,
    /// ISO 8601, when the delivery was stored.
    pub received_at: String,
}

#[derive(Serialize, Deserialize)]
struct DirectoryV1 {
    v: u8,
    methods: BTreeMap<String, NamedShare>,
}

/// Longest `receivedAt` kept (`+275760-09-13T00:00:00.000Z` is 27).
const MAX_RECEIVED_AT_LEN: usize = 32;

const DIRECTORY_VERSION: u8 = 1;

pub fn is_version(text: &str) -> bool {
    text.len() == VERSION_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `bytes` as a version (lower-case hex).
pub fn version_from(bytes: &[u8; VERSION_LEN / 2]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

impl DirectoryRecord {
    /// The directory from the text the object stored under its own key
    /// before it held the client half too (`None`: nothing stored).
    pub fn parse(text: Option<&str>) -> Result<Self> {
        let Some(text) = text else {
            return Ok(Self::default());
        };
        // from_slice, as every parse in the Worker: a from_str would link a
        // second copy of serde_json's deserializer (for its StrRead).
        let DirectoryV1 { v, methods } =
            serde_json::from_slice(text.as_bytes()).map_err(|_| Error::StoredRecordUnreadable)?;
        let record = Self { methods };
        if v == DIRECTORY_VERSION && record.is_sound() {
            Ok(record)
        } else {
            Err(Error::StoredRecordUnreadable)
        }
    }

    /// At most [`MAX_METHODS`] safe method names, each with a well-formed
    /// version and receivedAt.
    pub fn is_sound(&self) -> bool {
        self.methods.len() <= MAX_METHODS
            && self.methods.iter().all(|(method, named)| {
                is_safe_id(method)
                    && is_version(&named.version)
                    && (1..=MAX_RECEIVED_AT_LEN).contains(&named.received_at.len())
            })
    }

    /// The text [`Self::parse`] reads.
    pub fn to_text(&self) -> String {
        serde_json::to_string(&DirectoryV1 {
            v: DIRECTORY_VERSION,
            methods: self.methods.clone(),
        })
        .unwrap_or_default()
    }

    /// Whether a delivery for `method` may be stored, given `pending_new`
    /// other new methods whose deliveries are in flight right now.
    pub fn admits(&self, method: &str, pending_new: usize) -> Result<()> {
        if self.methods.contains_key(method) || self.methods.len() + pending_new < MAX_METHODS {
            Ok(())
        } else {
            Err(Error::TooManyBackupMethods)
        }
    }

    pub fn contains(&self, method: &str) -> bool {
        self.methods.contains_key(method)
    }

    /// Names `version` as `method`'s current share; returns the version it
    /// replaced, whose key is now unreachable.
    pub fn set(&mut self, method: &str, version: String, received_at: String) -> Option<String> {
        self.methods
            .insert(
                method.to_owned(),
                NamedShare {
                    version,
                    received_at,
                },
            )
            .map(|old| old.version)
    }

    pub fn version(&self, method: &str) -> Option<&str> {
        self.methods.get(method).map(|named| named.version.as_str())
    }

    /// (method, share), sorted by method: the order `/backup/fetch` answers in.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &NamedShare)> {
        self.methods.iter().map(|(m, named)| (m.as_str(), named))
    }

    /// Each method and when its share came, sorted by method; no version.
    pub fn summaries(&self) -> Vec<CustodianBackupSummary> {
        self.entries()
            .map(|(method, named)| CustodianBackupSummary {
                backup_method: method.to_owned(),
                received_at: named.received_at.clone(),
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.methods.len()
    }

    pub fn is_empty(&self) -> bool {
        self.methods.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(n: u8) -> String {
        version_from(&[n; 16])
    }

    const AT: &str = "2026-12-02T21:00:00.000Z";

    fn named(n: u8) -> NamedShare {
        NamedShare {
            version: version(n),
            received_at: AT.into(),
        }
    }

    #[test]
    fn a_directory_round_trips_through_its_text() {
        let mut directory = DirectoryRecord::default();
        assert_eq!(
            directory.set("GDRIVE-SECP256K1", version(1), AT.into()),
            None
        );
        assert_eq!(directory.set("GDRIVE-ED25519", version(2), AT.into()), None);
        assert_eq!(
            directory.set("GDRIVE-SECP256K1", version(3), AT.into()),
            Some(version(1))
        );
        let text = directory.to_text();
        let back = DirectoryRecord::parse(Some(&text)).unwrap();
        assert_eq!(back, directory);
        assert_eq!(
            back.entries().collect::<Vec<_>>(),
            [
                ("GDRIVE-ED25519", &named(2)),
                ("GDRIVE-SECP256K1", &named(3))
            ]
        );
        assert!(DirectoryRecord::parse(None).unwrap().is_empty());
    }

    #[test]
    fn the_thirty_third_method_is_refused_counting_deliveries_in_flight() {
        let mut directory = DirectoryRecord::default();
        for n in 0..MAX_METHODS - 2 {
            directory.set(&format!("M{n}"), version(n as u8), AT.into());
        }
        assert_eq!(directory.admits("NEW", 0), Ok(()));
        assert_eq!(directory.admits("NEW", 1), Ok(()));
        // 30 stored + 2 new in flight = 32: a third new one is one too many.
        assert_eq!(directory.admits("NEW", 2), Err(Error::TooManyBackupMethods));
        // A method already stored is always replaceable.
        assert_eq!(directory.admits("M0", 2), Ok(()));
        directory.set("A", version(1), AT.into());
        directory.set("B", version(1), AT.into());
        assert_eq!(directory.len(), MAX_METHODS);
        assert_eq!(directory.admits("C", 0), Err(Error::TooManyBackupMethods));
        assert_eq!(directory.admits("A", 0), Ok(()));
    }

    #[test]
    fn a_damaged_or_foreign_record_is_unreadable_not_empty() {
        for text in [
            "not json",
            r#"{"v":2,"methods":{}}"#,
            r#"{"v":1,"methods":{"a/b":{"version":"00000000000000000000000000000000","receivedAt":"x"}}}"#,
            r#"{"v":1,"methods":{"GDRIVE":{"version":"short","receivedAt":"x"}}}"#,
            r#"{"v":1,"methods":{"GDRIVE":{"version":"0000000000000000000000000000000G","receivedAt":"x"}}}"#,
            r#"{"v":1,"methods":{"GDRIVE":{"version":"00000000000000000000000000000000","receivedAt":""}}}"#,
            r#"{"v":1,"methods":{"GDRIVE":"00000000000000000000000000000000"}}"#,
            r#"{"v":1}"#,
        ] {
            assert_eq!(
                DirectoryRecord::parse(Some(text)),
                Err(Error::StoredRecordUnreadable),
                "{text}"
            );
        }
    }

    /// What the object reads back: which methods are named, each one's
    /// version, and the summaries `GET /v1/custodian-backups` answers with.
    #[test]
    fn a_directory_answers_for_the_methods_it_names_and_no_others() {
        let mut directory = DirectoryRecord::default();
        assert!(directory.is_empty());
        assert!(directory.summaries().is_empty());
        directory.set("GDRIVE-SECP256K1", version(1), AT.into());
        directory.set("GDRIVE-ED25519", version(2), "2026-12-03T08:00:00.000Z".into());
        assert!(!directory.is_empty());
        assert!(directory.contains("GDRIVE-ED25519"));
        assert!(!directory.contains("PASSWORD-SECP256K1"));
        assert_eq!(directory.version("GDRIVE-SECP256K1"), Some(version(1).as_str()));
        assert_eq!(directory.version("PASSWORD-SECP256K1"), None);
        let summary = |method: &str, at: &str| CustodianBackupSummary {
            backup_method: method.into(),
            received_at: at.into(),
        };
        assert_eq!(
            directory.summaries(),
            [
                summary("GDRIVE-ED25519", "2026-12-03T08:00:00.000Z"),
                summary("GDRIVE-SECP256K1", AT)
            ]
        );
    }

    #[test]
    fn versions_are_lower_case_hex_of_sixteen_bytes() {
        assert_eq!(version_from(&[0xab; 16]), "ab".repeat(16));
        assert!(is_version(&version_from(&[0x0f; 16])));
        assert!(!is_version(&"AB".repeat(16)));
    }
}
