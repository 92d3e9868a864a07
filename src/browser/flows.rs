//! The backup and recovery flows, step by step. The plan, its round trips
//! and why the order keeps the last good backup recoverable are in
//! `crate::flow`; this file performs it.
//!
//! Every step goes through one runner, `Flow::run`, and every request through
//! one path, `Http::send`. A step's result is a JS value: the service's
//! answer once the fields the flow relies on are checked, or what the step
//! built. Answers stay JS values until something in Rust needs them, so the
//! flows hold one copy of the runner and of the request code, not one per
//! result type.

use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::{Pin, pin};

use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;

use super::drive::{self, Drive};
use super::http::{self, Http, Request};
use super::join::{join, join_all};
use super::js;
use super::js_error::Failure;
use super::options::{Method, Options, Progress};
use super::passkey;
use super::portal;
use super::server::Server;
use super::webcrypto::{self, SealedBytes};
use crate::Error;
use crate::envelope::{self, BackupKey, Context, KeyKind, PasswordParams};
use crate::flow::{self, Step, Version};
use crate::wire::BackupSharePairStatus;

/// A step's work: its result as a JS value, or why it failed.
type Work<'w> = Pin<&'w mut dyn Future<Output = Result<JsValue, Error>>>;

/// What the steps of one call share.
struct Flow<'a> {
    options: &'a Options,
    http: Http<'a>,
    server: Server<'a>,
    drive: Drive<'a>,
    progress: Progress,
}

impl<'a> Flow<'a> {
    fn new(options: &'a Options) -> Self {
        Flow {
            options,
            http: Http::new(options),
            server: Server::new(&options.server_url, &options.client_id),
            drive: Drive::new(&options.drive_api_url),
            progress: options.progress(),
        }
    }

    /// The one step runner: the `start` event, the work, then `end` or
    /// `error`. Not generic, so the package holds it once.
    async fn run(&self, step: Step, work: Work<'_>) -> Result<JsValue, Failure> {
        self.progress.emit(step, "start", None);
        match work.await {
            Ok(value) => {
                self.progress.emit(step, "end", None);
                Ok(value)
            }
            Err(error) => {
                let failure = Failure::at(step, error);
                self.progress.emit(step, "error", Some(&failure.to_js()));
                Err(failure)
            }
        }
    }

    /// The Drive key file's name; also checks that a Drive flow can ask for a token.
    async fn key_file_name(&self) -> Result<String, Error> {
        let custodian_id = self.options.custodian_id()?;
        self.options.drive_token_source()?;
        webcrypto::key_file_name(custodian_id, &self.options.client_id).await
    }

    /// PUT the ciphertext; the stored version's summary.
    async fn store(&self, method: &str, cipher_text: &JsValue, pair_ids: &JsValue) -> Result<JsValue, Error> {
        let answer = self.http.send(&self.server.store(method, cipher_text, pair_ids)?).await?;
        self.server.stored_backup(answer)
    }

    async fn confirm(&self, method: &str, backup: &JsValue) -> Result<JsValue, Error> {
        let request = self.server.confirm(method, &js::field(backup, "backupId"))?;
        self.server.stored_backup(self.http.send(&request).await?)
    }

    async fn versions(&self, method: &str) -> Result<JsValue, Error> {
        self.server.versions_answer(self.http.send(&self.server.versions(method)).await?)
    }

    /// Tells Portal the key is stored, then has the server tell it the share
    /// is (two round trips), in the order of Portal's own SDK.
    async fn tell_portal(&self, method: &str, pair_ids: &JsValue) -> Result<JsValue, Error> {
        let status = BackupSharePairStatus::StoredClientBackupShareKey;
        self.http.send(&portal::update_backup_share_pairs(&self.options.portal_api_url, status, pair_ids)?).await?;
        let backup = self.server.stored_backup(self.http.send(&self.server.notify(method)).await?)?;
        if js::boolean(&backup, "portalNotified") == Some(true) {
            Ok(JsValue::TRUE)
        } else {
            Err(Error::Remote {
                code: "PORTAL_UNAVAILABLE",
                message: "server: Portal was not told the share is stored; try again later".into(),
                status: None,
            })
        }
    }

    /// Deletes key files in parallel; one already gone counts as deleted.
    async fn delete_key_files(&self, file_ids: &[String]) -> Result<(), Error> {
        let requests: Vec<Request> = file_ids.iter().map(|id| self.drive.delete_file(id)).collect();
        let results = join_all(requests.iter().map(|request| self.http.send(request))).await;
        results.into_iter().try_for_each(|result| match result {
            Err(error) if error.code() != "DRIVE_NOT_FOUND" => Err(error),
            _ => Ok(()),
        })
    }
}

