//! Property tests (proptest) for what the Worker reads from outside: request
//! bodies (`validate`) and the records it stored in KV (`store::client` (the object's records),
//! `store::at_rest`). Arbitrary input never panics and always ends in the
//! typed error a caller can act on; valid input comes through unchanged.
//! Native only (`cargo test`).
//!
//! 10,000 cases per property by default; `PROPTEST_CASES=N` runs N
//! (docs/RELIABILITY.md §3).
#![cfg(not(target_arch = "wasm32"))]

use common_props::{any_id, config, damaged, json_value, matching, safe_id};
use portal_backup::envelope::{self, BackupKey, Context, Envelope};
use portal_backup::wire::{
    ConfirmClientBackup, CustodianBackupWebhook, CustodianFetchRequest, StoreClientBackup,
};
use portal_backup_worker::error::{Error, ErrorCode};
use portal_backup_worker::store::at_rest::{Keyring, SealedShare};
use portal_backup_worker::store::client::{ClientBackupRecord, ClientRecords, StoredVersion};
use portal_backup_worker::store::custodian::{
    self, DirectoryRecord, MAX_METHODS, VERSION_LEN, version_from,
};
use portal_backup_worker::store::state::BackupState;
use portal_backup_worker::validate;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::Index;
use std::sync::LazyLock;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

// The configuration (`config`: 10,000 cases, XorShift) and the strategies
// shared with the root crate's properties (`matching`, `safe_id`, `any_id`,
// `json_value`, `damaged`) are in tests/common-props.

/// How the Worker reads a KV value (`store::kv::get_json`, wasm-only so not
/// callable here): serde_json into the record type, any failure
/// `StoredRecordUnreadable`.
fn read_stored<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    serde_json::from_str(text).map_err(|_| Error::StoredRecordUnreadable)
}

/// How it writes one (`store::kv::put_json`).
fn write_stored<T: Serialize>(record: &T) -> String {
    serde_json::to_string(record).unwrap()
}

// ---- strategies ------------------------------------------------------------------

/// A real envelope's text (the browser's `cipherText`).
fn envelope_text() -> impl Strategy<Value = String> {
    (any::<[u8; 32]>(), vec(any::<u8>(), 0..=64)).prop_map(|(key, plaintext)| {
        let context = Context::new("client-a", "GDRIVE").unwrap();
        envelope::envelope_to_text(
            &envelope::seal(&BackupKey::from_bytes(key), &context, &plaintext).unwrap(),
        )
    })
}

/// Values a field of a request body might hold: what the Worker wants
/// (safe ids, envelope texts, stringified JSON objects, id arrays) and what
/// it must refuse.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        json_value(),
        any_id().prop_map(Value::String),
        envelope_text().prop_map(Value::String),
        btree_map(safe_id(), json_value(), 0..3)
            .prop_map(|share| Value::String(json!(share).to_string())),
        vec(any_id().prop_map(Value::String), 0..=18).prop_map(Value::Array),
        any::<bool>().prop_map(Value::Bool),
    ]
}

/// A JSON object whose keys are mostly the ones `names` expects, each with
/// any value; sometimes an extra key.
fn body_object(names: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let name = prop_oneof![4 => prop::sample::select(names), 1 => Just("extra")];
    btree_map(name, field_value(), 0..=names.len() + 1).prop_map(|fields| {
        Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    })
}

/// A request body as bytes: objects as above, any JSON, noise, and a
/// serialized object with one byte changed or cut short.
fn body(names: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => body_object(names).prop_map(|body| body.to_string().into_bytes()),
        1 => json_value().prop_map(|body| body.to_string().into_bytes()),
        1 => vec(any::<u8>(), 0..64),
        1 => damaged(body_object(names).prop_map(|body| body.to_string().into_bytes())),
    ]
}

fn is_bad_request(error: &Error, documented: &[ErrorCode]) -> bool {
    error.status() == 400 && documented.contains(&error.code())
}

