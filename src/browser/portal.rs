//! Portal's client API: telling Portal which halves of a backup share pair
//! are stored (`PATCH /api/v3/clients/me/backup-share-pairs`), on the one
//! request path (`http`).

use wasm_bindgen::prelude::*;

use super::http::{Answer, Request, Service};
use super::js;
use crate::Error;
use crate::wire::BackupSharePairStatus;

pub const DEFAULT_API_URL: &str = "https://api.portalhq.io";

/// `status` for the pairs `backup_share_pair_ids` (a JS array of strings).
pub fn update_backup_share_pairs(
    api_url: &str,
    status: BackupSharePairStatus,
    backup_share_pair_ids: &JsValue,
) -> Result<Request, Error> {
    let status = match status {
        BackupSharePairStatus::StoredClientBackupShareKey => "STORED_CLIENT_BACKUP_SHARE_KEY",
        BackupSharePairStatus::StoredClientBackupShare => "STORED_CLIENT_BACKUP_SHARE",
    };
    let url = [api_url.trim_end_matches('/'), "/api/v3/clients/me/backup-share-pairs"].concat();
    let body = js::object(&[("status", status.into()), ("backupSharePairIds", backup_share_pair_ids.clone())]);
    Request::new(Service::Portal, "PATCH", url, Answer::Nothing).json(&body)
}

/// Portal's error bodies are not documented beyond the status: key on it.
pub fn error(status: u16) -> Error {
    let (code, message) = match status {
        // 403 is a refused token too (the Worker treats Portal's 401 and 403
        // alike): retrying later does not help, a new token does.
        401 | 403 => ("PORTAL_UNAUTHENTICATED", "portal: Portal refused the portalToken"),
        400 | 404 | 422 => ("PORTAL_REJECTED", "portal: Portal refused the backup share pair update"),
        429 => ("PORTAL_RATE_LIMITED", "portal: Portal kept rate-limiting the requests"),
        _ => ("PORTAL_UNAVAILABLE", "portal: Portal kept failing"),
    };
    Error::Remote { code, message: message.into(), status: Some(status) }
}
