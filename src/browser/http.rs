//! The one request path to Google Drive, the app's Worker and Portal:
//! `fetch` with a timeout, bounded retries of transient failures and Drive's
//! one token refresh. It knows no service: each request carries its
//! service's reader of error answers (`Request::errors`), so the services
//! sit above this module and nothing here imports them. JSON goes through
//! the browser's own `JSON.parse`/`JSON.stringify` (no serde_json in the
//! package). Works in a page and in a Web Worker: it uses the global
//! `fetch`, `setTimeout` and `AbortSignal`, not `window`.

use alloc::string::String;
use alloc::boxed::Box;
use core::cell::Cell;
use core::future::Future;
use core::pin::Pin;

use js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

use super::js;
use super::options::Options;
use crate::retry::RetryPolicy;
use crate::{Error, ErrorCode};

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

/// Which token a request carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The page's Drive access token (`getDriveToken`), as a Bearer header.
    Drive,
    /// The Portal token, which the app's Worker takes too.
    Portal,
    /// CloudKit's web auth token (`icloud.getWebAuthToken`), as the
    /// `ckWebAuthToken` query parameter. Good for one request: each answer
    /// carries the next (`icloud::NEXT_TOKEN_HEADER`), so `Http` sends
    /// CloudKit requests one at a time, in the order they were made.
    ICloud,
}

/// A service's reading of one of its error answers (status, JSON body or
/// `undefined`).
pub type ReadError = fn(u16, &JsValue) -> Verdict;

/// What a successful answer is read as.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Json,
    Text,
    /// Not read (a DELETE's empty answer).
    Nothing,
}

pub struct Request {
    auth: Auth,
    errors: ReadError,
    method: &'static str,
    url: String,
    answer: Answer,
    content_type: Option<String>,
    /// A JS string or `Uint8Array`; `undefined` for none.
    body: JsValue,
}

impl Request {
    pub fn new(auth: Auth, errors: ReadError, method: &'static str, url: String, answer: Answer) -> Self {
        Request { auth, errors, method, url, answer, content_type: None, body: JsValue::UNDEFINED }
    }

    /// `body` as JSON text, written by `JSON.stringify`.
    pub fn json(mut self, body: &JsValue) -> Result<Self, Error> {
        let text = js_sys::JSON::stringify(body).map_err(|_| Error::InvalidInput("value cannot be written as JSON"))?;
        self.content_type = Some("application/json".into());
        self.body = text.into();
        Ok(self)
    }

    /// The body's type as `text/plain`: with no header but the content type
    /// (CloudKit's tokens ride in the URL), the request is a CORS simple
    /// request, which a browser sends with no preflight.
    pub fn as_plain_text(mut self) -> Self {
        self.content_type = Some("text/plain".into());
        self
    }

    pub fn bytes(mut self, content_type: String, body: &[u8]) -> Self {
        self.content_type = Some(content_type);
        self.body = Uint8Array::from(body).into();
        self
    }
}

/// What to do about an answer that is not a success.
pub enum Verdict {
    /// Transient: try again while the retry policy allows, waiting at least
    /// the ms given (a service's `retryAfter`), else fail with this.
    Retry(Error, f64),
    /// Drive's access token expired or was revoked: ask the page for a new
    /// one, once; fail with this if the new one is refused too.
    RefreshToken(Error),
    Fail(Error),
}

impl Verdict {
    /// Retry the statuses every service calls transient, else fail.
    pub fn by_status(status: u16, error: Error) -> Self {
        if matches!(status, 408 | 429 | 500..=599) { Verdict::Retry(error, 0.0) } else { Verdict::Fail(error) }
    }
}

/// A token the page hands out through a function (`getDriveToken`,
/// `icloud.getWebAuthToken`), sync or async. The flow keeps it and asks
/// again only when the service refused it (or, for CloudKit, gave no next one).
struct PageToken<'a> {
    get: Option<&'a Function>,
    held: Cell<Option<String>>,
    /// The page's answer while it is awaited: requests that need the token
    /// at the same moment share one call to the page (one consent popup).
    pending: Cell<Option<Promise>>,
    missing: Error,
    refused: ErrorCode,
}