/// The pair ids come from the plaintext itself, parsed by the browser's
/// JSON.parse: the ids Portal is told are the ids that were sealed.
fn backup_share_pair_ids(plaintext: &[u8]) -> Result<Vec<String>, Error> {
    const NOT_JSON: Error = Error::InvalidInput("clientBackup must be the JSON text Portal's SDK builds");
    let text = core::str::from_utf8(plaintext).map_err(|_| NOT_JSON)?;
    let value = js_sys::JSON::parse(text).map_err(|_| NOT_JSON)?;
    if !value.is_object() || Array::is_array(&value) {
        return Err(NOT_JSON);
    }
    let mut shares = Vec::new();
    for entry in js_sys::Object::entries(value.unchecked_ref()).iter() {
        let entry: Array = entry.unchecked_into();
        let (curve, share) = (entry.get(0).as_string().ok_or(NOT_JSON)?, entry.get(1));
        if js::field(&share, "share").is_undefined() {
            return Err(NOT_JSON);
        }
        shares.push((curve, js::string(&share, "id").ok_or(NOT_JSON)?));
    }
    flow::pair_ids_in_curve_order(shares)
}

/// What `backupWallet` resolves with.
fn backup_result(
    method: &str,
    backup: &JsValue,
    pair_ids: &JsValue,
    portal_notified: bool,
    key_file_id: Option<&str>,
    removed_key_files: usize,
) -> JsValue {
    let result = js::object(&[
        ("method", method.into()),
        ("backupId", js::field(backup, "backupId")),
        ("backupSharePairIds", pair_ids.clone()),
        ("createdAt", js::field(backup, "createdAt")),
        ("portalNotified", portal_notified.into()),
        ("removedKeyFiles", (removed_key_files as f64).into()),
    ]);
    if let Some(id) = key_file_id {
        js::set(&result, "keyFileId", &id.into());
    }
    result
}

pub async fn backup(options: &Options, plaintext: Vec<u8>) -> Result<JsValue, Failure> {
    let method = options.method()?;
    let context = Context::new(&options.client_id, method.name())?;
    let pair_ids = js::string_array(&backup_share_pair_ids(&plaintext)?);
    let plaintext = Uint8Array::from(plaintext.as_slice());
    let flow = Flow::new(options);
    match method {
        Method::Gdrive => backup_gdrive(&flow, &context, &plaintext, &pair_ids).await,
        _ => backup_derived(&flow, method, &context, &plaintext, &pair_ids).await,
    }
}

