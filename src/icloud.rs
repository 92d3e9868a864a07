//! The ICLOUD method's decisions, pure: the key record in the user's iCloud
//! private database (CloudKit Web Services), what CloudKit's errors mean,
//! and which records are newest. `browser::icloud` sends the requests.
//!
//! One record per backup, named afresh (never overwritten), of record type
//! `RECORD_TYPE` with two string fields: `keyName` (the same hashed name a
//! Drive key file gets: `drive::key_file_name`, which reveals neither id)
//! and `key` (the key text). A query on `keyName` lists a client's records
//! *with* their keys, so a recovery needs one CloudKit request.
//!
//! Apple's CloudKit Web Services Reference: "Modifying Records",
//! "Querying Records", "Error Codes" (the table of `serverErrorCode`s and
//! their statuses), "Accessing CloudKit Using a Web Auth Token" (the token
//! is good for one round trip; the answer carries the next).

use alloc::{string::String, vec::Vec};

use crate::error::{Error, ErrorCode};

/// The record type the app creates in CloudKit Dashboard, with `keyName`
/// queryable (a query on a field without an index is refused).
pub const RECORD_TYPE: &str = "PortalBackupKey";
pub const KEY_NAME_FIELD: &str = "keyName";
pub const KEY_FIELD: &str = "key";
/// Where a web auth token's successor comes back.
pub const NEXT_TOKEN_HEADER: &str = "X-Apple-CloudKit-Web-Auth-Token";

/// A new record's name: the key name and 16 random bytes in hex, so a
/// backup never overwrites the record an older backup still needs.
pub fn record_name(key_name: &str, random: &[u8; 16]) -> String {
    [key_name, "-", &crate::drive::hex_lower(random)].concat()
}

/// What to do about an answer that was not a success, from its status and
/// `serverErrorCode` (whole-request errors; per-record ones: `record_failure`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CloudFailure {
    /// Transient: wait at least `retryAfter` (seconds, when CloudKit gave
    /// one), then try again.
    Retry,
    /// The web auth token is spent or the user signed out: ask the page for
    /// a new token once (`getWebAuthToken`).
    SignIn,
    Fail(ErrorCode),
}

pub fn classify_failure(status: u16, server_error_code: Option<&str>) -> CloudFailure {
    match (status, server_error_code) {
        (421, _) | (_, Some("AUTHENTICATION_REQUIRED")) => CloudFailure::SignIn,
        (429 | 503, _) | (_, Some("THROTTLED" | "TRY_AGAIN_LATER")) => CloudFailure::Retry,
        (500..=599, _) | (_, Some("INTERNAL_ERROR")) => CloudFailure::Retry,
        (401, _) | (_, Some("AUTHENTICATION_FAILED")) => CloudFailure::Fail(ErrorCode::IcloudUnauthenticated),
        (413, _) | (_, Some("QUOTA_EXCEEDED")) => CloudFailure::Fail(ErrorCode::IcloudQuotaExceeded),
        (404, _) | (_, Some("NOT_FOUND" | "ZONE_NOT_FOUND")) => CloudFailure::Fail(ErrorCode::IcloudNotFound),
        _ => CloudFailure::Fail(ErrorCode::IcloudError),
    }
}

/// The code once retries (or the one new token) ran out.
pub fn exhausted_code(status: u16, server_error_code: Option<&str>) -> ErrorCode {
    match (status, server_error_code) {
        (421, _) | (_, Some("AUTHENTICATION_REQUIRED")) => ErrorCode::IcloudUnauthenticated,
        (429, _) | (_, Some("THROTTLED")) => ErrorCode::IcloudRateLimited,
        _ => ErrorCode::IcloudUnavailable,
    }
}

/// A per-record error of a 200 answer (`records[i].serverErrorCode`).
pub fn record_failure(server_error_code: &str) -> ErrorCode {
    match server_error_code {
        "QUOTA_EXCEEDED" => ErrorCode::IcloudQuotaExceeded,
        "NOT_FOUND" => ErrorCode::IcloudNotFound,
        "THROTTLED" => ErrorCode::IcloudRateLimited,
        "TRY_AGAIN_LATER" | "INTERNAL_ERROR" => ErrorCode::IcloudUnavailable,
        "AUTHENTICATION_REQUIRED" | "AUTHENTICATION_FAILED" => ErrorCode::IcloudUnauthenticated,
        _ => ErrorCode::IcloudError,
    }
}

