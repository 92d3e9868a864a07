//! The backup and recovery flows, step by step. The plan, its round trips
//! and why the order keeps the last good backup recoverable are in
//! `crate::flow`; this file performs it.

use alloc::{string::String, vec::Vec, vec};
use core::future::Future;

use wasm_bindgen::prelude::*;

use super::drive::DriveClient;
use super::join::{join, join_all};
use super::js::{self, ToJs};
use super::js_error::Failure;
use super::options::{Method, Options, Progress};
use super::server::ServerClient;
use super::{portal, webcrypto};
use crate::Error;
use crate::drive::{self as drive_core, DriveFile};
use crate::envelope::{self, BackupKey, Context, Envelope, KeyKind, PasswordParams};
use crate::flow::{self, ClientBackupShares, CurveShare, Step, Version};
use crate::wire::{BackupSharePairStatus, ClientBackup, StoreClientBackup, StoredClientBackup};

/// Runs one step between `start` and `end`/`error` progress events.
async fn run<T>(progress: &Progress, step: Step, work: impl Future<Output = Result<T, Error>>) -> Result<T, Failure> {
    progress.emit(step, "start", None);
    match work.await {
        Ok(value) => {
            progress.emit(step, "end", None);
            Ok(value)
        }
        Err(error) => {
            let failure = Failure::at(step, error);
            progress.emit(step, "error", Some(&failure.to_js()));
            Err(failure)
        }
    }
}

fn server<'a>(options: &'a Options) -> ServerClient<'a> {
    ServerClient::new(&options.server_url, &options.portal_token, &options.client_id, options.retry, options.timeout_ms)
}

fn drive(options: &Options) -> Result<DriveClient, Error> {
    Ok(DriveClient::new(&options.drive_api_url, options.drive_token_source()?, options.retry, options.timeout_ms))
}

/// The pair ids come from the plaintext itself, parsed by the browser's
/// JSON.parse: the ids Portal is told are the ids that were sealed.
fn backup_share_pair_ids(plaintext: &[u8]) -> Result<Vec<String>, Error> {
    const NOT_JSON: Error = Error::InvalidInput("clientBackup must be the JSON text Portal's SDK builds");
    let text = core::str::from_utf8(plaintext).map_err(|_| NOT_JSON)?;
    let value = js_sys::JSON::parse(text).map_err(|_| NOT_JSON)?;
    if !value.is_object() || js_sys::Array::is_array(&value) {
        return Err(NOT_JSON);
    }
    let mut shares = ClientBackupShares::new();
    for entry in js_sys::Object::entries(value.unchecked_ref()).iter() {
        let entry: js_sys::Array = entry.unchecked_into();
        let (curve, share) = (entry.get(0).as_string().ok_or(NOT_JSON)?, entry.get(1));
        if js::field(&share, "share").is_undefined() {
            return Err(NOT_JSON);
        }
        shares.insert(curve, CurveShare::new(js::string(&share, "id").ok_or(NOT_JSON)?));
    }
    flow::backup_share_pair_ids(&shares)
}

struct BackupOutcome<'a> {
    method: &'static str,
    backup_id: &'a str,
    backup_share_pair_ids: &'a [String],
    created_at: &'a str,
    portal_notified: bool,
    key_file_id: Option<&'a str>,
    removed_key_files: usize,
}

impl ToJs for BackupOutcome<'_> {
    fn to_js(&self) -> JsValue {
        let value = js::object(&[
            ("method", self.method.into()),
            ("backupId", self.backup_id.into()),
            ("backupSharePairIds", js::string_array(self.backup_share_pair_ids)),
            ("createdAt", self.created_at.into()),
            ("portalNotified", self.portal_notified.into()),
            ("removedKeyFiles", (self.removed_key_files as f64).into()),
        ]);
        if let Some(id) = self.key_file_id {
            let _ = js_sys::Reflect::set(&value, &"keyFileId".into(), &id.into());
        }
        value
    }
}

pub async fn backup(options: &Options, plaintext: Vec<u8>) -> Result<JsValue, Failure> {
    let method = options.method()?;
    let context = Context::new(&options.client_id, method.name())?;
    let pair_ids = backup_share_pair_ids(&plaintext)?;
    match method {
        Method::Gdrive => backup_gdrive(options, &context, &plaintext, pair_ids).await,
        Method::Password => backup_password(options, &context, &plaintext, pair_ids).await,
    }
}