/// Four round trips; see `crate::flow` for why this order never leaves the
/// user without a usable key.
async fn backup_gdrive(
    flow: &Flow<'_>,
    context: &Context<'_>,
    plaintext: &Uint8Array,
    pair_ids: &JsValue,
) -> Result<JsValue, Failure> {
    let file_name = flow.key_file_name().await?;
    let method = Method::Gdrive.name();

    let key = BackupKey::generate()?;
    let cipher_text =
        flow.run(Step::Encrypt, pin!(webcrypto::seal_to_text(&key, KeyKind::Random, context, plaintext))).await?;
    let key_text = key.to_text();
    drop(key);

    // Round trip 1: the key to Drive and the ciphertext to the server. A new
    // key file, never an overwrite: the old one stays until this backup is
    // confirmed.
    let (key_file, stored) = join(
        flow.run(
            Step::StoreKey,
            pin!(async {
                let answer = flow.http.send(&flow.drive.create_key_file(&file_name, &key_text)?).await?;
                Ok(drive::created_file_id(&answer)?.into())
            }),
        ),
        flow.run(Step::StoreShare, pin!(flow.store(method, &cipher_text, pair_ids))),
    )
    .await;
    let key_file_id = key_file.map(|id| id.as_string().unwrap_or_default());
    let (key_file_id, backup) = match (key_file_id, stored) {
        (Ok(id), Ok(backup)) => (id, backup),
        (Ok(id), Err(failure)) => {
            // Without its ciphertext the new key is useless; older keys stay.
            let _ = flow.delete_key_files(&[id]).await;
            return Err(failure);
        }
        // The server may hold the new ciphertext unconfirmed; it keeps the
        // last confirmed one as `previous`, which recovery falls back to.
        (Err(failure), _) => return Err(failure),
    };

    // Round trip 2: read the key back and list every key file of the name.
    // This write-then-read of the real key is the storage check.
    let listed = flow
        .run(
            Step::CheckStorage,
            pin!(async {
                let read_back = flow.drive.read_file(&key_file_id);
                let list = flow.drive.list_key_files(&file_name);
                let (read_back, listed) = join(flow.http.send(&read_back), flow.http.send(&list)).await;
                if read_back?.as_string().as_deref().map(str::trim) != Some(key_text.as_str()) {
                    let _ = flow.delete_key_files(core::slice::from_ref(&key_file_id)).await;
                    return Err(Error::Remote {
                        code: "STORAGE_CHECK_FAILED",
                        message: "google drive: the key file read back differs from what was written".into(),
                        status: None,
                    });
                }
                Ok(js::string_array(&drive::key_file_ids(&listed?)?))
            }),
        )
        .await?;

    // Round trips 3 and 4, two chains side by side: Portal hears KEY then
    // SHARE; the server confirms, and only then may older keys go.
    let stale: Vec<String> = listed
        .unchecked_ref::<Array>()
        .iter()
        .filter_map(|id| id.as_string())
        .filter(|id| *id != key_file_id)
        .collect();
    let (portal_notified, removed) =
        join(flow.run(Step::NotifyPortal, pin!(flow.tell_portal(method, pair_ids))), async {
            flow.run(Step::Confirm, pin!(flow.confirm(method, &backup))).await?;
            // A failure leaves an extra key file, which recovery skips and the
            // next backup removes.
            let removed = stale.is_empty()
                || flow
                    .run(
                        Step::RemoveOldKeys,
                        pin!(async { flow.delete_key_files(&stale).await.map(|()| JsValue::TRUE) }),
                    )
                    .await
                    .is_ok();
            Ok::<_, Failure>(if removed { stale.len() } else { 0 })
        })
        .await;
    // Portal not told is reported through `onProgress` and `portalNotified:
    // false`, not thrown: both halves are stored, `notifyPortal()` can finish the job.
    Ok(backup_result(method, &backup, pair_ids, portal_notified.is_ok(), Some(&key_file_id), removed?))
}

/// Three round trips for a key derived here and stored nowhere (Argon2id of
/// the password, or the passkey's PRF output): store; Portal (KEY then
/// SHARE) ‖ confirm. Nothing is stored before the key exists, so a refused
/// or PRF-less passkey leaves the server as it was.
async fn backup_derived(
    flow: &Flow<'_>,
    method: Method,
    context: &Context<'_>,
    plaintext: &Uint8Array,
    pair_ids: &JsValue,
) -> Result<JsValue, Failure> {
    let password = if method == Method::Password { Some(flow.options.password()?) } else { None };
    let mut credential_id = JsValue::UNDEFINED;
    let cipher_text = flow
        .run(
            Step::Encrypt,
            pin!(async {
                let (key, kind) = match password {
                    Some(password) => {
                        let mut salt = [0u8; envelope::SALT_LEN];
                        getrandom::fill(&mut salt).map_err(|_| Error::Randomness)?;
                        let params = PasswordParams::DEFAULT;
                        (envelope::derive_password_key(password, &params, &salt)?, KeyKind::Password { params, salt })
                    }
                    None => passkey::backup_key(flow.options, context).await?,
                };
                credential_id = passkey::credential_id_text(&kind);
                webcrypto::seal_to_text(&key, kind, context, plaintext).await
            }),
        )
        .await?;
    let method = method.name();
    let backup = flow.run(Step::StoreShare, pin!(flow.store(method, &cipher_text, pair_ids))).await?;
    let (portal_notified, confirmed) = join(
        flow.run(Step::NotifyPortal, pin!(flow.tell_portal(method, pair_ids))),
        flow.run(Step::Confirm, pin!(flow.confirm(method, &backup))),
    )
    .await;
    confirmed?;
    let result = backup_result(method, &backup, pair_ids, portal_notified.is_ok(), None, 0);
    if !credential_id.is_undefined() {
        js::set(&result, "credentialId", &credential_id);
    }
    Ok(result)
}

// ---- recovery ----------------------------------------------------------------

/// `current` or `previous` of a versions answer (the fields are named as
/// the versions); `None` for a missing previous.
fn stored_version(versions: &JsValue, version: Version) -> Option<JsValue> {
    let stored = js::field(versions, version.name());
    stored.is_object().then_some(stored)
}

