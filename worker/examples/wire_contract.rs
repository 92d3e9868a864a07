//! The Rust half of tests/worker/wire-contract.test.mjs, which keeps
//! `portal_backup::wire` and docs/openapi.yaml's schemas in step.
//!
//! Reads a JSON array of `{"schema": "<component schema name>", "value": ...}`
//! from stdin (the document's examples) and prints one JSON object:
//!
//! - `samples`: for each component schema that has a Rust type, values of
//!   that type written by serde, built the way the Worker builds them (its
//!   record methods, real envelopes, its error bodies): the test validates
//!   each against the schema;
//! - `examples`: for each example read, `null` when it reads into the
//!   schema's Rust type and writes back as the same JSON (a request body
//!   must also pass the Worker's own checks, `validate`, to the same value),
//!   else what went wrong.
//!
//! `cargo run -q -p portal-backup-worker --example wire_contract < examples.json`

use std::collections::BTreeMap;
use std::io::Read;

use portal_backup::envelope::{self, BackupKey, Context, KeyKind, PasswordParams};
use portal_backup::wire::{
    ClientBackup, ClientBackupList, ClientBackupSummary, ClientBackupVersions, ConfirmClientBackup,
    CustodianBackupList, CustodianBackupStored, CustodianBackupWebhook, CustodianFetchRequest,
    CustodianFetchResponse, ErrorBody, StoreClientBackup, StoredClientBackup,
};
use portal_backup_worker::error::{Error, ErrorCode};
use portal_backup_worker::store::client::{ClientBackupRecord, ClientRecords, StoredVersion};
use portal_backup_worker::store::custodian::DirectoryRecord;
use portal_backup_worker::validate;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The component schemas a wire type stands for. `ClientBackupSummaryOnly`
/// is the summary with nothing else (`ClientBackupSummary` in the document
/// is its open base, which `ClientBackup` extends).
const SCHEMAS: &[&str] = &[
    "StoreClientBackup",
    "ConfirmClientBackup",
    "ClientBackupSummaryOnly",
    "ClientBackup",
    "StoredClientBackup",
    "ClientBackupVersions",
    "ClientBackupList",
    "CustodianBackupList",
    "CustodianBackupSummary",
    "CustodianBackupWebhook",
    "CustodianBackupStored",
    "CustodianFetchRequest",
    "CustodianFetchResponse",
    "ErrorBody",
];

fn main() {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .expect("stdin is text");
    let examples: Vec<Example> = if input.trim().is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(&input).expect("a JSON array of {schema, value}")
    };
    let checked: Vec<Option<String>> = examples
        .into_iter()
        .map(|example| check(&example.schema, example.value).err())
        .collect();
    let output = json!({ "schemas": SCHEMAS, "samples": samples(), "examples": checked });
    println!("{output}");
}

#[derive(serde::Deserialize)]
struct Example {
    schema: String,
    value: Value,
}

// ---- the document's examples into the types ---------------------------------

/// `value` read as the schema's type (and, for a request, by the Worker),
/// then written back: the same JSON, or why not.
fn check(schema: &str, value: Value) -> Result<(), String> {
    match schema {
        "StoreClientBackup" => request(value, validate::client_backup_upload),
        "ConfirmClientBackup" => request(value, validate::confirm),
        "CustodianBackupWebhook" => request(value, validate::custodian_backup),
        "CustodianFetchRequest" => request(value, validate::custodian_fetch),
        "ClientBackupSummaryOnly" => round_trip::<ClientBackupSummary>(value),
        "ClientBackup" => round_trip::<ClientBackup>(value),
        "StoredClientBackup" => round_trip::<StoredClientBackup>(value),
        "ClientBackupVersions" => round_trip::<ClientBackupVersions>(value),
        "ClientBackupList" => round_trip::<ClientBackupList>(value),
        "CustodianBackupList" => round_trip::<CustodianBackupList>(value),
        "CustodianBackupSummary" => {
            round_trip::<portal_backup::wire::CustodianBackupSummary>(value)
        }
        "CustodianBackupStored" => round_trip::<CustodianBackupStored>(value),
        "CustodianFetchResponse" => round_trip::<CustodianFetchResponse>(value),
        "ErrorBody" => {
            round_trip::<ErrorBody>(value.clone())?;
            let code = value["error"]["code"].as_str().unwrap_or_default();
            code.parse::<ErrorCode>()
                .map(|_| ())
                .map_err(|()| format!("{code} is not one of the Worker's ErrorCode"))
        }
        other => Err(format!("no Rust type for schema {other}")),
    }
}

