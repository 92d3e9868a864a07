//! The app's Worker (docs/SERVER-API.md): where the encrypted client backup
//! share is kept. Bodies are the `crate::wire` types.

use alloc::{string::String, format, string::ToString};
use web_sys::Response;

use super::http::{self, HttpRequest};
use super::js::FromJs;
use crate::Error;
use crate::retry::RetryPolicy;
use crate::wire::{
    ClientBackupList, ClientBackupVersions, ConfirmClientBackup, ErrorBody, StoreClientBackup, StoredClientBackup,
};

pub struct ServerClient<'a> {
    base_url: String,
    portal_token: &'a str,
    /// Refuse answers about another client: a wrong token or config must
    /// not mix two users' backups.
    client_id: &'a str,
    retry: RetryPolicy,
    timeout_ms: f64,
}

impl<'a> ServerClient<'a> {
    pub fn new(base_url: &str, portal_token: &'a str, client_id: &'a str, retry: RetryPolicy, timeout_ms: f64) -> Self {
        ServerClient { base_url: base_url.trim_end_matches('/').to_string(), portal_token, client_id, retry, timeout_ms }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v1/client-backups{path}", self.base_url)
    }

    async fn send(&self, request: HttpRequest<'_>) -> Result<Response, Error> {
        let response = http::fetch_with_retry(&request.bearer(self.portal_token), &self.retry, self.timeout_ms).await?;
        if response.ok() {
            return Ok(response);
        }
        let status = response.status();
        let body = http::read_json::<ErrorBody>(&response).await.ok();
        Err(server_error(status, body))
    }

    async fn json<T: FromJs>(&self, request: HttpRequest<'_>) -> Result<T, Error> {
        let response = self.send(request).await?;
        http::read_json(&response).await
    }

    fn check_client(&self, answered: &str) -> Result<(), Error> {
        if answered == self.client_id {
            Ok(())
        } else {
            Err(Error::Remote {
                code: "CLIENT_MISMATCH",
                message: "the server answered for another client than options.clientId: wrong portalToken or clientId".into(),
                status: None,
            })
        }
    }

    pub async fn store(&self, method: &str, body: &StoreClientBackup) -> Result<StoredClientBackup, Error> {
        let stored: StoredClientBackup = self.json(HttpRequest::new("PUT", self.url(&format!("/{method}"))).json(body)?).await?;
        self.check_client(&stored.client_id)?;
        Ok(stored)
    }

    pub async fn versions(&self, method: &str) -> Result<ClientBackupVersions, Error> {
        let versions: ClientBackupVersions = self.json(HttpRequest::new("GET", self.url(&format!("/{method}")))).await?;
        self.check_client(&versions.client_id)?;
        Ok(versions)
    }

    pub async fn list(&self) -> Result<ClientBackupList, Error> {
        let list: ClientBackupList = self.json(HttpRequest::new("GET", self.url(""))).await?;
        self.check_client(&list.client_id)?;
        Ok(list)
    }

    pub async fn delete(&self, method: &str) -> Result<(), Error> {
        self.send(HttpRequest::new("DELETE", self.url(&format!("/{method}")))).await.map(drop)
    }

    pub async fn confirm(&self, method: &str, backup_id: &str) -> Result<StoredClientBackup, Error> {
        let body = ConfirmClientBackup { backup_id: backup_id.to_string() };
        let request = HttpRequest::new("POST", self.url(&format!("/{method}/confirm"))).json(&body)?;
        let stored: StoredClientBackup = self.json(request).await?;
        self.check_client(&stored.client_id)?;
        Ok(stored)
    }

    /// Asks the Worker to tell Portal STORED_CLIENT_BACKUP_SHARE again.
    pub async fn notify(&self, method: &str) -> Result<StoredClientBackup, Error> {
        let stored: StoredClientBackup =
            self.json(HttpRequest::new("POST", self.url(&format!("/{method}/notify")))).await?;
        self.check_client(&stored.client_id)?;
        Ok(stored)
    }
}

/// The Worker's error codes a wallet can act on keep their name; the rest
/// become SERVER_RATE_LIMITED (429: try again later, not a refusal),
/// SERVER_REJECTED (other 4xx) or SERVER_UNAVAILABLE (5xx).
fn server_error(status: u16, body: Option<ErrorBody>) -> Error {
    let (code, message) = match &body {
        Some(body) => (body.error.code.as_str(), body.error.message.as_str()),
        None => ("", "no error body"),
    };
    let code = match code {
        "UNAUTHENTICATED" => "UNAUTHENTICATED",
        "ORIGIN_NOT_ALLOWED" => "ORIGIN_NOT_ALLOWED",
        "NOT_FOUND" => "BACKUP_NOT_FOUND",
        "NOT_CURRENT" => "NOT_CURRENT",
        "PAYLOAD_TOO_LARGE" => "PAYLOAD_TOO_LARGE",
        "PORTAL_UNAVAILABLE" => "PORTAL_UNAVAILABLE",
        "STORAGE_UNAVAILABLE" => "SERVER_UNAVAILABLE",
        "RATE_LIMITED" => "SERVER_RATE_LIMITED",
        _ if status == 429 => "SERVER_RATE_LIMITED",
        _ if status >= 500 => "SERVER_UNAVAILABLE",
        _ => "SERVER_REJECTED",
    };
    Error::Remote { code, message: format!("server: {message}"), status: Some(status) }
}
