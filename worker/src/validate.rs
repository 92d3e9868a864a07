//! Everything a caller sends is checked here before it touches KV.
//! clientId and backupMethod become parts of KV keys, so they are held to a
//! charset with no separator (`/`), no `:`, no `.` and no percent-escapes.
//!
//! Request bodies are read by serde, in one pass, into their
//! `portal_backup::wire` types: [`custodian_backup`], [`custodian_fetch`],
//! [`client_backup_upload`], [`confirm`]. Each field the type has is read
//! into a [`Sent`] slot (absent or `null`, of another JSON type, or a value
//! of the field's type) instead of failing there; other fields are skipped,
//! and refused by the bodies that take none. Every value, skipped ones too,
//! is read as strictly as any JSON (numbers in range, escapes whole), so a
//! body that is not JSON is `INVALID_JSON` wherever the fault is. The checks
//! then run in a fixed order, so a body with several faults gets the same
//! code whatever order its fields came in:
//!
//! 1. `INVALID_JSON`: not JSON, or not an object;
//! 2. `UNKNOWN_FIELD`: a field the type does not have (browser bodies only);
//! 3. the fields, in the order each function's doc gives: `MISSING_FIELD`
//!    (absent or `null`), `INVALID_FIELD_TYPE`, and what the value must be
//!    (`INVALID_CLIENT_ID`, `INVALID_CIPHERTEXT`, ...).

use core::fmt;

use portal_backup::envelope::{Envelope, envelope_from_text};
use portal_backup::wire::{
    ConfirmClientBackup, CustodianBackupWebhook, CustodianFetchRequest, METHOD_GDRIVE, METHOD_ICLOUD,
    METHOD_PASSKEY, METHOD_PASSWORD, StoreClientBackup,
};
use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

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
pub const CLIENT_BACKUP_METHODS: [&str; 4] = [METHOD_GDRIVE, METHOD_ICLOUD, METHOD_PASSWORD, METHOD_PASSKEY];