// ---- request validation ------------------------------------------------------------

const WEBHOOK_FIELDS: &[&str] = &["clientId", "backupMethod", "share"];
const UPLOAD_FIELDS: &[&str] = &["cipherText", "backupSharePairIds", "notifyPortal"];

proptest! {
    #![proptest_config(config())]

    /// Portal's backup webhook: any body is either a delivery with safe ids
    /// and a JSON-object share, exactly as sent, or a 400 with a
    /// documented code (docs/SERVER-API.md).
    #[test]
    fn any_webhook_body_is_a_clean_delivery_or_a_documented_400(body in body(WEBHOOK_FIELDS)) {
        match validate::custodian_backup(&body) {
            Ok(delivery) => {
                let sent: Value = serde_json::from_slice(&body).unwrap();
                prop_assert_eq!(Some(delivery.client_id.as_str()), sent["clientId"].as_str());
                prop_assert_eq!(Some(delivery.backup_method.as_str()), sent["backupMethod"].as_str());
                prop_assert_eq!(Some(delivery.share.as_str()), sent["share"].as_str());
                prop_assert!(validate::is_safe_id(&delivery.client_id) && validate::is_safe_id(&delivery.backup_method));
                prop_assert!(serde_json::from_str::<Value>(&delivery.share).unwrap().is_object());
            }
            Err(error) => prop_assert!(is_bad_request(&error, &[
                ErrorCode::InvalidJson, ErrorCode::MissingField, ErrorCode::InvalidFieldType, ErrorCode::InvalidClientId,
                ErrorCode::InvalidBackupMethod, ErrorCode::InvalidShare,
            ]), "{error:?}"),
        }
    }

    #[test]
    fn any_fetch_body_is_a_safe_client_id_or_a_documented_400(body in body(&["clientId"])) {
        match validate::custodian_fetch(&body) {
            Ok(fetch) => prop_assert!(validate::is_safe_id(&fetch.client_id)),
            Err(error) => prop_assert!(is_bad_request(&error, &[
                ErrorCode::InvalidJson, ErrorCode::MissingField, ErrorCode::InvalidFieldType, ErrorCode::InvalidClientId,
            ]), "{error:?}"),
        }
    }

    /// The browser's upload: accepted only with a real envelope and 1 to 16
    /// safe pair ids, kept as sent.
    #[test]
    fn any_upload_body_is_an_envelope_with_pair_ids_or_a_documented_400(body in body(UPLOAD_FIELDS)) {
        match validate::client_backup_upload(&body) {
            Ok(upload) => {
                let bytes = envelope::envelope_from_text(&upload.cipher_text).unwrap();
                prop_assert!(Envelope::parse(&bytes).is_ok());
                prop_assert!((1..=validate::MAX_SHARE_PAIR_IDS).contains(&upload.backup_share_pair_ids.len()));
                prop_assert!(upload.backup_share_pair_ids.iter().all(|id| validate::is_safe_id(id)));
            }
            Err(error) => prop_assert!(is_bad_request(&error, &[
                ErrorCode::InvalidJson, ErrorCode::UnknownField, ErrorCode::MissingField, ErrorCode::InvalidFieldType,
                ErrorCode::InvalidCiphertext, ErrorCode::InvalidSharePairIds,
            ]), "{error:?}"),
        }
    }

    #[test]
    fn any_confirm_body_is_a_safe_backup_id_or_a_documented_400(body in body(&["backupId"])) {
        match validate::confirm(&body) {
            Ok(confirmation) => prop_assert!(validate::is_safe_id(&confirmation.backup_id)),
            Err(error) => prop_assert!(is_bad_request(&error, &[
                ErrorCode::InvalidJson, ErrorCode::UnknownField, ErrorCode::MissingField, ErrorCode::InvalidFieldType, ErrorCode::InvalidBackupId,
            ]), "{error:?}"),
        }
    }

    /// Well-formed bodies built from any valid parts are accepted unchanged.
    #[test]
    fn valid_bodies_come_through_unchanged(
        client_id in safe_id(),
        backup_method in safe_id(),
        share in btree_map(any::<String>(), json_value(), 0..4),
        cipher_text in envelope_text(),
        pair_ids in vec(safe_id(), 1..=validate::MAX_SHARE_PAIR_IDS),
        notify_portal in any::<Option<bool>>(),
    ) {
        let share = json!(share).to_string();
        let delivery = json!({"clientId": client_id, "backupMethod": backup_method, "share": share});
        let delivery = validate::custodian_backup(delivery.to_string().as_bytes()).unwrap();
        prop_assert_eq!((delivery.client_id, delivery.backup_method, delivery.share), (client_id, backup_method, share));

        let mut upload = json!({"cipherText": cipher_text, "backupSharePairIds": pair_ids});
        if let Some(notify) = notify_portal {
            upload["notifyPortal"] = json!(notify);
        }
        let upload = validate::client_backup_upload(upload.to_string().as_bytes()).unwrap();
        prop_assert_eq!(upload.notify_portal, notify_portal);
        prop_assert_eq!(upload.notifies_portal(), notify_portal.unwrap_or(true));
        prop_assert_eq!(upload.cipher_text, cipher_text);
        prop_assert_eq!(upload.backup_share_pair_ids, pair_ids);

    }

    /// clientId and backupMethod become parts of KV keys: only
    /// `[A-Za-z0-9_-]{1,128}` gets through, so no id can reach another
    /// client's keys.
    #[test]
    fn only_safe_ids_become_parts_of_kv_keys(
        safe in safe_id(),
        hostile_char in matching("[^A-Za-z0-9_-]"),
        at in any::<Index>(),
        text in any_id(),
    ) {
        prop_assert_eq!(validate::client_id(&safe), Ok(safe.as_str()));
        prop_assert_eq!(validate::backup_method(&safe), Ok(safe.as_str()));
        let mut hostile = safe.clone();
        hostile.insert_str(at.index(hostile.len() + 1), &hostile_char);
        prop_assert_eq!(validate::client_id(&hostile).unwrap_err().code(), ErrorCode::InvalidClientId);
        prop_assert_eq!(validate::backup_method(&hostile).unwrap_err().code(), ErrorCode::InvalidBackupMethod);
        // Whatever else a caller sends: accepted text is a safe id.
        if let Ok(accepted) = validate::client_id(&text) {
            prop_assert!(!accepted.is_empty() && accepted.len() <= validate::MAX_ID_LEN);
            prop_assert!(!accepted.contains(['/', ':', '.', '%']));
        }
        match validate::client_backup_method(&text) {
            Ok(method) => prop_assert!(validate::CLIENT_BACKUP_METHODS.contains(&method)),
            Err(error) => prop_assert!(is_bad_request(&error, &[ErrorCode::InvalidBackupMethod, ErrorCode::UnsupportedBackupMethod])),
        }
    }

    #[test]
    fn any_content_type_is_json_or_415(
        header in prop_oneof![
            any::<String>(),
            matching("(?i)application/json"),
            matching("(?i) *application/json *; *charset=[a-z0-9-]{0,8}"),
        ],
        required in any::<bool>(),
    ) {
        match validate::json_content_type(Some(&header), required) {
            Ok(()) => prop_assert!(header.split(';').next().unwrap().trim().eq_ignore_ascii_case("application/json")),
            Err(error) => prop_assert_eq!(error, Error::UnsupportedMediaType),
        }
    }
}

