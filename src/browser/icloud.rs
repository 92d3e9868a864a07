//! iCloud through CloudKit Web Services: the key record in the user's
//! private database, as requests on the one request path (`http`), each
//! answer read here into a Rust value. Decisions (names, what an error
//! means, which record is newest) live in `crate::icloud`.
//!
//! CloudKit answers a batch with 200 and puts each record's failure in the
//! record's place (`serverErrorCode`); whole-request failures come with a
//! status and the same fields at the top level.

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::http::{self, Answer, Auth, Http, Request, Verdict};
use super::js;
use super::options::ICloudOptions;
use crate::icloud::{self as core, CloudFailure, KEY_FIELD, KEY_NAME_FIELD, KeyRecord, RECORD_TYPE};
use crate::{Error, ErrorCode};

pub struct ICloud<'a> {
    http: &'a Http<'a>,
    options: &'a ICloudOptions,
}

impl<'a> ICloud<'a> {
    pub fn new(http: &'a Http<'a>, options: &'a ICloudOptions) -> Self {
        ICloud { http, options }
    }

    /// POST `records/{operation}` with `body`; the answer's `records`. The
    /// JSON goes as `text/plain`, as in Apple's own request example (curl
    /// with `content-type: text/plain`, CloudKit Web Services Reference,
    /// "Composing Web Service Requests"): no CORS preflight, so no extra
    /// round trip to Apple before each request (its URL changes with every
    /// single-use token, so a preflight could never be cached).
    async fn records(&self, operation: &str, body: &JsValue) -> Result<Array, Error> {
        let api_token = String::from(js_sys::encode_uri_component(&self.options.api_token));
        let url = [&self.options.database_url, "/records/", operation, "?ckAPIToken=", &api_token].concat();
        let request = Request::new(Auth::ICloud, read_error, "POST", url, Answer::Json).json(body)?.as_plain_text();
        let answer = self.http.send(&request).await?;
        let records = js::field(&answer, "records");
        records.dyn_into::<Array>().map_err(|_| http::bad_answer())
    }

    /// Creates a new key record named afresh (never an overwrite: older ones
    /// stay until the whole backup is confirmed); its record name.
    pub async fn create(&self, key_name: &str, key_text: &str) -> Result<String, Error> {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|_| Error::Randomness)?;
        let record_name = core::record_name(key_name, &random);
        let string = |value: &str| js::object(&[("value", value.into()), ("type", "STRING".into())]);
        let fields = js::object(&[(KEY_NAME_FIELD, string(key_name)), (KEY_FIELD, string(key_text))]);
        let record = js::object(&[
            ("recordName", record_name.as_str().into()),
            ("recordType", RECORD_TYPE.into()),
            ("fields", fields),
        ]);
        let operation = js::object(&[("operationType", "create".into()), ("record", record)]);
        let records = self.records("modify", &operations(&[operation])).await?;
        let created = records.get(0);
        // The name is fresh (128 random bits): "already exists" can only be
        // this create, landed by an attempt whose answer was lost before a
        // retry. The storage check reads the key back either way.
        if matches!(js::string(&created, "serverErrorCode").as_deref(), Some("CONFLICT" | "EXISTS")) {
            return Ok(record_name);
        }
        record_error(&created)?;
        Ok(record_name)
    }

    /// Every key record of `key_name`, newest first, with its key: one
    /// query. A client has a record or two (each backup removes the older
    /// ones), far below one answer's 200.
    pub async fn list(&self, key_name: &str) -> Result<Vec<KeyRecord>, Error> {
        let filter = js::object(&[
            ("fieldName", KEY_NAME_FIELD.into()),
            ("comparator", "EQUALS".into()),
            ("fieldValue", js::object(&[("value", key_name.into())])),
        ]);
        let query = js::object(&[("recordType", RECORD_TYPE.into()), ("filterBy", Array::of1(&filter).into())]);
        let body = js::object(&[("zoneID", default_zone()), ("query", query), ("resultsLimit", 200.into())]);
        let records = self.records("query", &body).await?;
        let record = |item: JsValue| {
            Some(KeyRecord {
                record_name: js::string(&item, "recordName")?,
                key: js::string(&js::field(&js::field(&item, "fields"), KEY_FIELD), "value"),
                created: js::number(&js::field(&item, "created"), "timestamp").unwrap_or(0.0),
            })
        };
        let listed = js::each(&records.into(), record).ok_or_else(http::bad_answer)?;
        Ok(core::newest_first(listed))
    }

    /// Deletes records in one request; one already gone counts as deleted.
    pub async fn delete(&self, record_names: &[String]) -> Result<(), Error> {
        if record_names.is_empty() {
            return Ok(());
        }
        let deletes: Vec<JsValue> = record_names
            .iter()
            .map(|name| {
                let record = js::object(&[("recordName", name.as_str().into())]);
                js::object(&[("operationType", "forceDelete".into()), ("record", record)])
            })
            .collect();
        for record in self.records("modify", &operations(&deletes)).await?.iter() {
            match record_error(&record) {
                Err(error) if error.code() != ErrorCode::IcloudNotFound => return Err(error),
                _ => {}
            }
        }
        Ok(())
    }
}

fn default_zone() -> JsValue {
    js::object(&[("zoneName", "_defaultZone".into())])
}

fn operations(operations: &[JsValue]) -> JsValue {
    let list: Array = operations.iter().collect();
    js::object(&[("zoneID", default_zone()), ("operations", list.into())])
}

/// A per-record failure inside a 200 answer, as an error.
fn record_error(record: &JsValue) -> Result<(), Error> {
    match js::string(record, "serverErrorCode") {
        Some(code) => Err(core::error(core::record_failure(&code), None, js::string(record, "redirectURL").as_deref())),
        None if record.is_object() => Ok(()),
        None => Err(http::bad_answer()),
    }
}

/// A whole-request failure: its status and `{serverErrorCode, reason,
/// retryAfter, redirectURL}`.
fn read_error(status: u16, body: &JsValue) -> Verdict {
    let code = js::string(body, "serverErrorCode");
    let sign_in = js::string(body, "redirectURL");
    match core::classify_failure(status, code.as_deref()) {
        CloudFailure::Retry => {
            let after_ms = js::number(body, "retryAfter").unwrap_or(0.0) * 1000.0;
            Verdict::Retry(core::error(core::exhausted_code(status, code.as_deref()), Some(status), None), after_ms)
        }
        CloudFailure::SignIn => {
            Verdict::RefreshToken(core::error(ErrorCode::IcloudUnauthenticated, Some(status), sign_in.as_deref()))
        }
        CloudFailure::Fail(failure) => Verdict::Fail(core::error(failure, Some(status), sign_in.as_deref())),
    }
}