fn round_trip<T: Serialize + DeserializeOwned>(value: Value) -> Result<(), String> {
    let typed: T = serde_json::from_value(value.clone()).map_err(|e| format!("serde: {e}"))?;
    let written = serde_json::to_value(&typed).expect("a wire type writes");
    if written == value {
        Ok(())
    } else {
        Err(format!("reads, but writes back as {written}"))
    }
}

/// A request body: its type reads it, the Worker's checks take it, both
/// to the same value, which writes back as sent.
fn request<T>(value: Value, worker: fn(&[u8]) -> Result<T, Error>) -> Result<(), String>
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    round_trip::<T>(value.clone())?;
    let body = value.to_string();
    let read = worker(body.as_bytes()).map_err(|e| format!("the Worker answers {e:?}"))?;
    let typed: T = serde_json::from_value(value).expect("read above");
    if read == typed {
        Ok(())
    } else {
        Err(format!("the Worker reads {read:?}, serde {typed:?}"))
    }
}

// ---- samples of each type ---------------------------------------------------

fn to_values<T: Serialize>(values: &[T]) -> Value {
    Value::Array(
        values
            .iter()
            .map(|v| serde_json::to_value(v).expect("a wire type writes"))
            .collect(),
    )
}

/// Envelope texts of the three key kinds, as the browser module seals them
/// (fixed key and nonce: the same output every run).
fn envelope_texts(client_id: &str) -> [(&'static str, String); 3] {
    let key = BackupKey::from_bytes([7; 32]);
    let nonce = [9; 12];
    let seal = |method: &str, kind: KeyKind, plaintext: &[u8]| {
        let context = Context::new(client_id, method).unwrap();
        let sealed = envelope::seal_with_nonce(&key, kind, &nonce, &context, plaintext).unwrap();
        envelope::envelope_to_text(&sealed)
    };
    let share = br#"{"backupSharePairId":"bsp-1","share":"8f3a"}"#;
    let password = KeyKind::Password {
        params: PasswordParams {
            m_cost: 65_536,
            t_cost: 3,
            p_cost: 1,
        },
        salt: [3; 16],
    };
    // A resident passkey's id is some 16 to 64 bytes; a Portal share a few
    // KiB (the document's passkey pattern wants at least 324 bytes).
    let passkey = KeyKind::Passkey {
        credential_id: vec![5; 32],
        prf_salt: [6; 32],
    };
    [
        ("GDRIVE", seal("GDRIVE", KeyKind::Random, share)),
        ("PASSWORD", seal("PASSWORD", password, share)),
        ("PASSKEY", seal("PASSKEY", passkey, &[b'x'; 512])),
    ]
}

fn samples() -> BTreeMap<&'static str, Value> {
    let client_id = "client-alice";
    let texts = envelope_texts(client_id);
    let version = |n: usize, confirmed: bool, notified: bool| StoredVersion {
        backup_id: format!("backup-{n}"),
        backup_share_pair_ids: vec![format!("bsp-{n}-secp256k1"), format!("bsp-{n}-ed25519")],
        created_at: format!("2026-12-0{}T09:00:00.000Z", n + 1),
        size: texts[n % 3].1.len() as u64,
        portal_notified: notified,
        confirmed,
    };

    let mut records = ClientRecords::default();
    for (n, (method, _)) in texts.iter().enumerate() {
        records.store(method, version(n, n != 1, n == 0));
    }
    // GDRIVE: a confirmed version, then a new one not yet confirmed.
    let (unconfirmed, _) = ClientBackupRecord::store(
        Some(records.get("GDRIVE").unwrap().clone()),
        version(3, false, false),
    );
    let confirmed = records.get("PASSKEY").unwrap().clone();
    let versions = [
        unconfirmed.versions(
            client_id,
            "GDRIVE",
            texts[0].1.clone(),
            Some(texts[0].1.clone()),
        ),
        confirmed.versions(client_id, "PASSKEY", texts[2].1.clone(), None),
    ];

    let mut directory = DirectoryRecord::default();
    for (method, at) in [
        ("GDRIVE-SECP256K1", "2026-12-03T02:10:00.118Z"),
        ("GDRIVE-ED25519", "2026-12-03T02:10:00.120Z"),
        ("PASSWORD-SECP256K1", "2026-12-04T11:00:00Z"),
    ] {
        directory.set(method, "0".repeat(32), at.into());
    }

    let shares = [
        r#"{"backupSharePairId":"bsp-1","share":"8f3a","ssid":"s-1"}"#,
        r#" {"a":[1,2.5e3,null,true],"b":{"c":"\u00e9\"\\"}} "#,
    ];
    let errors = Error::ONE_OF_EACH;

    let mut samples = BTreeMap::new();
    samples.insert(
        "StoreClientBackup",
        to_values(
            &texts
                .iter()
                .zip([Some(false), None, Some(true)])
                .map(|((_, text), notify_portal)| StoreClientBackup {
                    cipher_text: text.clone(),
                    backup_share_pair_ids: vec!["bsp-1-secp256k1".into()],
                    // changeBackupKey's PUT names the version it re-seals.
                    rekey_of: (notify_portal == Some(false))
                        .then(|| "AbCdEf0123456789abcdEF".into()),
                    notify_portal,
                })
                .collect::<Vec<_>>(),
        ),
    );
    samples.insert(
        "ConfirmClientBackup",
        to_values(&[ConfirmClientBackup {
            backup_id: version(3, false, false).backup_id,
        }]),
    );
    samples.insert("ClientBackupSummaryOnly", to_values(&records.summaries()));
    samples.insert(
        "ClientBackup",
        to_values(&[versions[0].current.clone(), versions[1].current.clone()]),
    );
    samples.insert(
        "StoredClientBackup",
        to_values(
            &texts
                .iter()
                .enumerate()
                .map(|(n, (method, _))| version(n, n == 2, n == 0).stored(client_id, method))
                .collect::<Vec<_>>(),
        ),
    );
    samples.insert("ClientBackupVersions", to_values(&versions));
    samples.insert(
        "ClientBackupList",
        to_values(&[
            ClientBackupList {
                client_id: client_id.into(),
                backups: records.summaries(),
            },
            ClientBackupList {
                client_id: client_id.into(),
                backups: Vec::new(),
            },
        ]),
    );
    samples.insert(
        "CustodianBackupList",
        to_values(&[
            CustodianBackupList {
                client_id: client_id.into(),
                backups: directory.summaries(),
            },
            CustodianBackupList {
                client_id: client_id.into(),
                backups: Vec::new(),
            },
        ]),
    );
    samples.insert("CustodianBackupSummary", to_values(&directory.summaries()));
    samples.insert(
        "CustodianBackupWebhook",
        to_values(
            &shares
                .iter()
                .map(|share| CustodianBackupWebhook {
                    backup_method: "GDRIVE-SECP256K1".into(),
                    client_id: client_id.into(),
                    share: (*share).into(),
                })
                .collect::<Vec<_>>(),
        ),
    );
    samples.insert(
        "CustodianBackupStored",
        to_values(&[CustodianBackupStored { stored: true }]),
    );
    samples.insert(
        "CustodianFetchRequest",
        to_values(&[CustodianFetchRequest {
            client_id: client_id.into(),
        }]),
    );
    samples.insert(
        "CustodianFetchResponse",
        to_values(&[
            CustodianFetchResponse {
                backup_shares: shares.iter().map(|s| (*s).into()).collect(),
            },
            CustodianFetchResponse {
                backup_shares: Vec::new(),
            },
        ]),
    );
    samples.insert(
        "ErrorBody",
        to_values(&errors.iter().map(Error::body).collect::<Vec<_>>()),
    );
    assert!(
        SCHEMAS.iter().all(|schema| samples.contains_key(schema)) && samples.len() == SCHEMAS.len(),
        "a sample for each schema"
    );
    samples
}
