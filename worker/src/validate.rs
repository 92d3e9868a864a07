//! Everything a caller sends is checked here before it touches KV.
//! clientId and backupMethod become parts of KV keys, so they are held to a
//! charset with no separator (`/`), no `:`, no `.` and no percent-escapes.

use portal_backup::envelope::{Envelope, envelope_from_text};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorCode, Result};

/// Longest clientId, backupMethod or backupSharePairId accepted.
pub const MAX_ID_LEN: usize = 128;
/// Custodian shares are a few KiB; 64 KiB leaves room and stops abuse.
pub const MAX_WEBHOOK_BODY: usize = 64 * 1024;
/// A sealed client backup is a few KiB; its base64url text stays well below.
pub const MAX_CLIENT_BACKUP_BODY: usize = 256 * 1024;
/// Portal makes one share pair per curve; 16 is generous.
pub const MAX_SHARE_PAIR_IDS: usize = 16;

/// `[A-Za-z0-9_-]{1,128}`.
pub fn is_safe_id(text: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub fn client_id(text: &str) -> Result<&str> {
    is_safe_id(text).then_some(text).ok_or(Error::invalid(
        ErrorCode::InvalidClientId,
        "clientId must be 1-128 characters of A-Z a-z 0-9 _ -",
    ))
}

pub fn backup_method(text: &str) -> Result<&str> {
    is_safe_id(text).then_some(text).ok_or(Error::invalid(
        ErrorCode::InvalidBackupMethod,
        "backupMethod must be 1-128 characters of A-Z a-z 0-9 _ -",
    ))
}

/// The methods the browser module backs up with: the only ones the client
/// routes store, so one client holds at most this many client backups.
pub const CLIENT_BACKUP_METHODS: [&str; 3] = ["GDRIVE", "PASSWORD", "PASSKEY"];

/// A `{backupMethod}` of the client routes: well-formed, then supported.
pub fn client_backup_method(text: &str) -> Result<&str> {
    let method = backup_method(text)?;
    CLIENT_BACKUP_METHODS
        .contains(&method)
        .then_some(method)
        .ok_or(Error::invalid(
            ErrorCode::UnsupportedBackupMethod,
            "backupMethod must be one the browser module supports: GDRIVE, PASSWORD or PASSKEY",
        ))
}

/// `Content-Type` must be JSON when a body is sent; `None` means the header
/// is absent, which only the webhooks tolerate (Portal's docs do not say it
/// sends one).
pub fn json_content_type(content_type: Option<&str>, required: bool) -> Result<()> {
    match content_type {
        None if !required => Ok(()),
        None => Err(Error::UnsupportedMediaType),
        Some(value) => {
            let essence = value.split(';').next().unwrap_or("").trim();
            if essence.eq_ignore_ascii_case("application/json") {
                Ok(())
            } else {
                Err(Error::UnsupportedMediaType)
            }
        }
    }
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::invalid(ErrorCode::InvalidJson, "body must be a JSON object")),
        Err(_) => Err(Error::invalid(ErrorCode::InvalidJson, "body is not valid JSON")),
    }
}

fn string_field<'a>(
    map: &'a Map<String, Value>,
    name: &str,
    missing: &'static str,
    wrong_type: &'static str,
) -> Result<&'a str> {
    match map.get(name) {
        None | Some(Value::Null) => Err(Error::invalid(ErrorCode::MissingField, missing)),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(Error::invalid(ErrorCode::InvalidFieldType, wrong_type)),
    }
}

/// `POST /{root}/backup`, validated. Unknown extra fields are ignored:
/// Portal may add some.
#[derive(Debug, PartialEq, Eq)]
pub struct CustodianBackup {
    pub client_id: String,
    pub backup_method: String,
    /// Exactly as Portal sent it (a JSON object in a string).
    pub custodian_share: String,
}