/// An iCloud failure in words a user can act on; `sign_in` is the
/// `redirectURL` CloudKit gives with AUTHENTICATION_REQUIRED.
pub fn error(code: ErrorCode, status: Option<u16>, sign_in: Option<&str>) -> Error {
    let message = match code {
        ErrorCode::IcloudUnauthenticated => "icloud: sign in to iCloud again (the web auth token was refused, also after getWebAuthToken() gave a new one)",
        ErrorCode::IcloudQuotaExceeded => "icloud: the user's iCloud storage is full",
        ErrorCode::IcloudNotFound => "icloud: the key record or its container is not there",
        ErrorCode::IcloudRateLimited => "icloud: CloudKit kept throttling the requests",
        ErrorCode::IcloudUnavailable => "icloud: CloudKit kept failing",
        _ => "icloud: CloudKit refused the request",
    };
    match sign_in {
        Some(url) => Error::remote(code, &[message, "; sign in at ", url].concat(), status),
        None => Error::remote(code, message, status),
    }
}

/// A key record as a query lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    pub record_name: String,
    /// The key text; `None` when the record carries no string `key`.
    pub key: Option<String>,
    /// `created.timestamp`, ms since the epoch.
    pub created: f64,
}

/// Newest first (then by name, for a stable order): recovery tries the
/// newest key first, and a backup keeps only its own record.
pub fn newest_first(mut records: Vec<KeyRecord>) -> Vec<KeyRecord> {
    // Insertion sort: a handful of records, and the general sort costs wasm.
    for sorted in 1..records.len() {
        let mut at = sorted;
        while at > 0 && newer(&records[at], &records[at - 1]) {
            records.swap(at - 1, at);
            at -= 1;
        }
    }
    records
}

fn newer(a: &KeyRecord, b: &KeyRecord) -> bool {
    a.created > b.created || (a.created == b.created && a.record_name > b.record_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudkit_errors_are_classified_as_the_reference_tabulates_them() {
        use CloudFailure::*;
        assert_eq!(classify_failure(421, Some("AUTHENTICATION_REQUIRED")), SignIn);
        assert_eq!(classify_failure(429, Some("THROTTLED")), Retry);
        assert_eq!(classify_failure(503, Some("TRY_AGAIN_LATER")), Retry);
        assert_eq!(classify_failure(500, Some("INTERNAL_ERROR")), Retry);
        assert_eq!(classify_failure(502, None), Retry);
        assert_eq!(classify_failure(401, Some("AUTHENTICATION_FAILED")), Fail(ErrorCode::IcloudUnauthenticated));
        assert_eq!(classify_failure(413, Some("QUOTA_EXCEEDED")), Fail(ErrorCode::IcloudQuotaExceeded));
        assert_eq!(classify_failure(404, Some("ZONE_NOT_FOUND")), Fail(ErrorCode::IcloudNotFound));
        assert_eq!(classify_failure(400, Some("BAD_REQUEST")), Fail(ErrorCode::IcloudError));
        assert_eq!(classify_failure(403, Some("ACCESS_DENIED")), Fail(ErrorCode::IcloudError));
        assert_eq!(exhausted_code(429, Some("THROTTLED")), ErrorCode::IcloudRateLimited);
        assert_eq!(exhausted_code(503, None), ErrorCode::IcloudUnavailable);
        assert_eq!(exhausted_code(421, None), ErrorCode::IcloudUnauthenticated);
        assert_eq!(record_failure("QUOTA_EXCEEDED"), ErrorCode::IcloudQuotaExceeded);
        assert_eq!(record_failure("CONFLICT"), ErrorCode::IcloudError);
    }

    #[test]
    fn records_are_named_afresh_and_listed_newest_first() {
        let a = record_name("k", &[0; 16]);
        assert_eq!(a, ["k-", &"0".repeat(32)].concat());
        assert_ne!(a, record_name("k", &[1; 16]));
        let record = |name: &str, created| KeyRecord { record_name: name.into(), key: None, created };
        let sorted = newest_first(vec![record("a", 1.0), record("c", 3.0), record("b", 3.0), record("d", 2.0)]);
        let names: Vec<&str> = sorted.iter().map(|r| r.record_name.as_str()).collect();
        assert_eq!(names, ["c", "b", "d", "a"]);
    }

    #[test]
    fn the_sign_in_hint_is_in_the_message() {
        let error = error(ErrorCode::IcloudUnauthenticated, Some(421), Some("https://idmsa.apple.com/x"));
        assert!(error.message().ends_with("sign in at https://idmsa.apple.com/x"));
        assert_eq!(error.code(), ErrorCode::IcloudUnauthenticated);
    }
}
