//! The app's Worker (docs/SERVER-API.md): where the encrypted client backup
//! share is kept. Each call builds its body from a `crate::wire` type and
//! reads the answer once, here, into one: the flows never see the Worker's
//! JSON. An answer about another client is refused.

use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;

use wasm_bindgen::prelude::*;

use super::http::{self, Answer, Auth, Http, Request, Verdict};
use super::js;
use crate::wire::{ClientBackup, ClientBackupSummary, ClientBackupVersions, CustodianBackupSummary};
use crate::{Error, ErrorCode};

pub struct Server<'a> {
    http: &'a Http<'a>,
    base_url: &'a str,
    /// Answers about another client are refused: a wrong token or config
    /// must not mix two users' backups.
    client_id: &'a str,
}

impl<'a> Server<'a> {
    pub fn new(http: &'a Http<'a>, base_url: &'a str, client_id: &'a str) -> Self {
        Server { http, base_url: base_url.trim_end_matches('/'), client_id }
    }

    fn request(&self, method: &'static str, backup_method: &str, action: &str, answer: Answer) -> Request {
        let slash = if backup_method.is_empty() { "" } else { "/" };
        let url = [self.base_url, "/v1/client-backups", slash, backup_method, action].concat();
        Request::new(Auth::Portal, read_error, method, url, answer)
    }

    /// Sends `request`; the answer's body once it is about our client.
    async fn ours(&self, request: &Request) -> Result<JsValue, Error> {
        let answer = self.http.send(request).await?;
        match js::string(&answer, "clientId") {
            Some(client_id) if client_id == self.client_id => Ok(answer),
            Some(_) => Err(Error::remote(
                ErrorCode::ClientMismatch,
                "the server answered for another client than options.clientId: wrong portalToken or clientId",
                None,
            )),
            None => Err(http::bad_answer()),
        }
    }

    /// `PUT` a new version (`StoreClientBackup` with `notifyPortal: false`:
    /// the flow tells Portal the key first, then asks `/notify`; `rekeyOf`:
    /// changeBackupKey's re-seal of that confirmed version). Not `async`
    /// itself, like `confirm` and `notify`: the three share the one future
    /// of `stored`.
    pub fn store(
        &self,
        backup_method: &str,
        cipher_text: &str,
        pair_ids: &[String],
        rekey_of: Option<&str>,
    ) -> impl Future<Output = Result<ClientBackupSummary, Error>> + '_ {
        let body = js::object(&[
            ("cipherText", cipher_text.into()),
            ("backupSharePairIds", js::string_array(pair_ids)),
            ("notifyPortal", false.into()),
        ]);
        js::set_string(&body, "rekeyOf", rekey_of);
        self.stored(self.request("PUT", backup_method, "", Answer::Json).json(&body))
    }

    /// `ConfirmClientBackup`: the whole backup finished.
    pub fn confirm(&self, backup_method: &str, backup_id: &str) -> impl Future<Output = Result<ClientBackupSummary, Error>> + '_ {
        let body = js::object(&[("backupId", backup_id.into())]);
        self.stored(self.request("POST", backup_method, "/confirm", Answer::Json).json(&body))
    }

    /// Asks the Worker to tell Portal STORED_CLIENT_BACKUP_SHARE.
    pub fn notify(&self, backup_method: &str) -> impl Future<Output = Result<ClientBackupSummary, Error>> + '_ {
        self.stored(Ok(self.request("POST", backup_method, "/notify", Answer::Json)))
    }

    /// The `backup` of a `StoredClientBackup` answer.
    async fn stored(&self, request: Result<Request, Error>) -> Result<ClientBackupSummary, Error> {
        summary(&js::field(&self.ours(&request?).await?, "backup")).ok_or_else(http::bad_answer)
    }

    /// `ClientBackupVersions`: the newest version and, until it is
    /// confirmed, the last confirmed one.
    pub async fn versions(&self, backup_method: &str) -> Result<ClientBackupVersions, Error> {
        let answer = self.ours(&self.request("GET", backup_method, "", Answer::Json)).await?;
        let previous = js::field(&answer, "previous");
        let previous = if previous.is_null() || previous.is_undefined() { None } else { Some(stored_version(&previous)?) };
        Ok(ClientBackupVersions { client_id: self.client_id.into(), current: stored_version(&js::field(&answer, "current"))?, previous })
    }

    /// `ClientBackupList`: one summary per method.
    pub async fn list(&self) -> Result<Vec<ClientBackupSummary>, Error> {
        let answer = self.ours(&self.request("GET", "", "", Answer::Json)).await?;
        js::each(&js::field(&answer, "backups"), |item| summary(&item)).ok_or_else(http::bad_answer)
    }

    /// `CustodianBackupList`: Portal's deliveries for this client.
    pub async fn custodian_list(&self) -> Result<Vec<CustodianBackupSummary>, Error> {
        let url = [self.base_url, "/v1/custodian-backups"].concat();
        let answer = self.ours(&Request::new(Auth::Portal, read_error, "GET", url, Answer::Json)).await?;
        let delivery = |item: JsValue| {
            Some(CustodianBackupSummary {
                backup_method: js::string(&item, "backupMethod")?,
                received_at: js::string(&item, "receivedAt")?,
            })
        };
        js::each(&js::field(&answer, "backups"), delivery).ok_or_else(http::bad_answer)
    }

    /// Removes the method's backup; one already gone counts as removed.
    pub async fn delete(&self, backup_method: &str) -> Result<(), Error> {
        match self.http.send(&self.request("DELETE", backup_method, "", Answer::Nothing)).await {
            Err(error) if error.code() != ErrorCode::BackupNotFound => Err(error),
            _ => Ok(()),
        }
    }
}

