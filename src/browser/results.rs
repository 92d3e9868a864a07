//! What the flows answer, as Rust values, and their one way out to JS: the
//! shapes `options.rs` types for TypeScript (`BackupResult`,
//! `RecoveredWallet`, ...). Field names are written here and nowhere else.

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;

use super::js;
use super::options::Method;
use crate::flow::Version;
use crate::ErrorCode;
use crate::wire::{ClientBackupSummary, CustodianBackupSummary};

/// `BackupResult`.
pub struct BackupOutcome {
    pub method: Method,
    pub backup: ClientBackupSummary,
    pub portal_notified: bool,
    /// GDRIVE: the new key file.
    pub key_file_id: Option<String>,
    pub removed_key_files: usize,
    /// PASSKEY: the passkey that made the key.
    pub credential_id: Option<String>,
}

impl BackupOutcome {
    pub fn to_js(&self) -> JsValue {
        let result = js::object(&[
            ("method", self.method.name().into()),
            ("backupId", self.backup.backup_id.as_str().into()),
            ("backupSharePairIds", js::string_array(&self.backup.backup_share_pair_ids)),
            ("createdAt", self.backup.created_at.as_str().into()),
            ("portalNotified", self.portal_notified.into()),
            ("removedKeyFiles", (self.removed_key_files as f64).into()),
        ]);
        js::set_string(&result, "keyFileId", self.key_file_id.as_deref());
        js::set_string(&result, "credentialId", self.credential_id.as_deref());
        result
    }
}

/// `RecoveredWallet`: the plaintext stays in JS memory, as WebCrypto gave it.
pub struct Recovery {
    pub method: Method,
    pub plaintext: Uint8Array,
    /// The version that opened.
    pub backup: ClientBackupSummary,
    pub version: Version,
    pub fell_back: bool,
    pub credential_id: Option<String>,
}

impl Recovery {
    /// Portal's plaintext is JSON text; bytes that are not UTF-8 go out as
    /// bytes only.
    pub fn to_js(&self) -> JsValue {
        let value = js::object(&[
            ("method", self.method.name().into()),
            ("clientBackupBytes", self.plaintext.clone().into()),
            ("backupId", self.backup.backup_id.as_str().into()),
            ("backupSharePairIds", js::string_array(&self.backup.backup_share_pair_ids)),
            ("createdAt", self.backup.created_at.as_str().into()),
            ("version", self.version.name().into()),
            ("fellBack", self.fell_back.into()),
        ]);
        let bytes = self.plaintext.to_vec();
        js::set_string(&value, "clientBackup", core::str::from_utf8(&bytes).ok());
        js::set_string(&value, "credentialId", self.credential_id.as_deref());
        value
    }
}

/// `BackupSummary[]`.
pub fn backup_summaries(backups: &[ClientBackupSummary]) -> JsValue {
    let summary = |backup: &ClientBackupSummary| {
        js::object(&[
            ("backupMethod", backup.backup_method.as_str().into()),
            ("backupId", backup.backup_id.as_str().into()),
            ("backupSharePairIds", js::string_array(&backup.backup_share_pair_ids)),
            ("size", (backup.size as f64).into()),
            ("createdAt", backup.created_at.as_str().into()),
            ("portalNotified", backup.portal_notified.into()),
            ("confirmed", backup.confirmed.into()),
        ])
    };
    backups.iter().map(summary).collect::<Array>().into()
}

/// `CustodianBackupSummary[]`.
pub fn custodian_summaries(deliveries: &[CustodianBackupSummary]) -> JsValue {
    let delivery = |delivery: &CustodianBackupSummary| {
        js::object(&[
            ("backupMethod", delivery.backup_method.as_str().into()),
            ("receivedAt", delivery.received_at.as_str().into()),
        ])
    };
    deliveries.iter().map(delivery).collect::<Array>().into()
}

/// `DeleteResult`.
pub struct Deleted {
    pub method: Method,
    pub removed_key_files: usize,
}

impl Deleted {
    pub fn to_js(&self) -> JsValue {
        js::object(&[("method", self.method.name().into()), ("removedKeyFiles", (self.removed_key_files as f64).into())])
    }
}

/// `NotifyResult`: Portal was told both halves are stored.
pub struct Notified {
    pub method: Method,
    pub backup_share_pair_ids: Vec<String>,
}

impl Notified {
    pub fn to_js(&self) -> JsValue {
        js::object(&[
            ("method", self.method.name().into()),
            ("backupSharePairIds", js::string_array(&self.backup_share_pair_ids)),
            ("portalNotified", true.into()),
        ])
    }
}

/// A `BackupProblem` `checkBackup` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Recovery, or asking the server, failed with this code.
    Failed(ErrorCode),
    /// A newer backup is unfinished; the last confirmed one is kept.
    Unconfirmed,
    PortalNotNotified,
    CustodianMissing,
    /// The backup opens, but not to the device's `clientBackup`.
    Outdated,
}

impl Problem {
    /// The problems that are not error codes.
    #[cfg(test)]
    pub const OWN: [Problem; 4] = [Problem::Unconfirmed, Problem::PortalNotNotified, Problem::CustodianMissing, Problem::Outdated];

    pub fn name(self) -> &'static str {
        match self {
            Problem::Failed(code) => code.name(),
            Problem::Unconfirmed => "BACKUP_UNCONFIRMED",
            Problem::PortalNotNotified => "PORTAL_NOT_NOTIFIED",
            Problem::CustodianMissing => "CUSTODIAN_BACKUP_MISSING",
            Problem::Outdated => "BACKUP_OUTDATED",
        }
    }
}

/// `BackupCheck`. `None`: unknown, because the server could not be asked.
pub struct Checked {
    pub method: Method,
    pub recoverable: bool,
    pub created_at: Option<String>,
    pub portal_notified: Option<bool>,
    pub custodian_stored: Option<bool>,
    pub problems: Vec<Problem>,
}

impl Checked {
    pub fn to_js(&self) -> JsValue {
        let known = |value: Option<bool>| value.map_or(JsValue::NULL, JsValue::from);
        let problems: Array = self.problems.iter().map(|problem| JsValue::from_str(problem.name())).collect();
        js::object(&[
            ("method", self.method.name().into()),
            ("recoverable", self.recoverable.into()),
            ("createdAt", self.created_at.as_deref().map_or(JsValue::NULL, JsValue::from_str)),
            ("portalNotified", known(self.portal_notified)),
            ("custodianStored", known(self.custodian_stored)),
            ("problems", problems.into()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_own_problem_is_in_the_typescript_union() {
        let union = super::super::options::TS_OPTIONS;
        let union = &union[union.find("export type BackupProblem =").unwrap()..];
        let union = &union[..union.find(';').unwrap()];
        for problem in Problem::OWN {
            assert!(union.contains(&format!("\"{}\"", problem.name())), "{} missing from BackupProblem", problem.name());
        }
        assert_eq!(Problem::Failed(ErrorCode::KeyNotFound).name(), "KEY_NOT_FOUND");
    }
}