/// Four round trips; see `crate::flow` for why this order never leaves the
/// user without a usable key.
async fn backup_gdrive(
    options: &Options,
    context: &Context<'_>,
    plaintext: &[u8],
    pair_ids: Vec<String>,
) -> Result<JsValue, Failure> {
    let file_name = webcrypto::key_file_name(options.custodian_id()?, &options.client_id).await?;
    let drive = drive(options)?;
    let server = server(options);
    let progress = options.progress();
    let method = Method::Gdrive.name();

    let (key, cipher_text) = run(&progress, Step::Encrypt, async {
        let key = BackupKey::generate()?;
        let sealed = webcrypto::seal(&key, KeyKind::Random, context, plaintext).await?;
        Ok((key, envelope::envelope_to_text(&sealed)))
    })
    .await?;
    let key_text = key.to_text();
    drop(key);

    // Round trip 1: the key to Drive and the ciphertext to the server. A new
    // key file, never an overwrite: the old one stays until this backup is
    // confirmed.
    let store_body = StoreClientBackup {
        cipher_text,
        backup_share_pair_ids: pair_ids.clone(),
        notify_portal: Some(false),
    };
    let (key_file, stored) = join(
        run(&progress, Step::StoreKey, drive.create_key_file(&file_name, &key_text)),
        run(&progress, Step::StoreShare, server.store(method, &store_body)),
    )
    .await;
    let (key_file_id, stored) = match (key_file, stored) {
        (Ok(id), Ok(stored)) => (id, stored),
        (Ok(id), Err(failure)) => {
            // Without its ciphertext the new key is useless; older keys stay.
            let _ = drive.delete_file(&id).await;
            return Err(failure);
        }
        // The server may hold the new ciphertext unconfirmed; it keeps the
        // last confirmed one as `previous`, which recovery falls back to.
        (Err(failure), _) => return Err(failure),
    };

    // Round trip 2: read the key back and list every key file of the name.
    // This write-then-read of the real key is the storage check.
    let listed = run(&progress, Step::CheckStorage, async {
        let (read_back, listed) = join(drive.read_file(&key_file_id), drive.list_key_files(&file_name)).await;
        if read_back?.trim() != key_text.as_str() {
            let _ = drive.delete_file(&key_file_id).await;
            return Err(Error::Remote {
                code: "STORAGE_CHECK_FAILED",
                message: "google drive: the key file read back differs from what was written".into(),
                status: None,
            });
        }
        listed
    })
    .await?;

    // Round trips 3 and 4, two chains side by side: Portal hears KEY then
    // SHARE; the server confirms, and only then may older keys go.
    let stale = drive_core::stale_key_files(&listed, &key_file_id);
    let (portal_notified, removed) = join(notify_portal(options, &server, &progress, method, &pair_ids), async {
        run(&progress, Step::Confirm, server.confirm(method, &stored.backup.backup_id)).await?;
        Ok::<_, Failure>(remove_key_files(&drive, &progress, &stale).await)
    })
    .await;

    finish(&stored, method, &pair_ids, portal_notified, Some(&key_file_id), removed?)
}

/// Three round trips: store; Portal (KEY then SHARE) ‖ confirm.
async fn backup_password(
    options: &Options,
    context: &Context<'_>,
    plaintext: &[u8],
    pair_ids: Vec<String>,
) -> Result<JsValue, Failure> {
    let password = options.password()?;
    let server = server(options);
    let progress = options.progress();
    let method = Method::Password.name();

    let cipher_text = run(&progress, Step::Encrypt, async {
        let mut salt = [0u8; envelope::SALT_LEN];
        getrandom::fill(&mut salt).map_err(|_| Error::Randomness)?;
        let params = PasswordParams::DEFAULT;
        let key = envelope::derive_password_key(password, &params, &salt)?;
        let sealed = webcrypto::seal(&key, KeyKind::Password { params, salt }, context, plaintext).await?;
        Ok(envelope::envelope_to_text(&sealed))
    })
    .await?;

    let store_body = StoreClientBackup {
        cipher_text,
        backup_share_pair_ids: pair_ids.clone(),
        notify_portal: Some(false),
    };
    let stored = run(&progress, Step::StoreShare, server.store(method, &store_body)).await?;

    let (portal_notified, confirmed) = join(
        notify_portal(options, &server, &progress, method, &pair_ids),
        run(&progress, Step::Confirm, server.confirm(method, &stored.backup.backup_id)),
    )
    .await;
    confirmed?;
    finish(&stored, method, &pair_ids, portal_notified, None, 0)
}

/// Tells Portal the key is stored, then has the server tell it the share is
/// (two round trips), in the order of Portal's own SDK. A failure is
/// reported through `onProgress` and `portalNotified: false`, not thrown:
/// both halves are stored, `notifyPortal()` can finish the job.
async fn notify_portal(
    options: &Options,
    server: &ServerClient<'_>,
    progress: &Progress,
    method: &str,
    pair_ids: &[String],
) -> bool {
    run(progress, Step::NotifyPortal, tell_portal(options, server, method, pair_ids)).await.is_ok()
}