/// A `ClientBackupSummary` as the Worker writes it; `None` if it is not one.
fn summary(value: &JsValue) -> Option<ClientBackupSummary> {
    Some(ClientBackupSummary {
        backup_method: js::string(value, "backupMethod")?,
        backup_id: js::string(value, "backupId")?,
        backup_share_pair_ids: js::strings(value, "backupSharePairIds")?,
        size: js::number(value, "size")? as u64,
        created_at: js::string(value, "createdAt")?,
        portal_notified: js::boolean(value, "portalNotified")?,
        confirmed: js::boolean(value, "confirmed")?,
    })
}

fn stored_version(value: &JsValue) -> Result<ClientBackup, Error> {
    let read = || Some(ClientBackup { summary: summary(value)?, cipher_text: js::string(value, "cipherText")? });
    read().ok_or_else(http::bad_answer)
}

/// The Worker's error codes a wallet can act on keep their name; the rest
/// become SERVER_RATE_LIMITED (429: try again later, not a refusal),
/// SERVER_REJECTED (other 4xx) or SERVER_UNAVAILABLE (5xx).
fn read_error(status: u16, body: &JsValue) -> Verdict {
    let error = js::field(body, "error");
    let code = match js::string(&error, "code").as_deref().unwrap_or_default() {
        "UNAUTHENTICATED" => ErrorCode::Unauthenticated,
        "ORIGIN_NOT_ALLOWED" => ErrorCode::OriginNotAllowed,
        "NOT_FOUND" => ErrorCode::BackupNotFound,
        "NOT_CURRENT" => ErrorCode::NotCurrent,
        "PAYLOAD_TOO_LARGE" => ErrorCode::PayloadTooLarge,
        "PORTAL_UNAVAILABLE" => ErrorCode::PortalUnavailable,
        "STORAGE_UNAVAILABLE" => ErrorCode::ServerUnavailable,
        "RATE_LIMITED" => ErrorCode::ServerRateLimited,
        _ if status == 429 => ErrorCode::ServerRateLimited,
        _ if status >= 500 => ErrorCode::ServerUnavailable,
        _ => ErrorCode::ServerRejected,
    };
    let message = ["server: ", js::string(&error, "message").as_deref().unwrap_or("no error body")].concat();
    Verdict::by_status(status, Error::Remote { code, message, status: Some(status) })
}
