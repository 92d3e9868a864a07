//! `checkBackup`: is this wallet recoverable right now? A recovery run in
//! memory and wiped after, beside the server's summary of the client half
//! and its list of Portal's custodian deliveries. The two lists ride along
//! the recovery's first round trip, so the check takes as many sequential
//! round trips as the recovery: two with Drive, one with a password or a
//! passkey (whose prompt is local, not a request).

use alloc::vec::Vec;

use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;

use super::http::{self, Http};
use super::join::join;
use super::js;
use super::js_error::Failure;
use super::options::Options;
use super::server::Server;
use super::{flows, webcrypto};
use crate::Error;

/// Problems that leave the backup recoverable: the last confirmed version is
/// kept while a newer one is unfinished.
const UNCONFIRMED: &str = "BACKUP_UNCONFIRMED";
const PORTAL_NOT_NOTIFIED: &str = "PORTAL_NOT_NOTIFIED";
const CUSTODIAN_MISSING: &str = "CUSTODIAN_BACKUP_MISSING";
const OUTDATED: &str = "BACKUP_OUTDATED";

/// `device_backup`: the device's current plaintext, compared by SHA-256
/// digest with what the backup opens to.
pub async fn check(options: &Options, device_backup: Option<Vec<u8>>) -> Result<JsValue, Failure> {
    let method = options.method()?.name();
    let http = Http::new(options);
    let server = Server::new(&options.server_url, &options.client_id);
    let lists = async {
        let client = server.list();
        let custodian = server.custodian_list();
        let (client, custodian) = join(http.send(&client), http.send(&custodian)).await;
        let backups = |answer: Result<JsValue, Error>| {
            answer.and_then(|answer| js::array(&server.ours(answer)?, "backups").ok_or_else(http::bad_answer))
        };
        (backups(client), backups(custodian))
    };
    let (opened, (client, custodian)) = join(flows::recover(options), lists).await;

    let mut problems: Vec<&'static str> = Vec::new();
    let mut problem = |code: &'static str| {
        if !problems.contains(&code) {
            problems.push(code);
        }
    };
    let opened = match opened {
        // Bad options are the caller's bug, not the backup's state.
        Err(failure) if failure.error.code() == "INVALID_INPUT" => return Err(failure),
        Err(failure) => {
            problem(failure.error.code());
            None
        }
        Ok(recovered) => Some(recovered),
    };
    let client_known = client.is_ok();
    let current = match client {
        Ok(backups) => backups.iter().find(|b| js::string(b, "backupMethod").as_deref() == Some(method)),
        Err(error) => {
            problem(error.code());
            None
        }
    };
    if let Some(current) = &current {
        if js::boolean(current, "confirmed") == Some(false) {
            problem(UNCONFIRMED);
        }
        if js::boolean(current, "portalNotified") == Some(false) {
            problem(PORTAL_NOT_NOTIFIED);
        }
    }
    // Portal names its deliveries by method, per curve: GDRIVE-SECP256K1.
    let custodian_stored = match custodian {
        Ok(backups) => {
            let stored = backups.iter().any(|b| {
                js::string(&b, "backupMethod")
                    .is_some_and(|name| name.strip_prefix(method).is_some_and(|rest| rest.is_empty() || rest.starts_with('-')))
            });
            if !stored && current.is_some() {
                problem(CUSTODIAN_MISSING);
            }
            Some(stored)
        }
        // Not known to be missing: the failed list is the problem.
        Err(error) => {
            problem(error.code());
            None
        }
    };
    if let Some(recovered) = &opened {
        let bytes: Uint8Array = js::field(recovered, "clientBackupBytes").unchecked_into();
        let mut plaintext = zeroize::Zeroizing::new(bytes.to_vec());
        bytes.fill(0, 0, bytes.length());
        if let Some(device) = device_backup.map(zeroize::Zeroizing::new) {
            // One after the other: local work, and one join less in the package.
            if webcrypto::sha256(&plaintext).await? != webcrypto::sha256(&device).await? {
                problem(OUTDATED);
            }
        }
        plaintext.clear();
    }
    let recoverable = opened.is_some()
        && problems.iter().all(|code| *code == UNCONFIRMED)
        && custodian_stored == Some(true);
    // The version that would be recovered, else the server's current one.
    let created_at = opened
        .as_ref()
        .or(current.as_ref())
        .map_or(JsValue::NULL, |backup| js::field(backup, "createdAt"));
    // null where the server could not be asked: unknown, not false.
    let known = |known: bool, value: bool| if known { JsValue::from(value) } else { JsValue::NULL };
    let portal_notified = known(client_known, current.as_ref().and_then(|c| js::boolean(c, "portalNotified")) == Some(true));
    let problems: Array = problems.iter().map(|code| JsValue::from_str(code)).collect();
    Ok(js::object(&[
        ("method", method.into()),
        ("recoverable", recoverable.into()),
        ("createdAt", created_at),
        ("portalNotified", portal_notified),
        ("custodianStored", known(custodian_stored.is_some(), custodian_stored == Some(true))),
        ("problems", problems.into()),
    ]))
}
