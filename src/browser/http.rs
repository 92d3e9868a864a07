//! The one request path to Google Drive, the app's Worker and Portal:
//! `fetch` with a timeout, bounded retries of transient failures, Drive's
//! one token refresh, and each service's error answers read into `Error`s.
//! JSON goes through the browser's own `JSON.parse`/`JSON.stringify` (no
//! serde_json in the package). Works in a page and in a Web Worker: it uses
//! the global `fetch`, `setTimeout` and `AbortSignal`, not `window`.

use alloc::string::String;
use core::cell::RefCell;

use js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

use super::js;
use super::options::Options;
use super::{drive, portal, server};
use crate::Error;
use crate::retry::RetryPolicy;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_with(url: &str, init: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64);
    /// `AbortSignal.timeout(ms)`; `catch`: browsers before 2022 lack it.
    #[wasm_bindgen(js_namespace = AbortSignal, js_name = timeout, catch)]
    fn abort_after(ms: f64) -> Result<JsValue, JsValue>;
}

/// Who a request goes to. Each service has its own authentication, its own
/// transient failures and its own error answers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Drive,
    /// The app's Worker.
    Server,
    Portal,
}

/// What a successful answer is read as.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Json,
    Text,
    /// Not read (a DELETE's empty answer).
    Nothing,
}

pub struct Request {
    service: Service,
    method: &'static str,
    url: String,
    answer: Answer,
    content_type: Option<String>,
    /// A JS string or `Uint8Array`; `undefined` for none.
    body: JsValue,
}

impl Request {
    pub fn new(service: Service, method: &'static str, url: String, answer: Answer) -> Self {
        Request { service, method, url, answer, content_type: None, body: JsValue::UNDEFINED }
    }

    /// `body` as JSON text, written by `JSON.stringify`.
    pub fn json(mut self, body: &JsValue) -> Result<Self, Error> {
        let text = js_sys::JSON::stringify(body).map_err(|_| Error::InvalidInput("value cannot be written as JSON"))?;
        self.content_type = Some("application/json".into());
        self.body = text.into();
        Ok(self)
    }

    pub fn bytes(mut self, content_type: String, body: &[u8]) -> Self {
        self.content_type = Some(content_type);
        self.body = Uint8Array::from(body).into();
        self
    }
}

/// What to do about an answer that is not a success.
enum Verdict {
    /// Transient: try again while the retry policy allows, else fail with this.
    Retry(Error),
    /// Drive's access token expired or was revoked: ask the page for a new one.
    RefreshToken,
    Fail(Error),
}

/// What one call's requests share: the tokens, the retry bounds and the timeout.
pub struct Http<'a> {
    portal_token: &'a str,
    get_drive_token: Option<&'a Function>,
    /// The page hands out a Drive token per call; the flow keeps it and asks
    /// again only after a 401.
    drive_token: RefCell<Option<String>>,
    retry: RetryPolicy,
    timeout_ms: f64,
}

impl<'a> Http<'a> {
    pub fn new(options: &'a Options) -> Self {
        Http {
            portal_token: &options.portal_token,
            get_drive_token: options.get_drive_token.as_ref(),
            drive_token: RefCell::new(None),
            retry: options.retry,
            timeout_ms: options.timeout_ms,
        }
    }

    /// Sends `request` until it succeeds or the policy says stop; returns the
    /// answer read as `request` asks.
    pub async fn send(&self, request: &Request) -> Result<JsValue, Error> {
        let started = js_sys::Date::now();
        let (mut failed, mut refreshed) = (0, false);
        loop {
            let token = match request.service {
                Service::Drive => self.drive_token().await?,
                Service::Server | Service::Portal => self.portal_token.into(),
            };
            let verdict = match self.fetch(request, &token).await {
                Some(response) if response.ok() => return read(&response, request.answer).await,
                Some(response) => {
                    let status = response.status();
                    let body = match response.json() {
                        Ok(promise) => JsFuture::from(promise).await.unwrap_or(JsValue::UNDEFINED),
                        Err(_) => JsValue::UNDEFINED,
                    };
                    verdict(request.service, status, &body)
                }
                None => Verdict::Retry(no_answer(&request.url)),
            };
            match verdict {
                Verdict::RefreshToken if !refreshed => {
                    refreshed = true;
                    self.drive_token.replace(None);
                }
                Verdict::RefreshToken => return Err(drive::error("DRIVE_UNAUTHENTICATED", Some(401))),
                Verdict::Fail(error) => return Err(error),
                Verdict::Retry(error) => {
                    failed += 1;
                    match self.retry.delay_ms(failed, js_sys::Math::random(), js_sys::Date::now() - started) {
                        Some(delay) => sleep(delay).await,
                        None => return Err(error),
                    }
                }
            }
        }
    }