async fn tell_portal(options: &Options, server: &ServerClient<'_>, method: &str, pair_ids: &[String]) -> Result<(), Error> {
    portal::update_backup_share_pairs(
        &options.portal_api_url,
        &options.portal_token,
        BackupSharePairStatus::StoredClientBackupShareKey,
        pair_ids,
        &options.retry,
        options.timeout_ms,
    )
    .await?;
    if server.notify(method).await?.backup.portal_notified {
        Ok(())
    } else {
        Err(Error::Remote {
            code: "PORTAL_UNAVAILABLE",
            message: "server: Portal was not told the share is stored; try again later".into(),
            status: None,
        })
    }
}

/// Deletes key files in parallel; returns how many are gone. A failure
/// leaves an extra key file, which recovery skips and the next backup removes.
async fn remove_key_files(drive: &DriveClient, progress: &Progress, file_ids: &[&str]) -> usize {
    if file_ids.is_empty() {
        return 0;
    }
    let results = run(progress, Step::RemoveOldKeys, async {
        let results = join_all(file_ids.iter().map(|id| drive.delete_file(id))).await;
        match results.iter().find_map(|r| r.as_ref().err()) {
            Some(error) => Err(error.clone()),
            None => Ok(results.len()),
        }
    })
    .await;
    results.unwrap_or(0)
}

fn finish(
    stored: &StoredClientBackup,
    method: &'static str,
    pair_ids: &[String],
    portal_notified: bool,
    key_file_id: Option<&str>,
    removed_key_files: usize,
) -> Result<JsValue, Failure> {
    let outcome = BackupOutcome {
        method,
        backup_id: &stored.backup.backup_id,
        backup_share_pair_ids: pair_ids,
        created_at: &stored.backup.created_at,
        portal_notified,
        key_file_id,
        removed_key_files,
    };
    Ok(outcome.to_js())
}

// ---- recovery ----------------------------------------------------------------

fn recovered(method: Method, backup: &ClientBackup, version: Version, fell_back: bool, plaintext: &[u8]) -> JsValue {
    let value = js::object(&[
        ("method", method.name().into()),
        ("clientBackupBytes", js_sys::Uint8Array::from(plaintext).into()),
        ("backupId", backup.summary.backup_id.as_str().into()),
        ("backupSharePairIds", js::string_array(&backup.summary.backup_share_pair_ids)),
        ("createdAt", backup.summary.created_at.as_str().into()),
        ("version", version.name().into()),
        ("fellBack", fell_back.into()),
    ]);
    // Portal's plaintext is JSON text; bytes that are not UTF-8 come back as bytes only.
    if let Ok(text) = core::str::from_utf8(plaintext) {
        let _ = js_sys::Reflect::set(&value, &"clientBackup".into(), &text.into());
    }
    value
}

pub async fn recover(options: &Options) -> Result<JsValue, Failure> {
    let method = options.method()?;
    let context = Context::new(&options.client_id, method.name())?;
    match method {
        Method::Gdrive => recover_gdrive(options, &context).await,
        Method::Password => recover_password(options, &context).await,
    }
}

/// Two round trips: list key files ‖ fetch versions; read every key file.
async fn recover_gdrive(options: &Options, context: &Context<'_>) -> Result<JsValue, Failure> {
    let file_name = webcrypto::key_file_name(options.custodian_id()?, &options.client_id).await?;
    let drive = drive(options)?;
    let server = server(options);
    let progress = options.progress();

    let (listed, versions) = join(
        run(&progress, Step::FetchKey, async {
            let listed = drive.list_key_files(&file_name).await?;
            if listed.is_empty() {
                return Err(Error::Remote {
                    code: "KEY_NOT_FOUND",
                    message: "google drive: no backup key for this client in this Google account".into(),
                    status: None,
                });
            }
            Ok(listed)
        }),
        run(&progress, Step::FetchShare, server.versions(Method::Gdrive.name())),
    )
    .await;
    // A server answer about another client (wrong token or clientId) says
    // more than a missing key, which is its consequence.
    let versions = versions?;
    let listed = listed?;

    let keys = run(&progress, Step::FetchKey, read_keys(&drive, &listed)).await?;

    run(&progress, Step::Decrypt, async {
        let mut stored = vec![(Version::Current, &versions.current)];
        stored.extend(versions.previous.as_ref().map(|p| (Version::Previous, p)));
        let ciphertexts: Vec<Option<Vec<u8>>> =
            stored.iter().map(|(_, b)| envelope::envelope_from_text(&b.cipher_text).ok()).collect();
        let confirmed = versions.current.summary.confirmed;
        for (key_index, version) in flow::recovery_candidates(keys.len(), confirmed, versions.previous.is_some()) {
            let slot = usize::from(version == Version::Previous);
            let (Some(key), Some(Some(bytes))) = (&keys[key_index], ciphertexts.get(slot)) else { continue };
            let Ok(parsed) = Envelope::parse(bytes) else { continue };
            if let Ok(plaintext) = webcrypto::open(key, &parsed, context).await {
                let fell_back = (key_index, version) != (0, Version::Current);
                return Ok(recovered(Method::Gdrive, stored[slot].1, version, fell_back, &plaintext));
            }
        }
        // Unknown format or version beats the vague error: it says "update".
        if let Some(Some(bytes)) = ciphertexts.first() {
            Envelope::parse(bytes)?;
        }
        Err(Error::CannotDecrypt)
    })
    .await
}

