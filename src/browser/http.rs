//! `fetch` with a timeout, bounded retries of transient failures, and JSON
//! through the browser's own `JSON.parse`/`JSON.stringify` (no serde_json in
//! the package). Works in a page and in a Web Worker: it uses the global
//! `fetch`, `setTimeout` and `crypto`, not `window`.

use alloc::{string::String, vec::Vec, format};
use js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, Request, RequestInit, Response};

use super::js::{FromJs, ToJs};
use crate::Error;
use crate::retry::RetryPolicy;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &Request) -> Promise;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: f64) {
    let promise = Promise::new(&mut |resolve, _reject| {
        set_timeout(&resolve, ms);
    });
    let _ = JsFuture::from(promise).await;
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A request body: JSON text or raw bytes.
#[derive(Clone)]
pub enum Body {
    None,
    Text(String),
    Bytes(Vec<u8>),
}

#[derive(Clone)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    pub url: String,
    pub headers: Vec<(&'a str, String)>,
    pub body: Body,
}

impl<'a> HttpRequest<'a> {
    pub fn new(method: &'a str, url: String) -> Self {
        HttpRequest { method, url, headers: Vec::new(), body: Body::None }
    }
    pub fn bearer(mut self, token: &str) -> Self {
        self.headers.push(("Authorization", format!("Bearer {token}")));
        self
    }
    pub fn header(mut self, name: &'a str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
    pub fn json<T: ToJs>(mut self, body: &T) -> Result<Self, Error> {
        self.headers.push(("Content-Type", "application/json".into()));
        let text = js_sys::JSON::stringify(&body.to_js()).ok().and_then(|t| t.as_string());
        self.body = Body::Text(text.ok_or(Error::InvalidInput("value cannot be written as JSON"))?);
        Ok(self)
    }
}

/// `fetch` once. A failure without an HTTP answer (DNS, refused, CORS,
/// timeout) is `NETWORK`; any HTTP answer, 4xx and 5xx included, is `Ok`.
pub async fn fetch_once(request: &HttpRequest<'_>, timeout_ms: f64) -> Result<Response, Error> {
    let init = RequestInit::new();
    init.set_method(request.method);
    let headers = Headers::new().map_err(|_| network("cannot build request headers"))?;
    for (name, value) in &request.headers {
        headers.set(name, value).map_err(|_| network("invalid request header"))?;
    }
    init.set_headers(&headers);
    match &request.body {
        Body::None => {}
        Body::Text(text) => init.set_body(&JsValue::from_str(text)),
        Body::Bytes(bytes) => init.set_body(&Uint8Array::from(bytes.as_slice())),
    }
    let controller = AbortController::new().ok();
    if let Some(controller) = &controller {
        init.set_signal(Some(&controller.signal()));
    }
    let js_request = Request::new_with_str_and_init(&request.url, &init)
        .map_err(|_| Error::InvalidInput("invalid server URL"))?;
    // Abort a request that hangs: a user must not wait forever on a spinner.
    let timer = controller.as_ref().map(|controller| {
        let controller = controller.clone();
        let abort = Closure::once_into_js(move || controller.abort());
        set_timeout(abort.unchecked_ref(), timeout_ms)
    });
    let answer = JsFuture::from(global_fetch(&js_request)).await;
    if let Some(timer) = &timer {
        clear_timeout(timer);
    }
    // The URL's host says which service failed; the URL itself may carry ids.
    let host = host_of(&request.url);
    match answer {
        Ok(response) => Ok(response.unchecked_into()),
        Err(_) => Err(network(&format!("no answer from {host} (offline, refused, blocked or timed out)"))),
    }
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

pub fn network(message: &str) -> Error {
    Error::Remote { code: "NETWORK", message: format!("network: {message}"), status: None }
}

/// Whether a status is worth another try (rate limits and server trouble).
pub fn transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// `fetch` with retries of network failures and transient statuses, as
/// `policy` allows. Returns the last answer, whatever its status.
pub async fn fetch_with_retry(request: &HttpRequest<'_>, policy: &RetryPolicy, timeout_ms: f64) -> Result<Response, Error> {
    let started = now_ms();
    let mut failed = 0;
    loop {
        let answer = fetch_once(request, timeout_ms).await;
        let transient = match &answer {
            Ok(response) => transient_status(response.status()),
            Err(_) => true,
        };
        if !transient {
            return answer;
        }
        failed += 1;
        match policy.delay_ms(failed, js_sys::Math::random(), now_ms() - started) {
            Some(delay) => sleep(delay).await,
            None => return answer,
        }
    }
}

/// The body parsed by `Response.json()`, then read into `T`.
pub async fn read_json<T: FromJs>(response: &Response) -> Result<T, Error> {
    let promise = response.json().map_err(|_| bad_answer())?;
    let value = JsFuture::from(promise).await.map_err(|_| bad_answer())?;
    T::from_js(&value).ok_or_else(bad_answer)
}

pub async fn read_text(response: &Response) -> Result<String, Error> {
    let promise = response.text().map_err(|_| bad_answer())?;
    let text = JsFuture::from(promise).await.map_err(|_| network("the answer was cut off"))?;
    text.as_string().ok_or_else(bad_answer)
}

fn bad_answer() -> Error {
    Error::Remote { code: "BAD_RESPONSE", message: "a server answered with an unexpected body".into(), status: None }
}