/// A `{backupMethod}` of the client routes: well-formed, then supported.
pub fn client_backup_method(text: &str) -> Result<&str> {
    let method = backup_method(text)?;
    CLIENT_BACKUP_METHODS
        .contains(&method)
        .then_some(method)
        .ok_or(Error::invalid(
            ErrorCode::UnsupportedBackupMethod,
            "backupMethod must be one the browser module supports: GDRIVE, ICLOUD, PASSWORD or PASSKEY",
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

// ---- request bodies ---------------------------------------------------------

/// `POST /{root}/backup`. Unknown extra fields are ignored: Portal may add
/// some. In order: clientId, backupMethod and share each present and a
/// string; clientId, then backupMethod, a safe id; share a JSON object in a
/// string, kept exactly as Portal sent it.
pub fn custodian_backup(body: &[u8]) -> Result<CustodianBackupWebhook> {
    let mut sent = WebhookFields::new();
    read_body(body, &mut sent)?;
    let client: String = sent
        .client_id
        .required("clientId is required", "clientId must be a string")?;
    let method: String = sent
        .backup_method
        .required("backupMethod is required", "backupMethod must be a string")?;
    let share: String = sent
        .share
        .required("share is required", "share must be a string")?;
    client_id(&client)?;
    backup_method(&method)?;
    if !is_json_object(&share) {
        return Err(Error::invalid(
            ErrorCode::InvalidShare,
            "share must be a string holding a JSON object",
        ));
    }
    Ok(CustodianBackupWebhook {
        backup_method: method,
        client_id: client,
        share,
    })
}

/// `POST /{root}/backup/fetch`: the clientId. Extra fields are ignored, as
/// for the backup webhook.
pub fn custodian_fetch(body: &[u8]) -> Result<CustodianFetchRequest> {
    let mut sent = FetchFields::new();
    read_body(body, &mut sent)?;
    let client: String = sent
        .client_id
        .required("clientId is required", "clientId must be a string")?;
    client_id(&client)?;
    Ok(CustodianFetchRequest { client_id: client })
}

/// `PUT /v1/client-backups/{backupMethod}`. In order: no other fields;
/// notifyPortal a boolean, if sent (absent or `null`: tell Portal right
/// after storing); cipherText present, a string, an envelope;
/// backupSharePairIds present, an array, of 1 to 16 safe ids.
pub fn client_backup_upload(body: &[u8]) -> Result<StoreClientBackup> {
    let mut sent = UploadFields::new();
    if read_body(body, &mut sent)? {
        return Err(Error::invalid(
            ErrorCode::UnknownField,
            "only cipherText, backupSharePairIds, notifyPortal and rekeyOf are accepted",
        ));
    }
    let notify_portal = sent
        .notify_portal
        .optional("notifyPortal must be a boolean")?;
    let rekey_of: Option<String> = sent.rekey_of.optional("rekeyOf must be a string")?;
    if rekey_of.as_deref().is_some_and(|id| !is_safe_id(id)) {
        return Err(Error::invalid(
            ErrorCode::InvalidBackupId,
            "rekeyOf must be 1-128 characters of A-Z a-z 0-9 _ -",
        ));
    }
    let cipher_text: String = sent
        .cipher_text
        .required("cipherText is required", "cipherText must be a string")?;
    envelope_text(&cipher_text)?;
    let ids = sent.backup_share_pair_ids.required(
        "backupSharePairIds is required",
        "backupSharePairIds must be an array",
    )?;
    Ok(StoreClientBackup {
        cipher_text,
        backup_share_pair_ids: share_pair_ids(ids)?,
        notify_portal,
        rekey_of,
    })
}

/// `POST .../confirm`: the backupId and nothing else (`ConfirmClientBackup`
/// takes nothing else, as PUT's body does not).
pub fn confirm(body: &[u8]) -> Result<ConfirmClientBackup> {
    let mut sent = ConfirmFields::new();
    if read_body(body, &mut sent)? {
        return Err(Error::invalid(
            ErrorCode::UnknownField,
            "only backupId is accepted",
        ));
    }
    let backup_id: String = sent
        .backup_id
        .required("backupId is required", "backupId must be a string")?;
    if !is_safe_id(&backup_id) {
        return Err(Error::invalid(
            ErrorCode::InvalidBackupId,
            "backupId is malformed",
        ));
    }
    Ok(ConfirmClientBackup { backup_id })
}

/// One text form: the envelope's canonical base64url, nothing around it
/// (the decoder would skip surrounding whitespace). Only the header is
/// checked: the Worker never holds the key.
fn envelope_text(cipher_text: &str) -> Result<()> {
    const NOT_BASE64URL: Error =
        Error::invalid(ErrorCode::InvalidCiphertext, "cipherText is not base64url");
    if cipher_text.trim() != cipher_text {
        return Err(NOT_BASE64URL);
    }
    let envelope = envelope_from_text(cipher_text).map_err(|_| NOT_BASE64URL)?;
    Envelope::parse(&envelope).map_err(|_| {
        Error::invalid(
            ErrorCode::InvalidCiphertext,
            "cipherText is not a portal-backup envelope",
        )
    })?;
    Ok(())
}

/// 1 to 16 ids, each a string and a safe id.
fn share_pair_ids(ids: Vec<Sent<String>>) -> Result<Vec<String>> {
    if ids.is_empty() || ids.len() > MAX_SHARE_PAIR_IDS {
        return Err(Error::invalid(
            ErrorCode::InvalidSharePairIds,
            "backupSharePairIds must hold 1 to 16 ids",
        ));
    }
    ids.into_iter()
        .map(|id| match id {
            Sent::Value(id) if is_safe_id(&id) => Ok(id),
            _ => Err(Error::invalid(
                ErrorCode::InvalidSharePairIds,
                "each backupSharePairId must be 1-128 characters of A-Z a-z 0-9 _ -",
            )),
        })
        .collect()
}

/// Whether `text` is JSON whose top level is an object.
fn is_json_object(text: &str) -> bool {
    matches!(serde_json::from_slice(text.as_bytes()), Ok(Kind::Object))
}

// ---- reading a body ---------------------------------------------------------

/// One field of a request body as sent. No `Default`: each value is named
/// where it is made.
#[derive(Debug, PartialEq, Eq)]
enum Sent<T> {
    /// Absent or `null`: the same to every check.
    Missing,
    /// A JSON value of another type than the field's.
    OtherType,
    Value(T),
}

/// A field's value as read, before it is held to the field's type: the
/// JSON types the fields of request bodies have (anything else is
/// [`Sent::OtherType`] already).
#[derive(Debug, PartialEq, Eq)]
enum Json {
    String(String),
    Bool(bool),
    Array(Vec<Sent<Json>>),
}

/// The types of request bodies' fields, each read from its JSON type.
trait FieldType: Sized {
    fn from_json(json: Json) -> Option<Self>;
}

impl FieldType for String {
    fn from_json(json: Json) -> Option<Self> {
        match json {
            Json::String(text) => Some(text),
            _ => None,
        }
    }
}

impl FieldType for bool {
    fn from_json(json: Json) -> Option<Self> {
        match json {
            Json::Bool(value) => Some(value),
            _ => None,
        }
    }
}

/// An array of strings; each element is judged on its own.
impl FieldType for Vec<Sent<String>> {
    fn from_json(json: Json) -> Option<Self> {
        match json {
            Json::Array(items) => Some(items.into_iter().map(Sent::typed).collect()),
            _ => None,
        }
    }
}

impl Sent<Json> {
    /// Held to the field's type.
    fn typed<T: FieldType>(self) -> Sent<T> {
        match self {
            Sent::Missing => Sent::Missing,
            Sent::OtherType => Sent::OtherType,
            Sent::Value(json) => T::from_json(json).map_or(Sent::OtherType, Sent::Value),
        }
    }

    /// The value of a field the body must have.
    fn required<T: FieldType>(self, missing: &'static str, wrong_type: &'static str) -> Result<T> {
        match self.typed() {
            Sent::Missing => Err(Error::invalid(ErrorCode::MissingField, missing)),
            Sent::OtherType => Err(Error::invalid(ErrorCode::InvalidFieldType, wrong_type)),
            Sent::Value(value) => Ok(value),
        }
    }

    /// The value of a field the body may leave out (or send as `null`).
    fn optional<T: FieldType>(self, wrong_type: &'static str) -> Result<Option<T>> {
        match self.typed() {
            Sent::Missing => Ok(None),
            Sent::OtherType => Err(Error::invalid(ErrorCode::InvalidFieldType, wrong_type)),
            Sent::Value(value) => Ok(Some(value)),
        }
    }
}

impl<'de> Deserialize<'de> for Sent<Json> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SentVisitor;
        impl<'de> Visitor<'de> for SentVisitor {
            type Value = Sent<Json>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Sent<Json>, E> {
                Ok(Sent::Missing)
            }
            fn visit_bool<E>(self, value: bool) -> Result<Sent<Json>, E> {
                Ok(Sent::Value(Json::Bool(value)))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Sent<Json>, E> {
                Ok(Sent::OtherType)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Sent<Json>, E> {
                Ok(Sent::OtherType)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Sent<Json>, E> {
                Ok(Sent::OtherType)
            }
            fn visit_str<E>(self, text: &str) -> Result<Sent<Json>, E> {
                Ok(Sent::Value(Json::String(text.into())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Sent<Json>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Sent::Value(Json::Array(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Sent<Json>, A::Error> {
                skip_map(map)?;
                Ok(Sent::OtherType)
            }
        }
        deserializer.deserialize_any(SentVisitor)
    }
}

/// Whether a JSON value is an object. Reading one reads the whole value
/// (every element and member), so it is also how a value is skipped.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Object,
    Other,
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<Kind, Kind>()?.is_some() {}
    Ok(())
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KindVisitor;
        impl<'de> Visitor<'de> for KindVisitor {
            type Value = Kind;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Kind, E> {
                Ok(Kind::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Kind, E> {
                Ok(Kind::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Kind, E> {
                Ok(Kind::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Kind, E> {
                Ok(Kind::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Kind, E> {
                Ok(Kind::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<Kind, E> {
                Ok(Kind::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
                while seq.next_element::<Kind>()?.is_some() {}
                Ok(Kind::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Kind, A::Error> {
                skip_map(map)?;
                Ok(Kind::Object)
            }
        }
        deserializer.deserialize_any(KindVisitor)
    }
}

/// The fields of one request body, each in its [`Sent`] slot.
trait Fields {
    /// The slot of the field named `key`, if the body has one.
    fn slot(&mut self, key: &str) -> Option<&mut Sent<Json>>;
}

/// `Name { field = "wireName", ... }`: the slots of one wire type's fields,
/// under the names its serde derive gives them (`camelCase`); the tests
/// check each against the wire type. Each slot takes its type where it is
/// read (`required`, `optional`): the wire type's field's.
macro_rules! fields {
    ($name:ident { $($field:ident = $wire:literal,)* }) => {
        struct $name {
            $($field: Sent<Json>,)*
        }
        impl $name {
            /// Every field missing until the body names it.
            fn new() -> Self {
                $name { $($field: Sent::Missing,)* }
            }
        }
        impl Fields for $name {
            fn slot(&mut self, key: &str) -> Option<&mut Sent<Json>> {
                match key {
                    $($wire => Some(&mut self.$field),)*
                    _ => None,
                }
            }
        }
    };
}

fields!(WebhookFields {
    client_id = "clientId",
    backup_method = "backupMethod",
    share = "share",
});
fields!(FetchFields {
    client_id = "clientId",
});
fields!(UploadFields {
    cipher_text = "cipherText",
    backup_share_pair_ids = "backupSharePairIds",
    notify_portal = "notifyPortal",
    rekey_of = "rekeyOf",
});
fields!(ConfirmFields {
    backup_id = "backupId",
});

/// Reads a body into `fields` (a field sent twice keeps its last value);
/// answers whether it is an object and whether it had other fields.
struct BodySeed<'a>(&'a mut dyn Fields);

/// What [`BodySeed`] found. No `Default`, as [`Sent`].
#[derive(Debug, PartialEq, Eq)]
enum BodyRead {
    /// JSON, but not an object.
    NotAnObject,
    /// An object; `unknown`: it had fields the body's type has no slot for.
    Object { unknown: bool },
}

impl<'de> DeserializeSeed<'de> for BodySeed<'_> {
    type Value = BodyRead;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<BodyRead, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BodySeed<'_> {
    type Value = BodyRead;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<BodyRead, E> {
        Ok(BodyRead::NotAnObject)
    }
    fn visit_bool<E>(self, _: bool) -> Result<BodyRead, E> {
        Ok(BodyRead::NotAnObject)
    }
    fn visit_i64<E>(self, _: i64) -> Result<BodyRead, E> {
        Ok(BodyRead::NotAnObject)
    }
    fn visit_u64<E>(self, _: u64) -> Result<BodyRead, E> {
        Ok(BodyRead::NotAnObject)
    }
    fn visit_f64<E>(self, _: f64) -> Result<BodyRead, E> {
        Ok(BodyRead::NotAnObject)
    }
    fn visit_str<E>(self, _: &str) -> Result<BodyRead, E> {
        Ok(BodyRead::NotAnObject)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BodyRead, A::Error> {
        while seq.next_element::<Kind>()?.is_some() {}
        Ok(BodyRead::NotAnObject)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BodyRead, A::Error> {
        let mut unknown = false;
        while let Some(key) = map.next_key::<String>()? {
            match self.0.slot(&key) {
                Some(slot) => *slot = map.next_value()?,
                None => {
                    map.next_value::<Kind>()?;
                    unknown = true;
                }
            }
        }
        Ok(BodyRead::Object { unknown })
    }
}

/// Reads `body` into `fields`: whether it had fields `fields` has no slot
/// for, or `INVALID_JSON`.
fn read_body(body: &[u8], fields: &mut dyn Fields) -> Result<bool> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let read = BodySeed(fields).deserialize(&mut deserializer);
    match read.and_then(|read| deserializer.end().map(|()| read)) {
        Ok(BodyRead::Object { unknown }) => Ok(unknown),
        Ok(BodyRead::NotAnObject) => Err(Error::invalid(
            ErrorCode::InvalidJson,
            "body must be a JSON object",
        )),
        Err(_) => Err(Error::invalid(
            ErrorCode::InvalidJson,
            "body is not valid JSON",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_backup::envelope::{BackupKey, Context, envelope_to_text, seal};
    use serde_json::Value;

    fn code(result: Result<impl core::fmt::Debug>) -> ErrorCode {
        result.expect_err("must be rejected").code()
    }

    #[test]
    fn client_routes_take_only_the_methods_the_browser_module_supports() {
        assert_eq!(client_backup_method("GDRIVE"), Ok("GDRIVE"));
        assert_eq!(client_backup_method("PASSWORD"), Ok("PASSWORD"));
        assert_eq!(client_backup_method("PASSKEY"), Ok("PASSKEY"));
        for method in ["YUBIKEY", "gdrive", "GDRIVE-SECP256K1"] {
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
        assert_eq!(parsed.share, r#"{"x":"1"}"#);
        assert_eq!(
            (parsed.client_id.as_str(), parsed.backup_method.as_str()),
            ("c1", "GDRIVE")
        );
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
        assert_eq!(parsed.notify_portal, None);
        assert!(parsed.notifies_portal(), "Portal is told by default");

        let deferred = serde_json::json!({"cipherText": text, "backupSharePairIds": ["p1"], "notifyPortal": false});
        assert_eq!(
            client_backup_upload(deferred.to_string().as_bytes())
                .unwrap()
                .notify_portal,
            Some(false)
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
        assert_eq!(confirm(br#"{"backupId":"b-1"}"#).unwrap().backup_id, "b-1");
        assert_eq!(
            code(confirm(br#"{"backupId":"b-1","x":1}"#)),
            ErrorCode::UnknownField
        );
        assert_eq!(code(confirm(br#"{}"#)), ErrorCode::MissingField);
        assert_eq!(
            code(confirm(br#"{"backupId":"a/b"}"#)),
            ErrorCode::InvalidBackupId
        );
    }

    /// The order in the module doc: whatever order the fields came in, and
    /// however many faults a body has, the first check that fails names it.
    #[test]
    fn faults_are_judged_in_one_order() {
        for (body, expected) in [
            // Webhook: every field's presence and type, then their values.
            (&br#"{"share":1}"#[..], ErrorCode::MissingField),
            (
                br#"{"share":1,"backupMethod":"G","clientId":"c"}"#,
                ErrorCode::InvalidFieldType,
            ),
            (
                br#"{"share":"{}","backupMethod":1,"clientId":"a/b"}"#,
                ErrorCode::InvalidFieldType,
            ),
            (
                br#"{"share":"x","backupMethod":"a:b","clientId":"a/b"}"#,
                ErrorCode::InvalidClientId,
            ),
            (
                br#"{"share":"x","backupMethod":"a:b","clientId":"c"}"#,
                ErrorCode::InvalidBackupMethod,
            ),
            (
                br#"{"clientId":null,"backupMethod":"G","share":"{}"}"#,
                ErrorCode::MissingField,
            ),
            // JSON first: a fault before the body turns out not to be JSON.
            (
                br#"{"clientId":1,"backupMethod":"G","share":"{}""#,
                ErrorCode::InvalidJson,
            ),
            (
                br#"{"clientId":"a/b","backupMethod":"G","share":"{}"}x"#,
                ErrorCode::InvalidJson,
            ),
        ] {
            assert_eq!(
                code(custodian_backup(body)),
                expected,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        for (body, expected) in [
            // Upload: unknown fields, notifyPortal, cipherText (present, a
            // string, an envelope), then backupSharePairIds.
            (&br#"{"cipherText":1,"x":1}"#[..], ErrorCode::UnknownField),
            (
                br#"{"cipherText":1,"notifyPortal":"no"}"#,
                ErrorCode::InvalidFieldType,
            ),
            (
                br#"{"backupSharePairIds":"p","cipherText":1}"#,
                ErrorCode::InvalidFieldType,
            ),
            (br#"{"backupSharePairIds":"p"}"#, ErrorCode::MissingField),
            (br#"{"cipherText":"!!!"}"#, ErrorCode::InvalidCiphertext),
            (
                br#"{"backupSharePairIds":[],"cipherText":"!!!"}"#,
                ErrorCode::InvalidCiphertext,
            ),
            (
                br#"{"cipherText":null,"backupSharePairIds":["p"]}"#,
                ErrorCode::MissingField,
            ),
            (br#"{"x":1,"cipherText":1"#, ErrorCode::InvalidJson),
        ] {
            assert_eq!(
                code(client_backup_upload(body)),
                expected,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(
            code(confirm(br#"{"backupId":1,"x":1}"#)),
            ErrorCode::UnknownField
        );
        assert_eq!(
            code(confirm(br#"{"backupId":1}"#)),
            ErrorCode::InvalidFieldType
        );
        assert_eq!(
            code(confirm(br#"{"backupId":null}"#)),
            ErrorCode::MissingField
        );
    }

    /// Values no check reads (an unknown field, an element of an array of
    /// the wrong type) are still read as JSON: a number out of range or a
    /// lone surrogate anywhere makes the body INVALID_JSON, and a share
    /// with one is not a JSON object.
    #[test]
    fn every_value_is_read_as_json() {
        let share = |extra: &str| {
            format!(r#"{{"clientId":"c","backupMethod":"G","share":"{{}}","extra":{extra}}}"#)
        };
        assert!(custodian_backup(share("[1,{\"a\":null}]").as_bytes()).is_ok());
        for bad in [
            "1e400",
            r#""\ud800""#,
            "[1e400]",
            r#"{"a":-1e999}"#,
            r#"{"\udc00":1}"#,
        ] {
            assert_eq!(
                code(custodian_backup(share(bad).as_bytes())),
                ErrorCode::InvalidJson,
                "{bad}"
            );
        }
        assert_eq!(
            code(client_backup_upload(
                br#"{"cipherText":"x","backupSharePairIds":[{"a":1e400}]}"#
            )),
            ErrorCode::InvalidJson
        );
        assert_eq!(
            code(confirm(br#"{"backupId":{"a":[1e400]}}"#)),
            ErrorCode::InvalidJson
        );
        assert_eq!(code(custodian_fetch(br#"[1e400]"#)), ErrorCode::InvalidJson);
        for share in [
            r#"{\"a\":1e400}"#,
            r#"{\"a\":\"\\ud800\"}"#,
            r#"{} x"#,
            r#"[{}]"#,
        ] {
            let body = format!(r#"{{"clientId":"c","backupMethod":"G","share":"{share}"}}"#);
            assert_eq!(
                code(custodian_backup(body.as_bytes())),
                ErrorCode::InvalidShare,
                "{share}"
            );
        }
        let body = br#"{"clientId":"c","backupMethod":"G","share":" {\"a\":[1,{\"b\":\"\\ud83d\\ude00\"}]}\n"}"#;
        assert!(custodian_backup(body).is_ok());
    }

    /// Every JSON type in every place a body can hold one, and what each
    /// earns: the whole body, a string field, the optional boolean, the id
    /// array and its elements, an unknown field's value, the share's text.
    #[test]
    fn every_json_type_in_every_place() {
        let types = [
            "null",
            "true",
            "false",
            "1",
            "-1",
            "1.5",
            r#""x""#,
            "[1]",
            r#"{"a":1}"#,
        ];
        let message = |result: Result<ConfirmClientBackup>| result.unwrap_err().to_string();
        for json in types {
            let expected = match json {
                r#"{"a":1}"# => ErrorCode::UnknownField,
                _ => ErrorCode::InvalidJson,
            };
            assert_eq!(code(confirm(json.as_bytes())), expected, "body {json}");
            if expected == ErrorCode::InvalidJson {
                assert_eq!(
                    message(confirm(json.as_bytes())),
                    "body must be a JSON object"
                );
            }
            let field = format!(r#"{{"backupId":{json}}}"#);
            match json {
                "null" => assert_eq!(code(confirm(field.as_bytes())), ErrorCode::MissingField),
                r#""x""# => assert_eq!(confirm(field.as_bytes()).unwrap().backup_id, "x"),
                _ => assert_eq!(
                    code(confirm(field.as_bytes())),
                    ErrorCode::InvalidFieldType,
                    "{field}"
                ),
            }
            for unknown in [
                format!(r#"{{"x":{json}}}"#),
                format!(r#"{{"x":[{json}]}}"#),
                format!(r#"{{"x":{{"k":{json}}}}}"#),
            ] {
                let webhook = format!(
                    r#"{{"clientId":"c","backupMethod":"G","share":"{{}}","extra":{unknown}}}"#
                );
                assert!(custodian_backup(webhook.as_bytes()).is_ok(), "{webhook}");
                let confirmation = format!(r#"{{"backupId":"b","extra":{unknown}}}"#);
                assert_eq!(
                    code(confirm(confirmation.as_bytes())),
                    ErrorCode::UnknownField
                );
            }
            let share = serde_json::json!({"clientId": "c", "backupMethod": "G", "share": json});
            let delivered = custodian_backup(share.to_string().as_bytes());
            match json {
                r#"{"a":1}"# => assert_eq!(delivered.unwrap().share, json),
                _ => assert_eq!(code(delivered), ErrorCode::InvalidShare, "share {json}"),
            }
        }
        assert_eq!(message(confirm(b"{")), "body is not valid JSON");

        let key = BackupKey::generate().unwrap();
        let envelope = seal(&key, &Context::new("c", "GDRIVE").unwrap(), b"{}").unwrap();
        let text = envelope_to_text(&envelope);
        let upload = |notify: &str, ids: &str| {
            let body = format!(
                r#"{{"cipherText":"{text}","backupSharePairIds":{ids},"notifyPortal":{notify}}}"#
            );
            client_backup_upload(body.as_bytes())
        };
        for json in types {
            match json {
                "null" => assert_eq!(upload(json, r#"["p"]"#).unwrap().notify_portal, None),
                "true" => assert_eq!(upload(json, r#"["p"]"#).unwrap().notify_portal, Some(true)),
                "false" => assert_eq!(upload(json, r#"["p"]"#).unwrap().notify_portal, Some(false)),
                _ => assert_eq!(
                    code(upload(json, r#"["p"]"#)),
                    ErrorCode::InvalidFieldType,
                    "{json}"
                ),
            }
            match json {
                "null" => assert_eq!(code(upload("true", json)), ErrorCode::MissingField),
                "[1]" => assert_eq!(code(upload("true", json)), ErrorCode::InvalidSharePairIds),
                _ => assert_eq!(
                    code(upload("true", json)),
                    ErrorCode::InvalidFieldType,
                    "{json}"
                ),
            }
            let ids = format!("[{json}]");
            match json {
                r#""x""# => assert_eq!(upload("true", &ids).unwrap().backup_share_pair_ids, ["x"]),
                _ => assert_eq!(
                    code(upload("true", &ids)),
                    ErrorCode::InvalidSharePairIds,
                    "{ids}"
                ),
            }
        }
    }

    /// serde_json never hands these readers a value JSON lacks (bytes, an
    /// enum); another reader that did gets the usual serde error.
    #[test]
    fn a_value_json_never_gives_is_refused_naming_what_was_expected() {
        use serde::de::value::{BytesDeserializer, Error as ValueError};
        let bytes = || BytesDeserializer::<ValueError>::new(b"x");
        let expected = "invalid type: byte array, expected any JSON value";
        assert_eq!(
            Sent::<Json>::deserialize(bytes()).unwrap_err().to_string(),
            expected
        );
        assert_eq!(
            Kind::deserialize(bytes()).unwrap_err().to_string(),
            expected
        );
        let mut fields = ConfirmFields::new();
        assert_eq!(
            BodySeed(&mut fields)
                .deserialize(bytes())
                .unwrap_err()
                .to_string(),
            expected
        );
    }

    /// A field sent twice counts once, with its last value (as a JSON
    /// object's member does in most readers).
    #[test]
    fn a_field_sent_twice_keeps_its_last_value() {
        let body = br#"{"clientId":"a/b","clientId":"c1","backupMethod":"G","share":"{}"}"#;
        assert_eq!(custodian_backup(body).unwrap().client_id, "c1");
        assert_eq!(
            code(confirm(br#"{"backupId":"b","backupId":"a/b"}"#)),
            ErrorCode::InvalidBackupId
        );
    }

    /// The slots read the names the wire types' serde derives give their
    /// fields: a body written from each type reads back as that value.
    #[test]
    fn bodies_written_from_the_wire_types_read_back_unchanged() {
        let key = BackupKey::generate().unwrap();
        let envelope = seal(&key, &Context::new("c", "GDRIVE").unwrap(), b"{}").unwrap();
        let delivery = CustodianBackupWebhook {
            backup_method: "GDRIVE-SECP256K1".into(),
            client_id: "client-1".into(),
            share: r#"{"share":"8f3a"}"#.into(),
        };
        let written = serde_json::to_vec(&delivery).unwrap();
        assert_eq!(custodian_backup(&written), Ok(delivery));
        let fetch = CustodianFetchRequest {
            client_id: "client-1".into(),
        };
        assert_eq!(
            custodian_fetch(&serde_json::to_vec(&fetch).unwrap()),
            Ok(fetch)
        );
        for (notify_portal, rekey_of) in [(None, None), (Some(false), Some("b-0".to_owned())), (Some(true), None)] {
            let upload = StoreClientBackup {
                cipher_text: envelope_to_text(&envelope),
                backup_share_pair_ids: vec!["p1".into(), "p2".into()],
                notify_portal,
                rekey_of,
            };
            let written = serde_json::to_vec(&upload).unwrap();
            assert_eq!(client_backup_upload(&written), Ok(upload));
        }
        let confirmation = ConfirmClientBackup {
            backup_id: "b-1".into(),
        };
        assert_eq!(
            confirm(&serde_json::to_vec(&confirmation).unwrap()),
            Ok(confirmation)
        );
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
