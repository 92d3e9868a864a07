//! JSON values to and from Rust by hand, over `Reflect`. serde-wasm-bindgen
//! did the same with about 40 KiB more wasm (serde's error formatting pulls
//! in float printing); the package size matters more than the convenience.

use alloc::{string::String, vec::Vec};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::drive::{DriveFile, DriveFileList};
use crate::wire::{
    BackupSharePairStatus, ClientBackup, ClientBackupList, ClientBackupSummary, ClientBackupVersions,
    ConfirmClientBackup, ErrorBody, ErrorDetail, StoreClientBackup, StoredClientBackup, UpdateBackupSharePairs,
};

/// Read from parsed JSON; `None` when the shape is wrong.
pub trait FromJs: Sized {
    fn from_js(value: &JsValue) -> Option<Self>;
}

/// Written as a plain JS object (then `JSON.stringify` for request bodies).
pub trait ToJs {
    fn to_js(&self) -> JsValue;
}

pub fn field(value: &JsValue, key: &str) -> JsValue {
    if !value.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub fn string(value: &JsValue, key: &str) -> Option<String> {
    field(value, key).as_string()
}

pub fn opt_string(value: &JsValue, key: &str) -> Option<Option<String>> {
    let v = field(value, key);
    if v.is_undefined() || v.is_null() { Some(None) } else { v.as_string().map(Some) }
}

pub fn boolean(value: &JsValue, key: &str) -> Option<bool> {
    field(value, key).as_bool()
}

pub fn number(value: &JsValue, key: &str) -> Option<f64> {
    field(value, key).as_f64()
}

pub fn array(value: &JsValue, key: &str) -> Option<Array> {
    let v = field(value, key);
    Array::is_array(&v).then(|| v.unchecked_into())
}

pub fn strings(value: &JsValue, key: &str) -> Option<Vec<String>> {
    array(value, key)?.iter().map(|v| v.as_string()).collect()
}

/// A JS object from (key, value) pairs.
pub fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in pairs {
        let _ = Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object.into()
}

pub fn string_array(items: &[String]) -> JsValue {
    items.iter().map(|s| JsValue::from_str(s)).collect::<Array>().into()
}

impl FromJs for ClientBackupSummary {
    fn from_js(v: &JsValue) -> Option<Self> {
        Some(ClientBackupSummary {
            backup_method: string(v, "backupMethod")?,
            backup_id: string(v, "backupId")?,
            backup_share_pair_ids: strings(v, "backupSharePairIds")?,
            size: number(v, "size")? as u64,
            created_at: string(v, "createdAt")?,
            portal_notified: boolean(v, "portalNotified")?,
            confirmed: boolean(v, "confirmed")?,
        })
    }
}

impl ToJs for ClientBackupSummary {
    fn to_js(&self) -> JsValue {
        object(&[
            ("backupMethod", self.backup_method.as_str().into()),
            ("backupId", self.backup_id.as_str().into()),
            ("backupSharePairIds", string_array(&self.backup_share_pair_ids)),
            ("size", (self.size as f64).into()),
            ("createdAt", self.created_at.as_str().into()),
            ("portalNotified", self.portal_notified.into()),
            ("confirmed", self.confirmed.into()),
        ])
    }
}

impl FromJs for ClientBackup {
    fn from_js(v: &JsValue) -> Option<Self> {
        Some(ClientBackup { summary: ClientBackupSummary::from_js(v)?, cipher_text: string(v, "cipherText")? })
    }
}

impl FromJs for ClientBackupVersions {
    fn from_js(v: &JsValue) -> Option<Self> {
        let previous = field(v, "previous");
        Some(ClientBackupVersions {
            client_id: string(v, "clientId")?,
            current: ClientBackup::from_js(&field(v, "current"))?,
            previous: if previous.is_undefined() || previous.is_null() {
                None
            } else {
                Some(ClientBackup::from_js(&previous)?)
            },
        })
    }
}

impl FromJs for StoredClientBackup {
    fn from_js(v: &JsValue) -> Option<Self> {
        Some(StoredClientBackup {
            client_id: string(v, "clientId")?,
            backup: ClientBackupSummary::from_js(&field(v, "backup"))?,
        })
    }
}

impl FromJs for ClientBackupList {
    fn from_js(v: &JsValue) -> Option<Self> {
        Some(ClientBackupList {
            client_id: string(v, "clientId")?,
            backups: array(v, "backups")?.iter().map(|b| ClientBackupSummary::from_js(&b)).collect::<Option<_>>()?,
        })
    }
}

impl FromJs for ErrorBody {
    fn from_js(v: &JsValue) -> Option<Self> {
        let error = field(v, "error");
        Some(ErrorBody { error: ErrorDetail { code: string(&error, "code")?, message: string(&error, "message")? } })
    }
}

impl FromJs for DriveFileList {
    fn from_js(v: &JsValue) -> Option<Self> {
        let files = match array(v, "files") {
            Some(files) => files
                .iter()
                .map(|f| Some(DriveFile { id: string(&f, "id")?, modified_time: opt_string(&f, "modifiedTime")? }))
                .collect::<Option<_>>()?,
            // Drive leaves `files` out of an empty answer when fields= asks for it only.
            None => Vec::new(),
        };
        Some(DriveFileList { files })
    }
}

impl ToJs for StoreClientBackup {
    fn to_js(&self) -> JsValue {
        let body = object(&[
            ("cipherText", self.cipher_text.as_str().into()),
            ("backupSharePairIds", string_array(&self.backup_share_pair_ids)),
        ]);
        if let Some(notify) = self.notify_portal {
            let _ = js_sys::Reflect::set(&body, &"notifyPortal".into(), &notify.into());
        }
        body
    }
}

impl ToJs for ConfirmClientBackup {
    fn to_js(&self) -> JsValue {
        object(&[("backupId", self.backup_id.as_str().into())])
    }
}

impl ToJs for UpdateBackupSharePairs {
    fn to_js(&self) -> JsValue {
        let status = match self.status {
            BackupSharePairStatus::StoredClientBackupShareKey => "STORED_CLIENT_BACKUP_SHARE_KEY",
            BackupSharePairStatus::StoredClientBackupShare => "STORED_CLIENT_BACKUP_SHARE",
        };
        object(&[("status", status.into()), ("backupSharePairIds", string_array(&self.backup_share_pair_ids))])
    }
}
