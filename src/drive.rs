//! The pure half of the Google Drive key store: the key file's name, the
//! multipart body of a create, the list query, and what a Drive error means.
//! `browser::drive` does the requests; everything here runs natively.

use alloc::{string::String, vec::Vec};
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorCode, Result};

/// Drive's hidden per-app folder: only this app can read it, the user cannot
/// trash files in it by accident.
pub const APP_DATA_FOLDER: &str = "appDataFolder";

/// Changing this renames every key file: recovery would not find old ones.
const KEY_FILE_DOMAIN: &[u8] = b"portal-backup/drive-key-file/v1";

/// The key file's name for (custodianId, clientId): stable across backups,
/// and it does not show either id to someone browsing the user's Drive.
/// Hex SHA-256 over a domain tag and length-prefixed ids, so ("ab", "c") and
/// ("a", "bc") get different names.
pub fn key_file_name(custodian_id: &str, client_id: &str) -> Result<String> {
    let preimage = key_file_name_preimage(custodian_id, client_id)?;
    Ok(key_file_name_from_digest(&Sha256::digest(&preimage)))
}

/// What `key_file_name` hashes. The browser hashes it with WebCrypto's
/// SHA-256 instead, so the package carries no SHA-256 code of its own.
pub fn key_file_name_preimage(custodian_id: &str, client_id: &str) -> Result<Vec<u8>> {
    if custodian_id.is_empty() || client_id.is_empty() {
        return Err(Error::InvalidInput("custodianId and clientId must not be empty"));
    }
    let mut preimage = Vec::with_capacity(KEY_FILE_DOMAIN.len() + 16 + custodian_id.len() + client_id.len());
    preimage.extend_from_slice(KEY_FILE_DOMAIN);
    for id in [custodian_id, client_id] {
        preimage.extend_from_slice(&(id.len() as u64).to_be_bytes());
        preimage.extend_from_slice(id.as_bytes());
    }
    Ok(preimage)
}

pub fn key_file_name_from_digest(digest: &[u8]) -> String {
    let mut name = hex_lower(digest);
    name.push_str(".txt");
    name
}

pub fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// A `multipart/related` body for `files.create?uploadType=multipart`:
/// JSON metadata (name, parent appDataFolder) then the content.
pub struct MultipartUpload {
    pub content_type: String,
    pub body: Vec<u8>,
}

/// `boundary` must be random per request (the caller draws it); we refuse
/// content that contains it rather than produce a body Drive would misread.
/// The key file's `appProperties` entry holding the key as well: files.list
/// returns app properties, so a recovery reads every key with one list
/// instead of a list and a download per file. The content keeps the key
/// too, for readers of key files from before (and a person looking).
pub const KEY_PROPERTY: &str = "key";

pub fn multipart_create_body(file_name: &str, content: &[u8], boundary: &str) -> Result<MultipartUpload> {
    let delimiter = ["--", boundary].concat();
    let delimiter = delimiter.as_bytes();
    if boundary.is_empty() || contains(content, delimiter) || contains(file_name.as_bytes(), boundary.as_bytes()) {
        return Err(Error::InvalidInput("multipart boundary occurs in the content"));
    }
    let name = json_string(file_name);
    let key_property = json_string(core::str::from_utf8(content).map_err(|_| Error::InvalidInput("a key file holds text"))?);
    let body = [
        delimiter,
        b"\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{\"name\":",
        name.as_bytes(),
        b",\"parents\":[\"",
        APP_DATA_FOLDER.as_bytes(),
        b"\"],\"mimeType\":\"text/plain\",\"appProperties\":{\"key\":",
        key_property.as_bytes(),
        b"}}\r\n",
        delimiter,
        b"\r\nContent-Type: text/plain\r\n\r\n",
        content,
        b"\r\n",
        delimiter,
        b"--\r\n",
    ]
    .concat();
    Ok(MultipartUpload { content_type: ["multipart/related; boundary=", boundary].concat(), body })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// A JSON string literal (quotes, backslashes and control characters escaped).
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push_str(&hex_lower(&[c as u8]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Query string of `files.list` for every key file of that name, newest
/// first. Two files may share a name (Drive keys on ids), so we ask for all.
pub fn list_query(file_name: &str) -> String {
    let mut q = String::with_capacity(file_name.len() + 32);
    q.push_str("name='");
    for c in file_name.chars() {
        if matches!(c, '\\' | '\'') {
            q.push('\\');
        }
        q.push(c);
    }
    q.push_str("' and trashed=false");
    // The fixed parameters, percent-encoded by hand: orderBy "modifiedTime
    // desc", fields "files(id,modifiedTime,appProperties)".
    let fixed = "&orderBy=modifiedTime%20desc&pageSize=1000&fields=files%28id%2CmodifiedTime%2CappProperties%29";
    ["spaces=", APP_DATA_FOLDER, "&q=", &percent_encode(&q), fixed].concat()
}

/// RFC 3986 unreserved characters stay, everything else is %XX.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(DIGITS[usize::from(b >> 4)] as char);
            out.push(DIGITS[usize::from(b & 0x0f)] as char);
        }
    }
    out
}