/// The recovered wallet, the plaintext as bytes only: `recoverWallet` adds
/// the text, `checkBackup` wipes the bytes.
fn recovered(method: Method, backup: &JsValue, version: Version, fell_back: bool, plaintext: Uint8Array) -> JsValue {
    let value = js::object(&[
        ("method", method.name().into()),
        ("clientBackupBytes", plaintext.into()),
        ("backupId", js::field(backup, "backupId")),
        ("backupSharePairIds", js::field(backup, "backupSharePairIds")),
        ("createdAt", js::field(backup, "createdAt")),
        ("version", version.name().into()),
        ("fellBack", fell_back.into()),
    ]);
    value
}

pub async fn recover(options: &Options) -> Result<JsValue, Failure> {
    let method = options.method()?;
    let context = Context::new(&options.client_id, method.name())?;
    let flow = Flow::new(options);
    match method {
        Method::Gdrive => recover_gdrive(&flow, &context).await,
        _ => recover_derived(&flow, method, &context).await,
    }
}

/// Two round trips: list key files ‖ fetch versions; read every key file.
async fn recover_gdrive(flow: &Flow<'_>, context: &Context<'_>) -> Result<JsValue, Failure> {
    let file_name = flow.key_file_name().await?;
    let (listed, versions) = join(
        flow.run(
            Step::FetchKey,
            pin!(async {
                let ids = drive::key_file_ids(&flow.http.send(&flow.drive.list_key_files(&file_name)).await?)?;
                if ids.is_empty() {
                    return Err(Error::Remote {
                        code: "KEY_NOT_FOUND",
                        message: "google drive: no backup key for this client in this Google account".into(),
                        status: None,
                    });
                }
                Ok(js::string_array(&ids))
            }),
        ),
        flow.run(Step::FetchShare, pin!(flow.versions(Method::Gdrive.name()))),
    )
    .await;
    // A server answer about another client (wrong token or clientId) says
    // more than a missing key, which is its consequence.
    let versions = versions?;
    let listed = listed?;

    let key_texts = flow.run(Step::FetchKey, pin!(read_keys(flow, &listed))).await?;

    flow.run(
        Step::Decrypt,
        pin!(async {
            let keys: Vec<Option<BackupKey>> = key_texts
                .unchecked_ref::<Array>()
                .iter()
                .map(|text| BackupKey::from_text(&text.as_string()?).ok())
                .collect();
            let stored = [stored_version(&versions, Version::Current), stored_version(&versions, Version::Previous)];
            let ciphertexts: Vec<Option<Result<SealedBytes, Error>>> = stored
                .iter()
                .map(|backup| Some(SealedBytes::from_text(&js::field(backup.as_ref()?, "cipherText"))))
                .collect();
            let confirmed = stored[0].as_ref().and_then(|current| js::boolean(current, "confirmed")) == Some(true);
            for (key_index, version) in flow::recovery_candidates(keys.len(), confirmed, stored[1].is_some()) {
                let slot = usize::from(version == Version::Previous);
                let (Some(Some(key)), Some(Some(Ok(sealed))), Some(Some(backup))) =
                    (keys.get(key_index), ciphertexts.get(slot), stored.get(slot))
                else {
                    continue;
                };
                if let Ok(plaintext) = webcrypto::open_js(key, sealed, context).await {
                    let fell_back = (key_index, version) != (0, Version::Current);
                    return Ok(recovered(Method::Gdrive, backup, version, fell_back, plaintext));
                }
            }
            // Unknown format or version beats the vague error: it says "update".
            if let Some(Some(Err(error))) = ciphertexts.first() {
                return Err(error.clone());
            }
            Err(Error::CannotDecrypt)
        }),
    )
    .await
}

/// Reads every key file in parallel: a JS array of the key texts, newest
/// first, `undefined` for one that is unreadable. One unreadable file is
/// tolerated (it may belong to a half-failed backup); all unreadable is an error.
async fn read_keys(flow: &Flow<'_>, listed: &JsValue) -> Result<JsValue, Error> {
    let requests: Vec<Request> = listed
        .unchecked_ref::<Array>()
        .iter()
        .map(|id| flow.drive.read_file(&id.as_string().unwrap_or_default()))
        .collect();
    let texts = join_all(requests.iter().map(|request| flow.http.send(request))).await;
    let mut first_error = None;
    let keys: Array = texts
        .into_iter()
        .map(|text| {
            let text = text.and_then(|text| {
                BackupKey::from_text(&text.as_string().unwrap_or_default())?;
                Ok(text)
            });
            text.unwrap_or_else(|error| {
                first_error.get_or_insert(error);
                JsValue::UNDEFINED
            })
        })
        .collect();
    match first_error {
        Some(error) if keys.iter().all(|key| key.is_undefined()) => Err(error),
        _ => Ok(keys.into()),
    }
}

