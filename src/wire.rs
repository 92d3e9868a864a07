//! JSON bodies exchanged between the browser module, the Worker and Portal.
//! One definition, used by both sides, so they cannot drift apart.
//!
//! - The Worker reads each request body into its type here
//!   (`worker/src/validate.rs`: serde, one pass, each failure a typed error
//!   code) and writes each answer from one.
//! - docs/openapi.yaml states the same shapes; `tests/worker/wire-contract.test.mjs`
//!   keeps the two in step: the document's examples read into these types
//!   (and, for requests, pass the Worker's checks), and every type written
//!   from a sample matches the document's schema.
//! - Request bodies the browser sends refuse unknown fields
//!   (`deny_unknown_fields`, as the Worker does); Portal's webhook bodies
//!   take extra fields (Portal may add some), as the Worker does.

use alloc::{string::String, vec::Vec};
use serde::{Deserialize, Serialize};

/// Backup method names as Portal spells them.
pub const METHOD_GDRIVE: &str = "GDRIVE";
pub const METHOD_ICLOUD: &str = "ICLOUD";
pub const METHOD_PASSWORD: &str = "PASSWORD";
pub const METHOD_PASSKEY: &str = "PASSKEY";

/// `{"error": {"code", "message"}}`: every error the Worker answers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

// ---- Browser → Worker: the encrypted client backup share ----------------

/// `PUT /v1/client-backups/{backupMethod}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoreClientBackup {
    /// The envelope in base64url (see `envelope::envelope_to_text`).
    pub cipher_text: String,
    pub backup_share_pair_ids: Vec<String>,
    /// `false`: do not tell Portal STORED_CLIENT_BACKUP_SHARE now; the caller
    /// asks `/notify` once it has told Portal the key is stored, so Portal
    /// hears KEY before SHARE as in its own SDK. Absent means `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_portal: Option<bool>,
    /// `changeBackupKey`: the backupId of the confirmed version this one
    /// re-seals under a new key. Same pairs, so if Portal was told of that
    /// one this one counts as told (`portalNotified`) without asking Portal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rekey_of: Option<String>,
}

impl StoreClientBackup {
    /// Whether the Worker tells Portal right after storing: unless
    /// `notifyPortal` is `false`.
    pub fn notifies_portal(&self) -> bool {
        self.notify_portal != Some(false)
    }
}

/// What the Worker says about one stored version (no ciphertext).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClientBackupSummary {
    pub backup_method: String,
    /// Identifies this version; `confirm` names it.
    pub backup_id: String,
    pub backup_share_pair_ids: Vec<String>,
    /// Size of the ciphertext text in bytes.
    pub size: u64,
    /// RFC 3339 time the Worker stored it.
    pub created_at: String,
    /// Whether Portal was told `STORED_CLIENT_BACKUP_SHARE` for it.
    pub portal_notified: bool,
    /// Whether the client confirmed the whole backup finished.
    pub confirmed: bool,
}

/// One stored version with its ciphertext.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClientBackup {
    #[serde(flatten)]
    pub summary: ClientBackupSummary,
    pub cipher_text: String,
}

/// Answer to PUT, confirm and notify.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StoredClientBackup {
    pub client_id: String,
    pub backup: ClientBackupSummary,
}

/// `GET /v1/client-backups/{backupMethod}`: the newest version and, until it
/// is confirmed, the last confirmed one to fall back to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClientBackupVersions {
    pub client_id: String,
    pub current: ClientBackup,
    pub previous: Option<ClientBackup>,
}

/// `GET /v1/client-backups`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClientBackupList {
    pub client_id: String,
    pub backups: Vec<ClientBackupSummary>,
}

/// `POST /v1/client-backups/{backupMethod}/confirm`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmClientBackup {
    pub backup_id: String,
}

/// `GET /v1/custodian-backups`: which custodian shares Portal stored here
/// for the caller, and when. Never the share itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CustodianBackupList {
    pub client_id: String,
    pub backups: Vec<CustodianBackupSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CustodianBackupSummary {
    pub backup_method: String,
    /// ISO 8601, when the Worker stored Portal's latest delivery.
    pub received_at: String,
}

// ---- Portal → Worker: the custodian backup share webhooks ----------------

/// `POST /{webhooks_root}/backup`. Unknown extra fields are ignored: Portal
/// may add some.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CustodianBackupWebhook {
    pub backup_method: String,
    pub client_id: String,
    /// A JSON object, stringified by Portal; stored and given back exactly
    /// as sent.
    pub share: String,
}

/// The answer to `POST /{webhooks_root}/backup`: always `{"stored": true}`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CustodianBackupStored {
    pub stored: bool,
}

/// `POST /{webhooks_root}/backup/fetch`. Unknown extra fields are ignored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CustodianFetchRequest {
    pub client_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CustodianFetchResponse {
    pub backup_shares: Vec<String>,
}

// ---- Portal's client API ---------------------------------------------------

/// `PATCH /api/v3/clients/me/backup-share-pairs`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BackupSharePairStatus {
    StoredClientBackupShareKey,
    StoredClientBackupShare,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UpdateBackupSharePairs {
    pub status: BackupSharePairStatus,
    pub backup_share_pair_ids: Vec<String>,
}

/// The part of `GET /api/v3/clients/me` we use.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PortalClient {
    pub id: String,
    #[serde(default)]
    pub custodian: Option<PortalCustodian>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PortalCustodian {
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_serialize_as_portal_spells_them() {
        let body = UpdateBackupSharePairs {
            status: BackupSharePairStatus::StoredClientBackupShareKey,
            backup_share_pair_ids: vec!["p1".into()],
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"status":"STORED_CLIENT_BACKUP_SHARE_KEY","backupSharePairIds":["p1"]}"#
        );
    }

    #[test]
    fn portal_is_told_right_away_unless_the_upload_says_false() {
        let upload = |notify_portal| StoreClientBackup {
            cipher_text: "UEJBSwEB".into(),
            backup_share_pair_ids: vec!["p1".into()],
            notify_portal,
            rekey_of: None,
        };
        assert!(upload(None).notifies_portal());
        assert!(upload(Some(true)).notifies_portal());
        assert!(!upload(Some(false)).notifies_portal());
        // Absent when not said, as the browser module's JS sends it.
        assert_eq!(
            serde_json::to_string(&upload(None)).unwrap(),
            r#"{"cipherText":"UEJBSwEB","backupSharePairIds":["p1"]}"#
        );
    }
}
