//! Google Drive v3 over `fetch`: the key file in appDataFolder. Decisions
//! (names, bodies, what an error means) live in `crate::drive`.

use alloc::{string::String, vec::Vec, format, string::ToString};
use ::core::cell::RefCell;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

use super::http::{self, Body, HttpRequest};
use super::js::{self, FromJs};
use crate::Error;
use crate::drive::{self as core, DriveFailure, DriveFile, DriveFileList};
use crate::retry::RetryPolicy;

pub const DEFAULT_API_URL: &str = "https://www.googleapis.com";

pub struct DriveClient {
    api_url: String,
    get_token: Function,
    /// The page hands out a token per call; we keep it for the whole flow
    /// and ask again only after a 401.
    token: RefCell<Option<String>>,
    retry: RetryPolicy,
    timeout_ms: f64,
}

/// `error.errors[0].reason` of a Google error body.
struct GoogleErrorReason(Option<String>);

impl FromJs for GoogleErrorReason {
    fn from_js(value: &JsValue) -> Option<Self> {
        let first = js::array(&js::field(value, "error"), "errors").map(|errors| errors.get(0));
        Some(GoogleErrorReason(first.and_then(|item| js::string(&item, "reason"))))
    }
}

struct CreatedFile {
    id: String,
}

impl FromJs for CreatedFile {
    fn from_js(value: &JsValue) -> Option<Self> {
        Some(CreatedFile { id: js::string(value, "id")? })
    }
}

impl DriveClient {
    pub fn new(api_url: &str, get_token: Function, retry: RetryPolicy, timeout_ms: f64) -> Self {
        DriveClient {
            api_url: api_url.trim_end_matches('/').to_string(),
            get_token,
            token: RefCell::new(None),
            retry,
            timeout_ms,
        }
    }

    /// Calls the page's `getDriveToken()` (sync or async).
    async fn fresh_token(&self) -> Result<String, Error> {
        let refused =
            || Error::Remote { code: "DRIVE_TOKEN_UNAVAILABLE", message: "getDriveToken() gave no token".into(), status: None };
        let value = self.get_token.call0(&JsValue::UNDEFINED).map_err(|_| refused())?;
        let value = if value.is_instance_of::<Promise>() {
            JsFuture::from(value.unchecked_into::<Promise>()).await.map_err(|_| refused())?
        } else {
            value
        };
        let token = value.as_string().filter(|t| !t.is_empty()).ok_or_else(refused)?;
        *self.token.borrow_mut() = Some(token.clone());
        Ok(token)
    }

    async fn token(&self) -> Result<String, Error> {
        let cached = self.token.borrow().clone();
        match cached {
            Some(token) => Ok(token),
            None => self.fresh_token().await,
        }
    }

    /// One Drive call: a 401 refreshes the token once; rate limits, 5xx and
    /// network failures back off and retry within the policy's bounds.
    async fn call(&self, method: &str, path_and_query: &str, content_type: Option<String>, body: Body) -> Result<Response, Error> {
        let started = http::now_ms();
        let mut refreshed = false;
        let mut failed = 0;
        let mut request = HttpRequest::new(method, format!("{}{}", self.api_url, path_and_query));
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", content_type);
        }
        request.body = body;
        loop {
            let token = self.token().await?;
            let attempt = request.clone().bearer(&token);
            let (status, failure) = match http::fetch_once(&attempt, self.timeout_ms).await {
                Ok(response) if response.ok() => return Ok(response),
                Ok(response) => {
                    let status = response.status();
                    let reason = http::read_json::<GoogleErrorReason>(&response).await.ok().and_then(|r| r.0);
                    (Some(status), core::classify_failure(status, reason.as_deref()))
                }
                Err(_) => (None, DriveFailure::Retry),
            };
            match failure {
                DriveFailure::RefreshToken if !refreshed => {
                    refreshed = true;
                    self.fresh_token().await?;
                    continue;
                }
                DriveFailure::RefreshToken => return Err(drive_error("DRIVE_UNAUTHENTICATED", status)),
                DriveFailure::Fail(code) => return Err(drive_error(code, status)),
                DriveFailure::Retry => {
                    failed += 1;
                    match self.retry.delay_ms(failed, js_sys::Math::random(), http::now_ms() - started) {
                        Some(delay) => http::sleep(delay).await,
                        None => {
                            return Err(match status {
                                Some(status) => drive_error(core::exhausted_code(status), Some(status)),
                                None => http::network("Google Drive did not answer"),
                            });
                        }
                    }
                }
            }
        }
    }

    /// Creates a new key file (never overwrites: the old one stays until the
    /// whole backup is confirmed). Returns its id.
    pub async fn create_key_file(&self, name: &str, key_text: &str) -> Result<String, Error> {
        let mut boundary_bytes = [0u8; 16];
        getrandom::fill(&mut boundary_bytes).map_err(|_| Error::Randomness)?;
        let boundary = format!("portal-backup-{}", core::hex_lower(&boundary_bytes));
        let upload = core::multipart_create_body(name, key_text.as_bytes(), &boundary)?;
        let response = self
            .call(
                "POST",
                "/upload/drive/v3/files?uploadType=multipart&fields=id",
                Some(upload.content_type),
                Body::Bytes(upload.body),
            )
            .await?;
        Ok(http::read_json::<CreatedFile>(&response).await?.id)
    }

    pub async fn read_file(&self, file_id: &str) -> Result<String, Error> {
        let path = format!("/drive/v3/files/{}?alt=media", core::percent_encode(file_id));
        let response = self.call("GET", &path, None, Body::None).await?;
        http::read_text(&response).await
    }

    /// Every key file of that name, newest first.
    pub async fn list_key_files(&self, name: &str) -> Result<Vec<DriveFile>, Error> {
        let path = format!("/drive/v3/files?{}", core::list_query(name));
        let response = self.call("GET", &path, None, Body::None).await?;
        Ok(core::newest_first(http::read_json::<DriveFileList>(&response).await?.files))
    }

    /// Deletes a file; one already gone counts as deleted.
    pub async fn delete_file(&self, file_id: &str) -> Result<(), Error> {
        let path = format!("/drive/v3/files/{}", core::percent_encode(file_id));
        match self.call("DELETE", &path, None, Body::None).await {
            Err(error) if error.code() == "DRIVE_NOT_FOUND" => Ok(()),
            other => other.map(drop),
        }
    }
}

fn drive_error(code: &'static str, status: Option<u16>) -> Error {
    let message = match code {
        "DRIVE_UNAUTHENTICATED" => "Google Drive refused the access token, also after getDriveToken() gave a new one",
        "DRIVE_QUOTA_EXCEEDED" => "the user's Google Drive is full",
        "DRIVE_PERMISSION_DENIED" => "Google Drive denied access (is the drive.appdata scope granted?)",
        "DRIVE_NOT_FOUND" => "the key file is not in Google Drive",
        "DRIVE_RATE_LIMITED" => "Google Drive kept rate-limiting the requests",
        "DRIVE_UNAVAILABLE" => "Google Drive kept failing",
        _ => "Google Drive refused the request",
    };
    Error::Remote { code, message: format!("google drive: {message}"), status }
}