pub fn custodian_backup(body: &[u8]) -> Result<CustodianBackup> {
    let map = json_object(body)?;
    let client = string_field(
        &map,
        "clientId",
        "clientId is required",
        "clientId must be a string",
    )?;
    let method = string_field(
        &map,
        "backupMethod",
        "backupMethod is required",
        "backupMethod must be a string",
    )?;
    let share = string_field(&map, "share", "share is required", "share must be a string")?;
    client_id(client)?;
    backup_method(method)?;
    if !matches!(serde_json::from_slice::<Value>(share.as_bytes()), Ok(Value::Object(_))) {
        return Err(Error::invalid(
            ErrorCode::InvalidShare,
            "share must be a string holding a JSON object",
        ));
    }
    Ok(CustodianBackup {
        client_id: client.into(),
        backup_method: method.into(),
        custodian_share: share.into(),
    })
}

/// `POST /{root}/backup/fetch`: the clientId.
pub fn custodian_fetch(body: &[u8]) -> Result<String> {
    let map = json_object(body)?;
    let client = string_field(
        &map,
        "clientId",
        "clientId is required",
        "clientId must be a string",
    )?;
    Ok(client_id(client)?.into())
}

/// `PUT /v1/client-backups/{backupMethod}`, validated.
#[derive(Debug, PartialEq, Eq)]
pub struct ClientBackupUpload {
    pub cipher_text: String,
    pub backup_share_pair_ids: Vec<String>,
    /// Tell Portal right after storing (default), or wait for `/notify`.
    pub notify_portal: bool,
}

pub fn client_backup_upload(body: &[u8]) -> Result<ClientBackupUpload> {
    let map = json_object(body)?;
    if map
        .keys()
        .any(|k| k != "cipherText" && k != "backupSharePairIds" && k != "notifyPortal")
    {
        return Err(Error::invalid(
            ErrorCode::UnknownField,
            "only cipherText, backupSharePairIds and notifyPortal are accepted",
        ));
    }
    let notify_portal = match map.get("notifyPortal") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(notify)) => *notify,
        Some(_) => {
            return Err(Error::invalid(
                ErrorCode::InvalidFieldType,
                "notifyPortal must be a boolean",
            ));
        }
    };
    let cipher_text = string_field(
        &map,
        "cipherText",
        "cipherText is required",
        "cipherText must be a string",
    )?;
    // One text form: the envelope's canonical base64url, nothing around it
    // (the decoder would skip surrounding whitespace).
    if cipher_text.trim() != cipher_text {
        return Err(Error::invalid(
            ErrorCode::InvalidCiphertext,
            "cipherText is not base64url",
        ));
    }
    // Only the header is checked: the Worker never holds the key.
    let envelope = envelope_from_text(cipher_text)
        .map_err(|_| Error::invalid(ErrorCode::InvalidCiphertext, "cipherText is not base64url"))?;
    Envelope::parse(&envelope).map_err(|_| {
        Error::invalid(
            ErrorCode::InvalidCiphertext,
            "cipherText is not a portal-backup envelope",
        )
    })?;
    let ids = match map.get("backupSharePairIds") {
        None | Some(Value::Null) => {
            return Err(Error::invalid(
                ErrorCode::MissingField,
                "backupSharePairIds is required",
            ));
        }
        Some(Value::Array(ids)) => ids,
        Some(_) => {
            return Err(Error::invalid(
                ErrorCode::InvalidFieldType,
                "backupSharePairIds must be an array",
            ));
        }
    };
    if ids.is_empty() || ids.len() > MAX_SHARE_PAIR_IDS {
        return Err(Error::invalid(
            ErrorCode::InvalidSharePairIds,
            "backupSharePairIds must hold 1 to 16 ids",
        ));
    }
    let backup_share_pair_ids = ids
        .iter()
        .map(|id| match id {
            Value::String(id) if is_safe_id(id) => Ok(id.clone()),
            _ => Err(Error::invalid(
                ErrorCode::InvalidSharePairIds,
                "each backupSharePairId must be 1-128 characters of A-Z a-z 0-9 _ -",
            )),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ClientBackupUpload {
        cipher_text: cipher_text.into(),
        backup_share_pair_ids,
        notify_portal,
    })
}