impl PageToken<'_> {
    /// The token to send. `again`: the service refused the last one, so the
    /// page is asked with `{signInAgain: true}` (it may have no newer token
    /// than the refused one: then the user must sign in again).
    async fn token(&self, again: bool) -> Result<String, Error> {
        if let Some(token) = self.held.take() {
            self.held.set(Some(token.clone()));
            return Ok(token);
        }
        let refused = || Error::remote(self.refused, "the page's token function gave no token", None);
        let promise = match self.pending.take() {
            Some(promise) => promise,
            None => {
                let get = self.get.ok_or_else(|| self.missing.clone())?;
                let value = if again {
                    get.call1(&JsValue::UNDEFINED, &js::object(&[("signInAgain", true.into())]))
                } else {
                    get.call0(&JsValue::UNDEFINED)
                };
                // A token or a promise of one.
                Promise::resolve(&value.map_err(|_| refused())?)
            }
        };
        self.pending.set(Some(promise.clone()));
        let value = JsFuture::from(promise).await;
        self.pending.set(None);
        let token = value.ok().and_then(|value| value.as_string()).filter(|token| !token.is_empty()).ok_or_else(refused)?;
        self.held.set(Some(token.clone()));
        Ok(token)
    }
}

/// What one call's requests share: the tokens, the retry bounds and the timeout.
pub struct Http<'a> {
    portal_token: &'a str,
    drive: PageToken<'a>,
    icloud: PageToken<'a>,
    /// `icloud.onWebAuthToken`: told each new token.
    icloud_keep: Option<&'a Function>,
    /// Settles once every CloudKit request made so far is done (`turn`).
    icloud_queue: Cell<Option<Promise>>,
    retry: RetryPolicy,
    timeout_ms: f64,
}

impl<'a> Http<'a> {
    pub fn new(options: &'a Options) -> Self {
        Http {
            portal_token: &options.portal_token,
            drive: PageToken {
                get: options.get_drive_token.as_ref(),
                held: Cell::new(None),
                pending: Cell::new(None),
                missing: Error::InvalidInput("GDRIVE needs a getDriveToken function"),
                refused: ErrorCode::DriveTokenUnavailable,
            },
            icloud: PageToken {
                get: options.icloud.as_ref().map(|icloud| &icloud.get_web_auth_token),
                held: Cell::new(None),
                pending: Cell::new(None),
                missing: Error::InvalidInput("ICLOUD needs icloud.getWebAuthToken"),
                refused: ErrorCode::IcloudTokenUnavailable,
            },
            icloud_keep: options.icloud.as_ref().and_then(|icloud| icloud.on_web_auth_token.as_ref()),
            icloud_queue: Cell::new(None),
            retry: options.retry,
            timeout_ms: options.timeout_ms,
        }
    }

    /// Sends `request` until it succeeds or the policy says stop; returns the
    /// answer read as `request` asks. Boxed: every service call awaits it,
    /// and a future of its own keeps one copy of the retry loop in the
    /// package instead of one inlined into each caller's state machine.
    pub fn send<'r>(&'r self, request: &'r Request) -> Pin<Box<dyn Future<Output = Result<JsValue, Error>> + 'r>> {
        Box::pin(self.send_until_done(request))
    }

