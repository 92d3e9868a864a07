//! Portal's client API: telling Portal which halves of a backup share pair
//! are stored (`PATCH /api/v3/clients/me/backup-share-pairs`).

use alloc::{string::String, format};
use super::http::{self, HttpRequest};
use crate::Error;
use crate::retry::RetryPolicy;
use crate::wire::{BackupSharePairStatus, UpdateBackupSharePairs};

pub const DEFAULT_API_URL: &str = "https://api.portalhq.io";

pub async fn update_backup_share_pairs(
    api_url: &str,
    portal_token: &str,
    status: BackupSharePairStatus,
    backup_share_pair_ids: &[String],
    retry: &RetryPolicy,
    timeout_ms: f64,
) -> Result<(), Error> {
    let body = UpdateBackupSharePairs { status, backup_share_pair_ids: backup_share_pair_ids.to_vec() };
    let url = format!("{}/api/v3/clients/me/backup-share-pairs", api_url.trim_end_matches('/'));
    let request = HttpRequest::new("PATCH", url).bearer(portal_token).json(&body)?;
    let response = http::fetch_with_retry(&request, retry, timeout_ms).await?;
    if response.ok() {
        return Ok(());
    }
    // Portal's error bodies are not documented beyond the status: key on it.
    let status = response.status();
    // 403 is a refused token too (the Worker treats Portal's 401 and 403 alike):
    // retrying later does not help, a new token does.
    let (code, message) = match status {
        401 | 403 => ("PORTAL_UNAUTHENTICATED", "Portal refused the portalToken"),
        400 | 404 | 422 => ("PORTAL_REJECTED", "Portal refused the backup share pair update"),
        429 => ("PORTAL_RATE_LIMITED", "Portal kept rate-limiting the requests"),
        _ => ("PORTAL_UNAVAILABLE", "Portal kept failing"),
    };
    Err(Error::Remote { code, message: format!("portal: {message}"), status: Some(status) })
}