    /// `fetch` once; `None` when no HTTP answer came (offline, refused,
    /// CORS, timed out). A request that hangs is aborted after the timeout:
    /// a user must not wait forever on a spinner.
    async fn fetch(&self, request: &Request, token: &str) -> Option<Response> {
        let headers = js::object(&[("Authorization", ["Bearer ", token].concat().into())]);
        if let Some(content_type) = &request.content_type {
            js::set(&headers, "Content-Type", &content_type.into());
        }
        let init =
            js::object(&[("method", request.method.into()), ("headers", headers), ("body", request.body.clone())]);
        if let Ok(signal) = abort_after(self.timeout_ms) {
            js::set(&init, "signal", &signal);
        }
        JsFuture::from(fetch_with(&request.url, &init)).await.ok().map(JsCast::unchecked_into)
    }

    /// Calls the page's `getDriveToken()` (sync or async) unless the flow
    /// holds a token already.
    async fn drive_token(&self) -> Result<String, Error> {
        if let Some(token) = self.drive_token.borrow().as_ref() {
            return Ok(token.clone());
        }
        let refused = || Error::Remote {
            code: "DRIVE_TOKEN_UNAVAILABLE",
            message: "getDriveToken() gave no token".into(),
            status: None,
        };
        let get_token = self.get_drive_token.ok_or(Error::InvalidInput("GDRIVE needs a getDriveToken function"))?;
        let value = get_token.call0(&JsValue::UNDEFINED).map_err(|_| refused())?;
        // A token or a promise of one.
        let value = JsFuture::from(Promise::resolve(&value)).await.map_err(|_| refused())?;
        let token = value.as_string().filter(|token| !token.is_empty()).ok_or_else(refused)?;
        self.drive_token.replace(Some(token.clone()));
        Ok(token)
    }
}

/// Each service's reading of an error answer (its status and JSON body).
fn verdict(service: Service, status: u16, body: &JsValue) -> Verdict {
    let error = js::field(body, "error");
    let transient = matches!(status, 408 | 429 | 500..=599);
    let error = match service {
        Service::Drive => {
            // Drive v3: `error.errors[0].reason`.
            let reason = js::array(&error, "errors").and_then(|errors| js::string(&errors.get(0), "reason"));
            return Verdict::from_drive(crate::drive::classify_failure(status, reason.as_deref()), status);
        }
        Service::Server => server::error(status, js::string(&error, "code"), js::string(&error, "message")),
        Service::Portal => portal::error(status),
    };
    if transient { Verdict::Retry(error) } else { Verdict::Fail(error) }
}

impl Verdict {
    fn from_drive(failure: crate::drive::DriveFailure, status: u16) -> Self {
        use crate::drive::{DriveFailure, exhausted_code};
        match failure {
            DriveFailure::Retry => Verdict::Retry(drive::error(exhausted_code(status), Some(status))),
            DriveFailure::RefreshToken => Verdict::RefreshToken,
            DriveFailure::Fail(code) => Verdict::Fail(drive::error(code, Some(status))),
        }
    }
}

async fn read(response: &Response, answer: Answer) -> Result<JsValue, Error> {
    let promise = match answer {
        Answer::Json => response.json(),
        Answer::Text => response.text(),
        Answer::Nothing => return Ok(JsValue::UNDEFINED),
    };
    let body = match promise {
        Ok(promise) => JsFuture::from(promise).await.ok(),
        Err(_) => None,
    };
    body.ok_or_else(|| match answer {
        Answer::Text => network("the answer was cut off"),
        _ => bad_answer(),
    })
}

/// Resolves after `ms` milliseconds.
async fn sleep(ms: f64) {
    let promise = Promise::new(&mut |resolve, _reject| set_timeout(&resolve, ms));
    let _ = JsFuture::from(promise).await;
}

/// The URL's host says which service failed; the URL itself may carry ids.
fn no_answer(url: &str) -> Error {
    let bytes = url.as_bytes();
    let start = bytes.windows(3).position(|w| w == b"://").map_or(0, |at| at + 3);
    let end = bytes.iter().skip(start).position(|&b| b == b'/' || b == b'?').map_or(bytes.len(), |len| start + len);
    let host = url.get(start..end).unwrap_or_default();
    network(&["no answer from ", host, " (offline, refused, blocked or timed out)"].concat())
}

pub fn network(message: &str) -> Error {
    Error::Remote { code: "NETWORK", message: ["network: ", message].concat(), status: None }
}

/// A server answered 2xx with a body that is not what its API says.
pub fn bad_answer() -> Error {
    Error::Remote { code: "BAD_RESPONSE", message: "a server answered with an unexpected body".into(), status: None }
}