// ---- the Worker's reading and the wire types ------------------------------------------------

/// The codes a body's shape earns (not JSON aside): a field the type does
/// not have, one missing, one of another JSON type.
const SHAPE_CODES: &[ErrorCode] = &[
    ErrorCode::UnknownField,
    ErrorCode::MissingField,
    ErrorCode::InvalidFieldType,
];

/// `validate` reads a body field by field (each fault its own code), the
/// wire type's serde derive reads it whole; both must see the same shape.
/// What `validate` accepts, the derive reads as the same value; what the
/// derive refuses, `validate` refuses; and what the derive reads,
/// `validate` refuses only for what a value must be (a safe id, an
/// envelope, ...), never for its shape. Two leniencies of the derive that
/// the Worker does not share are INVALID_JSON there: a JSON array of the
/// fields' values in order, and (Portal's bodies) an unknown field's value
/// skipped without checking its numbers and escapes.
fn same_shape<T: DeserializeOwned + PartialEq + std::fmt::Debug>(
    body: &[u8],
    validated: Result<T, Error>,
    value_codes: &[ErrorCode],
) -> Result<(), TestCaseError> {
    let derived = serde_json::from_slice::<T>(body);
    match (&validated, &derived) {
        (Ok(validated), Ok(derived)) => prop_assert_eq!(validated, derived),
        (Ok(_), Err(error)) => {
            prop_assert!(false, "the derive refuses what validate takes: {}", error)
        }
        // serde's derive also reads a struct from an array of its fields'
        // values, in order; the Worker and the document take only objects.
        (Err(error), Ok(_)) if body.trim_ascii_start().starts_with(b"[") => {
            prop_assert_eq!(error.code(), ErrorCode::InvalidJson)
        }
        (Err(error), Ok(_)) => prop_assert!(
            value_codes.contains(&error.code()) && !SHAPE_CODES.contains(&error.code()),
            "{:?}",
            error
        ),
        (Err(_), Err(_)) => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_worker_reads_webhook_bodies_as_the_wire_type_does(body in body(WEBHOOK_FIELDS)) {
        same_shape::<CustodianBackupWebhook>(&body, validate::custodian_backup(&body), &[
            ErrorCode::InvalidClientId, ErrorCode::InvalidBackupMethod, ErrorCode::InvalidShare, ErrorCode::InvalidJson,
        ])?;
        same_shape::<CustodianFetchRequest>(&body, validate::custodian_fetch(&body), &[
            ErrorCode::InvalidClientId, ErrorCode::InvalidJson,
        ])?;
    }

    #[test]
    fn the_worker_reads_browser_bodies_as_the_wire_type_does(
        upload in body(UPLOAD_FIELDS),
        confirmation in body(&["backupId"]),
    ) {
        same_shape::<StoreClientBackup>(&upload, validate::client_backup_upload(&upload), &[
            ErrorCode::InvalidCiphertext, ErrorCode::InvalidSharePairIds,
        ])?;
        same_shape::<ConfirmClientBackup>(&confirmation, validate::confirm(&confirmation), &[
            ErrorCode::InvalidBackupId,
        ])?;
    }
}

// ---- client backup records (the Durable Object's `client` key) ----------------------------

fn stored_version() -> impl Strategy<Value = StoredVersion> {
    (
        safe_id(),
        vec(safe_id(), 1..=3),
        any::<String>(),
        any::<u64>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(backup_id, backup_share_pair_ids, created_at, size, portal_notified, confirmed)| {
                StoredVersion {
                    backup_id,
                    backup_share_pair_ids,
                    created_at,
                    size,
                    portal_notified,
                    confirmed,
                }
            },
        )
}

/// Records as the object writes them: any of the client methods, each with
/// a current version and maybe a previous one.
fn client_records() -> impl Strategy<Value = ClientRecords> {
    let method = prop::sample::select(validate::CLIENT_BACKUP_METHODS.to_vec());
    btree_map(
        method,
        (stored_version(), prop::option::of(stored_version())),
        0..=3,
    )
    .prop_map(|methods| {
        let mut records = ClientRecords::default();
        for (method, (current, previous)) in methods {
            records.insert(method, ClientBackupRecord { current, previous });
        }
        records
    })
}

/// The object's stored state holding `records` (and no custodian share).
fn state_text(records: ClientRecords) -> String {
    let mut state = BackupState::from_directory(DirectoryRecord::default());
    state.client = Some(records);
    state.to_text()
}

/// The client records of a stored state, as the object reads them.
fn read_records(text: Option<&str>) -> Result<ClientRecords, Error> {
    match text {
        None => Ok(ClientRecords::default()),
        Some(text) => BackupState::parse(text).map(|state| state.client.unwrap_or_default()),
    }
}

/// Text the object's state might hold: real records, one with a field
/// replaced or removed, a foreign version, a damaged one, or anything.
fn client_records_text() -> impl Strategy<Value = String> {
    let field = prop::sample::select(vec![
        "v",
        "client",
        "current",
        "previous",
        "backupId",
        "size",
        "confirmed",
    ]);
    let edited = (client_records(), field, prop::option::of(json_value())).prop_map(
        |(records, field, replacement)| {
            let mut value: Value = serde_json::from_str(&state_text(records)).unwrap();
            let target = match value["client"]
                .as_object_mut()
                .and_then(|m| m.values_mut().next())
            {
                Some(method) if field != "v" && field != "client" => match field {
                    "current" | "previous" => method,
                    _ => &mut method["current"],
                },
                _ => &mut value,
            };
            if let Some(target) = target.as_object_mut() {
                match replacement {
                    Some(replacement) => target.insert(field.to_owned(), replacement),
                    None => target.remove(field),
                };
            }
            value.to_string()
        },
    );
    let damaged = damaged(client_records().prop_map(|records| state_text(records).into_bytes()))
        .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    prop_oneof![
        client_records().prop_map(state_text),
        edited,
        damaged,
        (client_records(), 2..=u8::MAX).prop_map(|(records, v)| state_text(records).replacen(
            r#""v":1"#,
            &format!(r#""v":{v}"#),
            1
        )),
        json_value().prop_map(|value| value.to_string()),
        any::<String>(),
    ]
}

/// One request against a client's method, as the object applies them.
#[derive(Debug, Clone)]
enum ClientRequest {
    /// PUT of a new version (the browser's ciphertext, written to its blob).
    Store(String),
    /// confirm naming the current version, or one that is not.
    ConfirmCurrent,
    ConfirmOther(String),
}

fn client_requests() -> impl Strategy<Value = Vec<ClientRequest>> {
    vec(
        prop_oneof![
            2 => any::<String>().prop_map(ClientRequest::Store),
            2 => Just(ClientRequest::ConfirmCurrent),
            1 => safe_id().prop_map(ClientRequest::ConfirmOther),
        ],
        1..=12,
    )
}

proptest! {
    #![proptest_config(config())]

    /// Whatever the object's stored state holds, reading it gives client
    /// records this Worker wrote (version 1, client methods only, safe
    /// backupIds) or STORED_RECORD_UNREADABLE; records read are written back
    /// identically.
    #[test]
    fn any_stored_client_records_read_as_version_1_or_unreadable(text in client_records_text()) {
        match read_records(Some(&text)) {
            Ok(records) => {
                prop_assert!(text.contains(r#""v":1"#));
                for summary in records.summaries() {
                    prop_assert!(validate::CLIENT_BACKUP_METHODS.contains(&summary.backup_method.as_str()));
                    prop_assert!(validate::is_safe_id(&summary.backup_id));
                }
                prop_assert_eq!(read_records(Some(&state_text(records.clone()))), Ok(records));
            }
            Err(error) => prop_assert_eq!(error, Error::StoredRecordUnreadable),
        }
    }

    /// Any sequence of PUTs and confirms, the records going through their
    /// stored text between requests and each envelope a blob of its own:
    /// current is the latest PUT, the last confirmed version stays
    /// recoverable byte for byte until a newer one is confirmed, and a blob
    /// goes to the trash only once nothing names it.
    #[test]
    fn a_failed_backup_never_loses_the_last_confirmed_one(requests in client_requests()) {
        let mut stored: Option<String> = None;
        let mut blobs = std::collections::HashMap::new();
        let mut last_put: Option<(String, String)> = None;
        let mut last_confirmed: Option<(String, String)> = None;
        for (step, request) in requests.into_iter().enumerate() {
            let mut records = read_records(stored.as_deref()).unwrap();
            let dropped = match request {
                ClientRequest::Store(cipher_text) => {
                    let backup_id = format!("v{step}");
                    blobs.insert(backup_id.clone(), cipher_text.clone());
                    let version = StoredVersion {
                        backup_id: backup_id.clone(),
                        backup_share_pair_ids: vec!["pair-1".into()],
                        created_at: "2026-12-02T00:00:00.000Z".into(),
                        size: cipher_text.len() as u64,
                        portal_notified: false,
                        confirmed: false,
                    };
                    last_put = Some((backup_id, cipher_text));
                    records.store("GDRIVE", version)
                }
                ClientRequest::ConfirmCurrent | ClientRequest::ConfirmOther(_) => {
                    let Some(record) = records.get_mut("GDRIVE") else { continue };
                    let named = match &request {
                        ClientRequest::ConfirmOther(id) => id.clone(),
                        _ => record.current.backup_id.clone(),
                    };
                    let is_current = last_put.as_ref().is_some_and(|(id, _)| *id == named);
                    let confirmed = record.confirm(&named);
                    prop_assert_eq!(confirmed.is_ok(), is_current);
                    if is_current {
                        last_confirmed = last_put.clone();
                    }
                    confirmed.unwrap_or(None)
                }
            };
            if let Some(dropped) = dropped {
                blobs.remove(&dropped);
            }
            stored = Some(state_text(records));
            let records = read_records(stored.as_deref()).unwrap();
            let Some(record) = records.get("GDRIVE") else { continue };
            let blob = |id: &str| blobs.get(id).cloned();
            let current = (record.current.backup_id.clone(), blob(&record.current.backup_id).unwrap());
            prop_assert_eq!(Some(&current), last_put.as_ref());
            let fallback = record.previous.as_ref().map(|v| (v.backup_id.clone(), blob(&v.backup_id).unwrap()));
            if last_confirmed.as_ref() == Some(&current) {
                prop_assert!(record.current.confirmed);
                prop_assert_eq!(fallback, None);
            } else {
                prop_assert_eq!(fallback, last_confirmed.clone());
            }
            prop_assert_eq!(blobs.len(), record.backup_ids().count(), "a blob nothing names was kept");
        }
    }
}

// ---- sealed custodian records --------------------------------------------------------

const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const K2: &str = "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

/// Parsed once per run, as the Worker does once per isolate.
static K1_ONLY: LazyLock<Keyring> = LazyLock::new(|| Keyring::parse(K1).unwrap());
/// After a rotation to k2 that keeps k1.
static ROTATED: LazyLock<Keyring> =
    LazyLock::new(|| Keyring::parse(&format!("{K2},{K1}")).unwrap());
/// k1 seals, k2 is known too.
static BOTH: LazyLock<Keyring> = LazyLock::new(|| Keyring::parse(&format!("{K1},{K2}")).unwrap());

fn base64url(bytes: &[u8]) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::encode_string(bytes)
}

fn base64url_decoded(text: &str) -> Vec<u8> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::decode_vec(text).unwrap()
}

/// A custodian share as Portal sends it: a JSON object, stringified.
fn custodian_share() -> impl Strategy<Value = String> {
    btree_map(
        safe_id(),
        prop_oneof![any::<String>().prop_map(Value::String), json_value()],
        0..4,
    )
    .prop_map(|share| json!(share).to_string())
}

/// A sealed record's fields, each real-looking or arbitrary.
fn sealed_record() -> impl Strategy<Value = SealedShare> {
    let text_or_base64url = |max: usize| {
        prop_oneof![
            vec(any::<u8>(), 0..=max).prop_map(|bytes| base64url(&bytes)),
            any::<String>()
        ]
    };
    (
        prop_oneof![Just(1u8), any::<u8>()],
        prop_oneof![
            Just("k1".to_owned()),
            Just("k2".to_owned()),
            any::<String>()
        ],
        text_or_base64url(16),
        text_or_base64url(96),
    )
        .prop_map(|(v, kid, nonce, ciphertext)| SealedShare {
            v,
            kid,
            nonce,
            ciphertext,
        })
}

/// One change to a genuine sealed record.
#[derive(Debug, Clone)]
enum Tamper {
    FlipNonceBit(Index),
    FlipCiphertextBit(Index),
    TruncateCiphertext(Index),
    Version(u8),
    /// The other key of the keyring, which exists but did not seal it.
    OtherKid,
    /// Moved to another client or method (the associated data).
    OtherClient(String),
    OtherMethod(String),
}

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        any::<Index>().prop_map(Tamper::FlipNonceBit),
        any::<Index>().prop_map(Tamper::FlipCiphertextBit),
        any::<Index>().prop_map(Tamper::TruncateCiphertext),
        (2..=u8::MAX).prop_map(Tamper::Version),
        Just(Tamper::OtherKid),
        safe_id().prop_map(Tamper::OtherClient),
        safe_id().prop_map(Tamper::OtherMethod),
    ]
}