/// What to do about a Drive answer that was not a success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriveFailure {
    /// Transient: back off and try again.
    Retry,
    /// The access token expired or was revoked: ask the page for a new one.
    RefreshToken,
    /// Give up with this code.
    Fail(ErrorCode),
}

/// Classifies a Drive error from its status and `error.errors[0].reason`
/// (Drive v3 "Resolve errors"). 403 is overloaded: rate limits are
/// transient, quota and permission problems are not.
pub fn classify_failure(status: u16, reason: Option<&str>) -> DriveFailure {
    match (status, reason) {
        (401, _) => DriveFailure::RefreshToken,
        (403, Some("rateLimitExceeded" | "userRateLimitExceeded")) => DriveFailure::Retry,
        (403, Some("storageQuotaExceeded" | "quotaExceeded")) => DriveFailure::Fail(ErrorCode::DriveQuotaExceeded),
        (403, _) => DriveFailure::Fail(ErrorCode::DrivePermissionDenied),
        (404, _) => DriveFailure::Fail(ErrorCode::DriveNotFound),
        (408 | 429, _) => DriveFailure::Retry,
        (500..=599, _) => DriveFailure::Retry,
        _ => DriveFailure::Fail(ErrorCode::DriveError),
    }
}

/// The code to report once retries (or the one token refresh) ran out.
pub fn exhausted_code(status: u16) -> ErrorCode {
    match status {
        401 => ErrorCode::DriveUnauthenticated,
        403 | 429 => ErrorCode::DriveRateLimited,
        _ => ErrorCode::DriveUnavailable,
    }
}

/// A Drive failure in words a user can act on.
pub fn error(code: ErrorCode, status: Option<u16>) -> Error {
    let message = match code {
        ErrorCode::DriveUnauthenticated => {
            "google drive: it refused the access token, also after getDriveToken() gave a new one"
        }
        ErrorCode::DriveQuotaExceeded => "google drive: the user's Google Drive is full",
        ErrorCode::DrivePermissionDenied => "google drive: access denied (is the drive.appdata scope granted?)",
        ErrorCode::DriveNotFound => "google drive: the key file is not there",
        ErrorCode::DriveRateLimited => "google drive: it kept rate-limiting the requests",
        ErrorCode::DriveUnavailable => "google drive: it kept failing",
        _ => "google drive: it refused the request",
    };
    Error::remote(code, message, status)
}

/// One key file as `files.list` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriveFile {
    pub id: String,
    #[serde(default)]
    pub modified_time: Option<String>,
    /// `appProperties.key`; `None` for a key file written before it was kept there.
    #[serde(skip)]
    pub key: Option<String>,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct DriveFileList {
    #[serde(default)]
    pub files: Vec<DriveFile>,
}

/// Newest first by `modifiedTime` (RFC 3339 in UTC, so text order is time
/// order); a file without one goes last. Stable, so Drive's own order breaks ties.
pub fn newest_first(mut files: Vec<DriveFile>) -> Vec<DriveFile> {
    // Insertion sort: a user has one or two key files, and the general
    // stable sort costs kilobytes of wasm.
    for sorted in 1..files.len() {
        let mut at = sorted;
        while at > 0 && files[at - 1].modified_time < files[at].modified_time {
            files.swap(at - 1, at);
            at -= 1;
        }
    }
    files
}