    async fn send_until_done(&self, request: &Request) -> Result<JsValue, Error> {
        // CloudKit: the whole request, retries and a sign-in again included,
        // holds the token until its answer hands on the next one.
        let _turn = if request.auth == Auth::ICloud { Some(self.turn().await) } else { None };
        let started = js_sys::Date::now();
        let (mut failed, mut refreshed) = (0, false);
        loop {
            let token = match request.auth {
                Auth::Drive => self.drive.token(refreshed).await?,
                Auth::ICloud => self.icloud.token(refreshed).await?,
                Auth::Portal => self.portal_token.into(),
            };
            let verdict = match self.fetch(request, &token).await {
                Some(response) if response.ok() => return read(&response, request.answer).await,
                Some(response) => {
                    let status = response.status();
                    let body = match response.json() {
                        Ok(promise) => JsFuture::from(promise).await.unwrap_or(JsValue::UNDEFINED),
                        Err(_) => JsValue::UNDEFINED,
                    };
                    (request.errors)(status, &body)
                }
                None => Verdict::Retry(no_answer(&request.url), 0.0),
            };
            match verdict {
                Verdict::RefreshToken(_) if !refreshed => {
                    refreshed = true;
                    match request.auth {
                        Auth::Drive => self.drive.held.set(None),
                        _ => self.icloud.held.set(None),
                    }
                }
                Verdict::RefreshToken(error) | Verdict::Fail(error) => return Err(error),
                Verdict::Retry(error, at_least) => {
                    failed += 1;
                    let elapsed = js_sys::Date::now() - started;
                    match self.retry.delay_at_least_ms(failed, js_sys::Math::random(), elapsed, at_least) {
                        Some(delay) => sleep(delay).await,
                        None => return Err(error),
                    }
                }
            }
        }
    }

    /// Waits until the CloudKit requests that took their turn before this
    /// one are done. This one's turn ends when the `Done` it returns is
    /// dropped, or when this future is, should it be dropped while waiting.
    async fn turn(&self) -> Done {
        let mut done = None;
        let ours = Promise::new(&mut |resolve, _reject| done = Some(resolve));
        let before = self.icloud_queue.take();
        // The next request waits for ours and for every one before it,
        // even should ours be dropped while it waits.
        let queue = match &before {
            Some(before) => Promise::all(&js_sys::Array::of2(before, &ours)),
            None => ours,
        };
        self.icloud_queue.set(Some(queue));
        let done = Done(done);
        if let Some(before) = before {
            let _ = JsFuture::from(before).await;
        }
        done
    }

    /// `fetch` once; `None` when no HTTP answer came (offline, refused,
    /// CORS, timed out). A request that hangs is aborted after the timeout:
    /// a user must not wait forever on a spinner.
    async fn fetch(&self, request: &Request, token: &str) -> Option<Response> {
        let headers = js::object(&[]);
        let mut url = request.url.clone();
        if request.auth == Auth::ICloud {
            // Its base64 has `+`, `/` and `=`: encoded, or CloudKit reads a space.
            url.push_str("&ckWebAuthToken=");
            url.push_str(&String::from(js_sys::encode_uri_component(token)));
        } else {
            js::set(&headers, "Authorization", &["Bearer ", token].concat().into());
        }
        if let Some(content_type) = &request.content_type {
            js::set(&headers, "Content-Type", &content_type.into());
        }
        let init =
            js::object(&[("method", request.method.into()), ("headers", headers), ("body", request.body.clone())]);
        if let Ok(signal) = abort_after(self.timeout_ms) {
            js::set(&init, "signal", &signal);
        }
        let response: Response = JsFuture::from(fetch_with(&url, &init)).await.ok()?.unchecked_into();
        if request.auth == Auth::ICloud {
            // The token is spent once CloudKit answered; its successor, if
            // any, is the one to use next, and the page keeps it too.
            let next = response.headers().get(crate::icloud::NEXT_TOKEN_HEADER).ok().flatten();
            if let (Some(next), Some(keep)) = (&next, self.icloud_keep) {
                let _ = keep.call1(&JsValue::UNDEFINED, &next.into());
            }
            self.icloud.held.set(next);
        }
        Some(response)
    }
}

/// Resolves a request's place in the CloudKit queue when dropped.
struct Done(Option<Function>);

impl Drop for Done {
    fn drop(&mut self) {
        if let Some(resolve) = &self.0 {
            let _ = resolve.call0(&JsValue::UNDEFINED);
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
    Error::remote(ErrorCode::Network, &["network: ", message].concat(), None)
}

/// A server answered 2xx with a body that is not what its API says.
pub fn bad_answer() -> Error {
    Error::remote(ErrorCode::BadResponse, "a server answered with an unexpected body", None)
}