/// One round trip: fetch versions; then, the last confirmed version first,
/// the key its header says how to get (Argon2id of the password, or one
/// WebAuthn `get` with the passkey and PRF salt it names) and AES-GCM
/// locally. A passkey refused or cancelled stops there: no second prompt.
async fn recover_derived(flow: &Flow<'_>, method: Method, context: &Context<'_>) -> Result<JsValue, Failure> {
    let password = if method == Method::Password { Some(flow.options.password()?) } else { None };
    let versions = flow.run(Step::FetchShare, pin!(flow.versions(method.name()))).await?;

    flow.run(
        Step::Decrypt,
        pin!(async {
            let current = stored_version(&versions, Version::Current);
            let confirmed = current.as_ref().and_then(|current| js::boolean(current, "confirmed")) == Some(true);
            let has_previous = stored_version(&versions, Version::Previous).is_some();
            let mut first_error = None;
            for &version in flow::version_order(confirmed, has_previous) {
                let Some(backup) = stored_version(&versions, version) else { continue };
                let sealed = SealedBytes::from_text(&js::field(&backup, "cipherText"));
                let attempt = match (&sealed, password) {
                    (Ok(sealed), Some(password)) => webcrypto::open_js_with_password(password, sealed, context).await,
                    (Ok(sealed), None) => match passkey::envelope_key(flow.options, context, sealed.kind()).await {
                        Ok(key) => webcrypto::open_js(&key, sealed, context).await,
                        Err(error @ Error::Remote { .. }) => return Err(error),
                        Err(error) => Err(error),
                    },
                    (Err(error), _) => Err(error.clone()),
                };
                match attempt {
                    Ok(plaintext) => {
                        let value = recovered(method, &backup, version, version == Version::Previous, plaintext);
                        if let Ok(sealed) = &sealed {
                            js::set(&value, "credentialId", &passkey::credential_id_text(sealed.kind()));
                        }
                        return Ok(value);
                    }
                    Err(error) => {
                        first_error.get_or_insert(error);
                    }
                }
            }
            Err(first_error.unwrap_or(Error::WrongPassword))
        }),
    )
    .await
}

// ---- housekeeping ------------------------------------------------------------

/// `backups` of a list answer, the server's list of client backups or of
/// Portal's custodian deliveries, once it is about our client.
pub async fn list(options: &Options, custodian: bool) -> Result<JsValue, Failure> {
    let flow = Flow::new(options);
    let request = if custodian { flow.server.custodian_list() } else { flow.server.list() };
    let answer = flow.server.ours(flow.http.send(&request).await?)?;
    Ok(js::array(&answer, "backups").ok_or_else(http::bad_answer)?.into())
}

/// Removes the server's copy and, for GDRIVE, every key file of the client.
pub async fn delete_backup(options: &Options) -> Result<JsValue, Failure> {
    let method = options.method()?;
    let flow = Flow::new(options);
    let delete = flow.server.delete(method.name());
    let removed_key_files = match method {
        Method::Password | Method::Passkey => {
            ignore_not_found(flow.http.send(&delete).await)?;
            0
        }
        Method::Gdrive => {
            let list = flow.drive.list_key_files(&flow.key_file_name().await?);
            let (listed, deleted) = join(flow.http.send(&list), flow.http.send(&delete)).await;
            ignore_not_found(deleted)?;
            let ids = drive::key_file_ids(&listed?)?;
            flow.delete_key_files(&ids).await?;
            ids.len()
        }
    };
    Ok(js::object(&[("method", method.name().into()), ("removedKeyFiles", (removed_key_files as f64).into())]))
}

fn ignore_not_found(result: Result<JsValue, Error>) -> Result<(), Error> {
    match result {
        Err(error) if error.code() != "BACKUP_NOT_FOUND" => Err(error),
        _ => Ok(()),
    }
}

/// Retries the Portal notifications of the current backup: reads its pair
/// ids from the server, then KEY and SHARE as in a backup. Three round trips.
pub async fn notify(options: &Options) -> Result<JsValue, Failure> {
    let method = options.method()?.name();
    let flow = Flow::new(options);
    let versions = flow.run(Step::FetchShare, pin!(flow.versions(method))).await?;
    let ids = js::field(&js::field(&versions, "current"), "backupSharePairIds");
    flow.run(Step::NotifyPortal, pin!(flow.tell_portal(method, &ids))).await?;
    Ok(js::object(&[("method", method.into()), ("backupSharePairIds", ids), ("portalNotified", true.into())]))
}