fn flip_bit(text: &str, bit: Index) -> String {
    let mut bytes = base64url_decoded(text);
    let bit = bit.index(bytes.len() * 8);
    bytes[bit / 8] ^= 1 << (bit % 8);
    base64url(&bytes)
}

proptest! {
    #![proptest_config(config())]

    /// Whatever a custodian record key holds, `/backup/fetch` gets either
    /// STORED_RECORD_UNREADABLE from the read or from opening it: never a
    /// panic, never someone's share.
    #[test]
    fn any_stored_custodian_record_is_unreadable_unless_sealed_here(
        text in prop_oneof![
            sealed_record().prop_map(|record| write_stored(&record)),
            json_value().prop_map(|value| value.to_string()),
            any::<String>(),
        ],
        client_id in safe_id(),
    ) {
        let opened = read_stored::<SealedShare>(&text).and_then(|record| BOTH.open(&client_id, "GDRIVE", &record));
        prop_assert_eq!(opened.map(|share| share.to_string()), Err(Error::StoredRecordUnreadable));
    }

    /// Portal gets back exactly the share it sent, through KV's JSON, also
    /// after a key rotation that keeps the old key.
    #[test]
    fn a_sealed_custodian_share_opens_to_what_portal_sent(
        share in custodian_share(),
        client_id in safe_id(),
        backup_method in safe_id(),
    ) {
        let stored = write_stored(&K1_ONLY.seal(&client_id, &backup_method, &share).unwrap());
        prop_assert!(share.len() < 16 || !stored.contains(&share), "the share is stored in the clear");
        let record = read_stored::<SealedShare>(&stored).unwrap();
        let opened = K1_ONLY.open(&client_id, &backup_method, &record).unwrap();
        prop_assert_eq!(opened.as_str(), share.as_str());
        let opened = ROTATED.open(&client_id, &backup_method, &record).unwrap();
        prop_assert_eq!(opened.as_str(), share.as_str());
    }

    /// Any one change to a sealed record (a bit, a cut, its version, its
    /// key id, its client or method) makes it unreadable, never another share.
    #[test]
    fn any_change_to_a_sealed_custodian_record_makes_it_unreadable(
        share in custodian_share(),
        client_id in safe_id(),
        change in tamper(),
    ) {
        let mut record = BOTH.seal(&client_id, "GDRIVE", &share).unwrap();
        let (mut open_as_client, mut open_as_method) = (client_id.clone(), "GDRIVE".to_owned());
        match change {
            Tamper::FlipNonceBit(bit) => record.nonce = flip_bit(&record.nonce, bit),
            Tamper::FlipCiphertextBit(bit) => record.ciphertext = flip_bit(&record.ciphertext, bit),
            Tamper::TruncateCiphertext(at) => {
                let bytes = base64url_decoded(&record.ciphertext);
                record.ciphertext = base64url(&bytes[..at.index(bytes.len())]);
            }
            Tamper::Version(v) => record.v = v,
            Tamper::OtherKid => record.kid = "k2".into(),
            Tamper::OtherClient(other) => {
                prop_assume!(other != client_id);
                open_as_client = other;
            }
            Tamper::OtherMethod(other) => {
                prop_assume!(other != "GDRIVE");
                open_as_method = other;
            }
        }
        let opened = BOTH.open(&open_as_client, &open_as_method, &record);
        prop_assert_eq!(opened.map(|share| share.to_string()), Err(Error::StoredRecordUnreadable));
    }

    /// `SHARE_ENCRYPTION_KEYS` as an operator might mistype it: a keyring
    /// sealing under the first key listed, or MISCONFIGURED.
    #[test]
    fn any_key_list_is_a_keyring_or_misconfigured(
        secret in prop_oneof![
            any::<String>(),
            matching("[a-z0-9]{0,4}:[A-Za-z0-9+/=_-]{0,50}(,[a-z0-9]{0,4}:[A-Za-z0-9+/=_-]{0,50}){0,2}"),
        ],
    ) {
        match Keyring::parse(&secret) {
            Ok(keyring) => {
                let first_entry = secret.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
                prop_assert!(first_entry.starts_with(keyring.current_kid()), "{:?}", keyring.current_kid());
            }
            Err(error) => prop_assert_eq!(error.code(), ErrorCode::Misconfigured),
        }
    }
}