/// Key files a finished backup may delete: every file of the name except
/// the one it just wrote and verified.
pub fn stale_key_files<'a>(listed: &'a [DriveFile], new_file_id: &str) -> Vec<&'a str> {
    listed.iter().map(|f| f.id.as_str()).filter(|id| *id != new_file_id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_name_is_stable_hides_the_ids_and_separates_fields() {
        let name = key_file_name("custodian-1", "client-1").unwrap();
        assert_eq!(name, key_file_name("custodian-1", "client-1").unwrap());
        assert_eq!(name.len(), 64 + 4);
        assert!(name.ends_with(".txt"));
        assert!(!name.contains("client") && !name.contains("custodian"));
        assert_ne!(name, key_file_name("custodian-1", "client-2").unwrap());
        assert_ne!(key_file_name("ab", "c").unwrap(), key_file_name("a", "bc").unwrap());
        assert_eq!(key_file_name("", "c"), Err(Error::InvalidInput("custodianId and clientId must not be empty")));
    }

    #[test]
    fn key_file_name_is_pinned() {
        // A change here orphans every key file already in users' Drives.
        assert_eq!(
            key_file_name("custodian-1", "client-1").unwrap(),
            {
                let mut h = Sha256::new();
                h.update(b"portal-backup/drive-key-file/v1");
                h.update(11u64.to_be_bytes());
                h.update(b"custodian-1");
                h.update(8u64.to_be_bytes());
                h.update(b"client-1");
                format!("{}.txt", hex::encode(h.finalize()))
            }
        );
    }

    #[test]
    fn multipart_body_has_metadata_then_content() {
        let upload = multipart_create_body("abc.txt", b"KEY-TEXT", "b0undary").unwrap();
        assert_eq!(upload.content_type, "multipart/related; boundary=b0undary");
        let body = String::from_utf8(upload.body).unwrap();
        assert_eq!(
            body,
            "--b0undary\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n\
             {\"name\":\"abc.txt\",\"parents\":[\"appDataFolder\"],\"mimeType\":\"text/plain\",\"appProperties\":{\"key\":\"KEY-TEXT\"}}\r\n\
             --b0undary\r\nContent-Type: text/plain\r\n\r\nKEY-TEXT\r\n--b0undary--\r\n"
        );
    }

    #[test]
    fn multipart_refuses_a_boundary_inside_the_content() {
        assert!(multipart_create_body("a.txt", b"xx--b0undaryxx", "b0undary").is_err());
        assert!(multipart_create_body("a.txt", b"x", "").is_err());
    }

    #[test]
    fn json_string_escapes() {
        assert_eq!(json_string("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
    }

    #[test]
    fn list_query_is_encoded() {
        assert_eq!(
            list_query("ab.txt"),
            "spaces=appDataFolder&q=name%3D%27ab.txt%27%20and%20trashed%3Dfalse\
             &orderBy=modifiedTime%20desc&pageSize=1000&fields=files%28id%2CmodifiedTime%2CappProperties%29"
        );
        assert!(list_query("it's").contains("it%5C%27s"));
    }

    #[test]
    fn drive_errors_are_classified() {
        use DriveFailure::*;
        assert_eq!(classify_failure(401, Some("authError")), RefreshToken);
        assert_eq!(classify_failure(403, Some("rateLimitExceeded")), Retry);
        assert_eq!(classify_failure(403, Some("userRateLimitExceeded")), Retry);
        assert_eq!(classify_failure(403, Some("storageQuotaExceeded")), Fail(ErrorCode::DriveQuotaExceeded));
        assert_eq!(classify_failure(403, Some("insufficientFilePermissions")), Fail(ErrorCode::DrivePermissionDenied));
        assert_eq!(classify_failure(403, None), Fail(ErrorCode::DrivePermissionDenied));
        assert_eq!(classify_failure(404, Some("notFound")), Fail(ErrorCode::DriveNotFound));
        assert_eq!(classify_failure(429, None), Retry);
        assert_eq!(classify_failure(500, None), Retry);
        assert_eq!(classify_failure(503, Some("backendError")), Retry);
        assert_eq!(classify_failure(400, Some("badRequest")), Fail(ErrorCode::DriveError));
        assert_eq!(exhausted_code(503), ErrorCode::DriveUnavailable);
        assert_eq!(exhausted_code(429), ErrorCode::DriveRateLimited);
    }

    #[test]
    fn files_sort_newest_first_and_stale_ones_exclude_the_new_file() {
        let f = |id: &str, t: Option<&str>| DriveFile { id: id.into(), modified_time: t.map(Into::into), key: None };
        let sorted = newest_first(vec![
            f("old", Some("2026-01-01T00:00:00.000Z")),
            f("none", None),
            f("new", Some("2026-02-01T00:00:00.000Z")),
        ]);
        let ids: Vec<_> = sorted.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["new", "old", "none"]);
        assert_eq!(stale_key_files(&sorted, "new"), ["old", "none"]);
    }
}