/// Reads every key file in parallel. One unreadable file is tolerated (it
/// may belong to a half-failed backup); all unreadable is an error.
async fn read_keys(drive: &DriveClient, listed: &[DriveFile]) -> Result<Vec<Option<BackupKey>>, Error> {
    let texts = join_all(listed.iter().map(|file| drive.read_file(&file.id))).await;
    let mut first_error = None;
    let keys: Vec<Option<BackupKey>> = texts
        .into_iter()
        .map(|text| match text.and_then(|t| BackupKey::from_text(&t)) {
            Ok(key) => Some(key),
            Err(error) => {
                first_error.get_or_insert(error);
                None
            }
        })
        .collect();
    match first_error {
        Some(error) if keys.iter().all(Option::is_none) => Err(error),
        _ => Ok(keys),
    }
}

/// One round trip: fetch versions; Argon2id then AES-GCM locally, the last
/// confirmed version first.
async fn recover_password(options: &Options, context: &Context<'_>) -> Result<JsValue, Failure> {
    let password = options.password()?;
    let server = server(options);
    let progress = options.progress();
    let versions = run(&progress, Step::FetchShare, server.versions(Method::Password.name())).await?;

    run(&progress, Step::Decrypt, async {
        let order = flow::version_order(versions.current.summary.confirmed, versions.previous.is_some());
        let mut first_error = None;
        for &version in order {
            let backup = match version {
                Version::Current => Some(&versions.current),
                Version::Previous => versions.previous.as_ref(),
            };
            let Some(backup) = backup else { continue };
            let attempt = match envelope::envelope_from_text(&backup.cipher_text) {
                Ok(bytes) => match Envelope::parse(&bytes) {
                    Ok(parsed) => webcrypto::open_with_password(password, &parsed, context).await,
                    Err(error) => Err(error),
                },
                Err(error) => Err(error),
            };
            match attempt {
                Ok(plaintext) => {
                    return Ok(recovered(Method::Password, backup, version, version == Version::Previous, &plaintext));
                }
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        Err(first_error.unwrap_or(Error::WrongPassword))
    })
    .await
}

// ---- housekeeping ------------------------------------------------------------

pub async fn list_backups(options: &Options) -> Result<JsValue, Failure> {
    let list = server(options).list().await?;
    Ok(list.backups.iter().map(ToJs::to_js).collect::<js_sys::Array>().into())
}

/// Removes the server's copy and, for GDRIVE, every key file of the client.
pub async fn delete_backup(options: &Options) -> Result<JsValue, Failure> {
    let method = options.method()?;
    let server = server(options);
    let removed_key_files = match method {
        Method::Password => {
            ignore_not_found(server.delete(method.name()).await)?;
            0
        }
        Method::Gdrive => {
            let file_name = webcrypto::key_file_name(options.custodian_id()?, &options.client_id).await?;
            let drive = drive(options)?;
            let (listed, deleted) = join(drive.list_key_files(&file_name), server.delete(method.name())).await;
            ignore_not_found(deleted)?;
            let listed = listed?;
            let results = join_all(listed.iter().map(|file| drive.delete_file(&file.id))).await;
            results.into_iter().collect::<Result<Vec<_>, _>>()?.len()
        }
    };
    Ok(js::object(&[("method", method.name().into()), ("removedKeyFiles", (removed_key_files as f64).into())]))
}

fn ignore_not_found(result: Result<(), Error>) -> Result<(), Error> {
    match result {
        Err(error) if error.code() == "BACKUP_NOT_FOUND" => Ok(()),
        other => other,
    }
}

/// Retries the Portal notifications of the current backup: reads its pair
/// ids from the server, then KEY and SHARE as in a backup. Three round trips.
pub async fn notify(options: &Options) -> Result<JsValue, Failure> {
    let method = options.method()?;
    let progress = options.progress();
    let server = server(options);
    let versions = run(&progress, Step::FetchShare, server.versions(method.name())).await?;
    let ids = &versions.current.summary.backup_share_pair_ids;
    run(&progress, Step::NotifyPortal, tell_portal(options, &server, method.name(), ids)).await?;
    Ok(js::object(&[
        ("method", method.name().into()),
        ("backupSharePairIds", js::string_array(ids)),
        ("portalNotified", true.into()),
    ]))
}