/// A directory as the CustodianDirectory writes it: up to MAX_METHODS
/// methods, each with a version and a receivedAt.
fn directory() -> impl Strategy<Value = DirectoryRecord> {
    vec(
        (
            safe_id(),
            any::<[u8; VERSION_LEN / 2]>(),
            matching("[0-9TZ:.+-]{1,32}"),
        ),
        0..=MAX_METHODS,
    )
    .prop_map(|entries| {
        let mut directory = DirectoryRecord::default();
        for (method, version, received_at) in entries {
            directory.set(&method, version_from(&version), received_at);
        }
        directory
    })
}

proptest! {
    #![proptest_config(config())]

    /// Whatever the Durable Object's storage holds under the directory key
    /// (a record it wrote, one byte changed or cut short, any JSON, any text), reading it
    /// gives a directory that names only safe methods and well-formed
    /// versions, or STORED_RECORD_UNREADABLE; a directory written reads back
    /// identically.
    #[test]
    fn any_stored_directory_reads_as_a_sound_directory_or_unreadable(
        text in prop_oneof![
            directory().prop_map(|d| d.to_text()),
            damaged(directory().prop_map(|d| d.to_text().into_bytes()))
                .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
            json_value().prop_map(|value| json!({ "v": 1, "methods": value }).to_string()),
            any::<String>(),
        ],
    ) {
        match DirectoryRecord::parse(Some(&text)) {
            Ok(directory) => {
                prop_assert!(directory.len() <= MAX_METHODS);
                for (method, named) in directory.entries() {
                    prop_assert!(validate::is_safe_id(method), "{method:?}");
                    prop_assert!(custodian::is_version(&named.version), "{:?}", named.version);
                }
                prop_assert_eq!(DirectoryRecord::parse(Some(&directory.to_text())), Ok(directory));
            }
            Err(error) => prop_assert_eq!(error, Error::StoredRecordUnreadable),
        }
    }
}