/// `POST .../confirm`: the backupId.
pub fn confirm(body: &[u8]) -> Result<String> {
    let map = json_object(body)?;
    // `ConfirmClientBackup` (wire.rs, docs/openapi.yaml) takes nothing else,
    // as PUT's body does not.
    if map.keys().any(|k| k != "backupId") {
        return Err(Error::invalid(ErrorCode::UnknownField, "only backupId is accepted"));
    }
    let id = string_field(
        &map,
        "backupId",
        "backupId is required",
        "backupId must be a string",
    )?;
    if !is_safe_id(id) {
        return Err(Error::invalid(ErrorCode::InvalidBackupId, "backupId is malformed"));
    }
    Ok(id.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_backup::envelope::{BackupKey, Context, envelope_to_text, seal};

    fn code(result: Result<impl core::fmt::Debug>) -> ErrorCode {
        result.expect_err("must be rejected").code()
    }

    #[test]
    fn client_routes_take_only_the_methods_the_browser_module_supports() {
        assert_eq!(client_backup_method("GDRIVE"), Ok("GDRIVE"));
        assert_eq!(client_backup_method("PASSWORD"), Ok("PASSWORD"));
        assert_eq!(client_backup_method("PASSKEY"), Ok("PASSKEY"));
        for method in ["ICLOUD", "gdrive", "GDRIVE-SECP256K1"] {
            assert_eq!(
                client_backup_method(method).map_err(|e| e.code()),
                Err(ErrorCode::UnsupportedBackupMethod),
                "{method}"
            );
        }
        assert_eq!(
            client_backup_method("a/b").map_err(|e| e.code()),
            Err(ErrorCode::InvalidBackupMethod)
        );
    }

    #[test]
    fn ids_that_could_escape_a_kv_key_are_rejected() {
        for hostile in [
            "", "a/../b", "a:b", "a/b", "..", "a.b", "a%2Fb", "a b", "ä", "a\0b",
        ] {
            assert!(!is_safe_id(hostile), "{hostile:?}");
        }
        assert!(!is_safe_id(&"a".repeat(129)));
        assert!(is_safe_id(&"a".repeat(128)));
        assert!(is_safe_id("GDRIVE-SECP256K1"));
        assert!(is_safe_id("client_42"));
    }

    #[test]
    fn webhook_body_is_checked_field_by_field() {
        let ok = br#"{"clientId":"c1","backupMethod":"GDRIVE","share":"{\"x\":\"1\"}","extra":1}"#;
        let parsed = custodian_backup(ok).unwrap();
        assert_eq!(parsed.custodian_share, r#"{"x":"1"}"#);
        assert_eq!(code(custodian_backup(b"not json")), ErrorCode::InvalidJson);
        assert_eq!(code(custodian_backup(b"[1]")), ErrorCode::InvalidJson);
        assert_eq!(
            code(custodian_backup(br#"{"clientId":"c1","share":"{}"}"#)),
            ErrorCode::MissingField
        );
        assert_eq!(
            code(custodian_backup(
                br#"{"clientId":1,"backupMethod":"G","share":"{}"}"#
            )),
            ErrorCode::InvalidFieldType
        );
        assert_eq!(
            code(custodian_backup(
                br#"{"clientId":"c","backupMethod":"G","share":{"x":1}}"#
            )),
            ErrorCode::InvalidFieldType
        );
        assert_eq!(
            code(custodian_backup(
                br#"{"clientId":"c","backupMethod":"G","share":"not json"}"#
            )),
            ErrorCode::InvalidShare
        );
        assert_eq!(
            code(custodian_backup(
                br#"{"clientId":"c","backupMethod":"G","share":"[1]"}"#
            )),
            ErrorCode::InvalidShare
        );
        assert_eq!(
            code(custodian_backup(
                br#"{"clientId":"a/../b","backupMethod":"G","share":"{}"}"#
            )),
            ErrorCode::InvalidClientId
        );
        assert_eq!(
            code(custodian_backup(
                br#"{"clientId":"c","backupMethod":"a:b","share":"{}"}"#
            )),
            ErrorCode::InvalidBackupMethod
        );
    }

    #[test]
    fn client_upload_needs_an_envelope_and_safe_pair_ids() {
        let key = BackupKey::generate().unwrap();
        let envelope = seal(&key, &Context::new("c", "GDRIVE").unwrap(), b"{}").unwrap();
        let text = envelope_to_text(&envelope);
        let body = serde_json::json!({"cipherText": text, "backupSharePairIds": ["p1", "p2"]});
        let parsed = client_backup_upload(body.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.cipher_text, text);
        assert_eq!(parsed.backup_share_pair_ids, ["p1", "p2"]);
        assert!(parsed.notify_portal, "Portal is told by default");

        let deferred = serde_json::json!({"cipherText": text, "backupSharePairIds": ["p1"], "notifyPortal": false});
        assert!(
            !client_backup_upload(deferred.to_string().as_bytes())
                .unwrap()
                .notify_portal
        );
        let wrong_type = serde_json::json!({"cipherText": text, "backupSharePairIds": ["p1"], "notifyPortal": "no"});
        assert_eq!(
            code(client_backup_upload(wrong_type.to_string().as_bytes())),
            ErrorCode::InvalidFieldType
        );

        let with = |cipher: Value, ids: Value| {
            client_backup_upload(
                serde_json::json!({"cipherText": cipher, "backupSharePairIds": ids})
                    .to_string()
                    .as_bytes(),
            )
        };
        assert_eq!(
            code(with("!!!".into(), serde_json::json!(["p"]))),
            ErrorCode::InvalidCiphertext
        );
        assert_eq!(
            code(with("aGVsbG8".into(), serde_json::json!(["p"]))),
            ErrorCode::InvalidCiphertext
        );
        for padded in [
            format!(" {text}"),
            format!("{text}\n"),
            format!("\t{text} "),
        ] {
            assert_eq!(
                code(with(padded.into(), serde_json::json!(["p"]))),
                ErrorCode::InvalidCiphertext
            );
        }
        assert_eq!(
            code(with(text.clone().into(), serde_json::json!([]))),
            ErrorCode::InvalidSharePairIds
        );
        assert_eq!(
            code(with(text.clone().into(), serde_json::json!(["a/b"]))),
            ErrorCode::InvalidSharePairIds
        );
        assert_eq!(
            code(with(text.clone().into(), serde_json::json!([1]))),
            ErrorCode::InvalidSharePairIds
        );
        assert_eq!(
            code(with(text.clone().into(), serde_json::json!(vec!["p"; 17]))),
            ErrorCode::InvalidSharePairIds
        );
        assert_eq!(
            code(with(text.clone().into(), "p".into())),
            ErrorCode::InvalidFieldType
        );
    }

    #[test]
    fn confirm_takes_a_backup_id_and_nothing_else() {
        assert_eq!(confirm(br#"{"backupId":"b-1"}"#).unwrap(), "b-1");
        assert_eq!(
            code(confirm(br#"{"backupId":"b-1","x":1}"#)),
            ErrorCode::UnknownField
        );
        assert_eq!(code(confirm(br#"{}"#)), ErrorCode::MissingField);
        assert_eq!(code(confirm(br#"{"backupId":"a/b"}"#)), ErrorCode::InvalidBackupId);
    }

    #[test]
    fn content_type_must_be_json() {
        assert!(json_content_type(Some("application/json; charset=utf-8"), true).is_ok());
        assert!(json_content_type(Some("Application/JSON"), true).is_ok());
        assert_eq!(
            json_content_type(Some("text/plain"), false),
            Err(Error::UnsupportedMediaType)
        );
        assert_eq!(
            json_content_type(None, true),
            Err(Error::UnsupportedMediaType)
        );
        assert!(json_content_type(None, false).is_ok());
    }
}
