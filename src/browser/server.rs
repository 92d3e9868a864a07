//! The app's Worker (docs/SERVER-API.md): where the encrypted client backup
//! share is kept. Requests on the one request path (`http`); the bodies are
//! the `crate::wire` shapes, kept as the JS values the Worker sent once the
//! fields this module relies on are checked.

use alloc::string::String;

use wasm_bindgen::prelude::*;

use super::http::{self, Answer, Request, Service};
use super::js;
use crate::Error;

pub struct Server<'a> {
    base_url: &'a str,
    /// Answers about another client are refused: a wrong token or config
    /// must not mix two users' backups.
    client_id: &'a str,
}

impl<'a> Server<'a> {
    pub fn new(base_url: &'a str, client_id: &'a str) -> Self {
        Server { base_url: base_url.trim_end_matches('/'), client_id }
    }

    fn request(&self, method: &'static str, backup_method: &str, action: &str, answer: Answer) -> Request {
        let slash = if backup_method.is_empty() { "" } else { "/" };
        let url = [self.base_url, "/v1/client-backups", slash, backup_method, action].concat();
        Request::new(Service::Server, method, url, answer)
    }

    /// Answers `CustodianBackupList`: Portal's deliveries for this client.
    pub fn custodian_list(&self) -> Request {
        Request::new(Service::Server, "GET", [self.base_url, "/v1/custodian-backups"].concat(), Answer::Json)
    }

    /// `PUT` a new version; `notifyPortal: false`: the caller tells Portal
    /// the key first, then asks `/notify`. Answers `StoredClientBackup`.
    pub fn store(&self, backup_method: &str, cipher_text: &JsValue, pair_ids: &JsValue) -> Result<Request, Error> {
        let body = js::object(&[
            ("cipherText", cipher_text.clone()),
            ("backupSharePairIds", pair_ids.clone()),
            ("notifyPortal", false.into()),
        ]);
        self.request("PUT", backup_method, "", Answer::Json).json(&body)
    }

    /// Answers `ClientBackupVersions`.
    pub fn versions(&self, backup_method: &str) -> Request {
        self.request("GET", backup_method, "", Answer::Json)
    }

    /// Answers `ClientBackupList`.
    pub fn list(&self) -> Request {
        self.request("GET", "", "", Answer::Json)
    }

    pub fn delete(&self, backup_method: &str) -> Request {
        self.request("DELETE", backup_method, "", Answer::Nothing)
    }

    /// Answers `StoredClientBackup`.
    pub fn confirm(&self, backup_method: &str, backup_id: &JsValue) -> Result<Request, Error> {
        let body = js::object(&[("backupId", backup_id.clone())]);
        self.request("POST", backup_method, "/confirm", Answer::Json).json(&body)
    }

    /// Asks the Worker to tell Portal STORED_CLIENT_BACKUP_SHARE. Answers
    /// `StoredClientBackup`.
    pub fn notify(&self, backup_method: &str) -> Request {
        self.request("POST", backup_method, "/notify", Answer::Json)
    }

    /// `answer`, once it is about our client.
    pub fn ours(&self, answer: JsValue) -> Result<JsValue, Error> {
        match js::string(&answer, "clientId") {
            Some(client_id) if client_id == self.client_id => Ok(answer),
            Some(_) => Err(Error::Remote {
                code: "CLIENT_MISMATCH",
                message: "the server answered for another client than options.clientId: wrong portalToken or clientId"
                    .into(),
                status: None,
            }),
            None => Err(http::bad_answer()),
        }
    }

    /// The `backup` of a `StoredClientBackup` answer about our client, with
    /// the fields the flows read.
    pub fn stored_backup(&self, answer: JsValue) -> Result<JsValue, Error> {
        let backup = js::field(&self.ours(answer)?, "backup");
        let readable = js::string(&backup, "backupId").is_some()
            && js::string(&backup, "createdAt").is_some()
            && js::boolean(&backup, "portalNotified").is_some()
            && js::is_string_array(&backup, "backupSharePairIds");
        if readable { Ok(backup) } else { Err(http::bad_answer()) }
    }

    /// A `ClientBackupVersions` answer about our client: `current` and
    /// `previous` (or `null`) carry their ciphertext and summary.
    pub fn versions_answer(&self, answer: JsValue) -> Result<JsValue, Error> {
        let answer = self.ours(answer)?;
        let readable = |version: &JsValue| {
            js::string(version, "cipherText").is_some()
                && js::string(version, "backupId").is_some()
                && js::string(version, "createdAt").is_some()
                && js::boolean(version, "confirmed").is_some()
                && js::is_string_array(version, "backupSharePairIds")
        };
        let previous = js::field(&answer, "previous");
        let previous_ok = previous.is_undefined() || previous.is_null() || readable(&previous);
        if readable(&js::field(&answer, "current")) && previous_ok { Ok(answer) } else { Err(http::bad_answer()) }
    }
}

/// The Worker's error codes a wallet can act on keep their name; the rest
/// become SERVER_RATE_LIMITED (429: try again later, not a refusal),
/// SERVER_REJECTED (other 4xx) or SERVER_UNAVAILABLE (5xx).
pub fn error(status: u16, code: Option<String>, message: Option<String>) -> Error {
    let code = match code.as_deref().unwrap_or_default() {
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
    let message = ["server: ", message.as_deref().unwrap_or("no error body")].concat();
    Error::Remote { code, message, status: Some(status) }
}
