//! Portal's client API: telling Portal which halves of a backup share pair
//! are stored (`PATCH /api/v3/clients/me/backup-share-pairs`), on the one
//! request path (`http`).

use alloc::string::String;

use wasm_bindgen::prelude::*;

use super::http::{Answer, Auth, Http, Request, Verdict};
use super::js;
use crate::wire::BackupSharePairStatus;
use crate::{Error, ErrorCode};

/// `UpdateBackupSharePairs`: `status` for the pairs `backup_share_pair_ids`.
pub async fn update_backup_share_pairs(
    http: &Http<'_>,
    api_url: &str,
    status: BackupSharePairStatus,
    backup_share_pair_ids: &[String],
) -> Result<(), Error> {
    let status = match status {
        BackupSharePairStatus::StoredClientBackupShareKey => "STORED_CLIENT_BACKUP_SHARE_KEY",
        BackupSharePairStatus::StoredClientBackupShare => "STORED_CLIENT_BACKUP_SHARE",
    };
    let url = [api_url.trim_end_matches('/'), "/api/v3/clients/me/backup-share-pairs"].concat();
    let body = js::object(&[("status", status.into()), ("backupSharePairIds", js::string_array(backup_share_pair_ids))]);
    http.send(&Request::new(Auth::Portal, read_error, "PATCH", url, Answer::Nothing).json(&body)?).await?;
    Ok(())
}

/// Portal's error bodies are not documented beyond the status: key on it.
fn read_error(status: u16, _body: &JsValue) -> Verdict {
    let (code, message) = match status {
        // 403 is a refused token too (the Worker treats Portal's 401 and 403
        // alike): retrying later does not help, a new token does.
        401 | 403 => (ErrorCode::PortalUnauthenticated, "portal: Portal refused the portalToken"),
        400 | 404 | 422 => (ErrorCode::PortalRejected, "portal: Portal refused the backup share pair update"),
        429 => (ErrorCode::PortalRateLimited, "portal: Portal kept rate-limiting the requests"),
        _ => (ErrorCode::PortalUnavailable, "portal: Portal kept failing"),
    };
    Verdict::by_status(status, Error::remote(code, message, Some(status)))
}
