//! The backup and recovery flows, step by step. The plan, its round trips
//! and why the order keeps the last good backup recoverable are in
//! `crate::flow`; this file performs it.
//!
//! Every step goes through one runner, `Flow::run`, and every request
//! through one path, `Http::send`. The steps take and give Rust values: the
//! services (`server`, `key_store`, `portal`) read each answer into one at the
//! edge, and `results` turns what a flow answers into JS at the end.

use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::{Pin, pin};
use core::task::{Context as TaskContext, Poll};

use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;

use super::key_store::{KeyStore, ListedKey};
use super::argon2;
use super::base64;
use super::http::Http;
use super::join::{Signal, beside, join};
use super::js;
use super::js_error::Failure;
use super::options::{Method, Options, Progress};
use super::portal;
use super::results::{BackupOutcome, Deleted, Notified, Recovery};
use super::server::Server;
use super::webcrypto::{self, SealedBytes};
use super::passkey;
use crate::envelope::{self, BackupKey, Context, KeyKind, PasswordParams};
use crate::flow::{self, Step, Version};
use crate::wire::{BackupSharePairStatus, ClientBackup, ClientBackupSummary, CustodianBackupSummary};
use crate::{Error, ErrorCode};

/// A step's work: its result, or why it failed.
type Work<'w, T> = Pin<&'w mut dyn Future<Output = Result<T, Error>>>;

/// One step of a flow: `Flow::run`.
struct Run<'f, T> {
    flow: &'f Flow<'f>,
    step: Step,
    work: Work<'f, T>,
    started: bool,
}

impl<T> Future for Run<'_, T> {
    type Output = Result<T, Failure>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let run = self.get_mut();
        if !run.started {
            run.started = true;
            run.flow.started(run.step);
        }
        match run.work.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(value)) => {
                run.flow.ended(run.step);
                Poll::Ready(Ok(value))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(run.flow.failed(run.step, error))),
        }
    }
}

/// What the steps of one call share.
pub struct Flow<'a> {
    options: &'a Options,
    http: &'a Http<'a>,
    pub server: Server<'a>,
    /// GDRIVE's and ICLOUD's key store, or why its options do not make
    /// one; `None` for the derived methods.
    store: Result<Option<KeyStore<'a>>, Error>,
    progress: Progress,
}

impl<'a> Flow<'a> {
    pub fn new(options: &'a Options, http: &'a Http<'a>) -> Self {
        Flow {
            options,
            http,
            server: Server::new(http, &options.server_url, &options.client_id),
            store: options.method.map_or(Ok(None), |method| KeyStore::of(method, options, http)),
            progress: options.progress(),
        }
    }

    /// The one step runner: the `start` event, the work, then `end` or
    /// `error`. The work comes type-erased (`Work`), so each step's future
    /// stays a function of its own instead of swelling the flow's state
    /// machine; `Run` is generic only in the result type and its poll is a
    /// few lines, the events being sent by `started`, `ended` and `failed`,
    /// which the package holds once.
    fn run<'f, T>(&'f self, step: Step, work: Work<'f, T>) -> Run<'f, T> {
        Run { flow: self, step, work, started: false }
    }

    #[inline(never)]
    fn started(&self, step: Step) {
        self.progress.emit(step, "start", None);
    }

    #[inline(never)]
    fn ended(&self, step: Step) {
        self.progress.emit(step, "end", None);
    }

    #[inline(never)]
    fn failed(&self, step: Step, error: Error) -> Failure {
        let failure = Failure::at(step, error);
        self.progress.emit(step, "error", Some(&failure.to_js()));
        failure
    }

    /// The cloud method's key store and the key's name in it (hashed from
    /// the custodian and client ids); checks the method's options first.
    async fn key_store(&self) -> Result<(&KeyStore<'a>, String), Error> {
        let custodian_id = self.options.custodian_id()?;
        let store = match &self.store {
            Ok(Some(store)) => store,
            Ok(_) => return Err(Error::InvalidInput("a cloud method needs its options")),
            Err(error) => return Err(error.clone()),
        };
        Ok((store, webcrypto::key_file_name(custodian_id, &self.options.client_id).await?))
    }

    fn tell_portal_key<'f>(&'f self, pair_ids: &'f [String]) -> impl Future<Output = Result<(), Error>> + 'f {
        let status = BackupSharePairStatus::StoredClientBackupShareKey;
        portal::update_backup_share_pairs(self.http, &self.options.portal_api_url, status, pair_ids)
    }

    /// Has the Worker tell Portal STORED_CLIENT_BACKUP_SHARE (`/notify`).
    async fn tell_portal_share(&self, method: Method) -> Result<(), Error> {
        if self.server.notify(method.name()).await?.portal_notified {
            Ok(())
        } else {
            Err(Error::remote(ErrorCode::PortalUnavailable, "server: Portal was not told the share is stored; try again later", None))
        }
    }

    /// Deletes key files in parallel; one already gone counts as deleted.
    async fn delete_keys(&self, ids: &[String]) -> Result<(), Error> {
        match &self.store {
            Ok(Some(store)) => store.delete(ids).await,
            _ => Ok(()),
        }
    }

    /// The last two round trips of every backup: Portal hears KEY beside
    /// `confirm`; SHARE (the Worker's `/notify`) and the removal of older
    /// key files (`stale`) wait for `confirm` to succeed, so Portal never
    /// hears of a share whose backup the server did not confirm. One
    /// `notifyPortal` step spans KEY to SHARE. A failed `confirm` fails the
    /// backup; Portal not told does not (both halves are stored:
    /// `portalNotified: false`, and `notifyPortal()` finishes the job).
    async fn finish(
        &self,
        method: Method,
        stored: &ClientBackupSummary,
        pair_ids: &[String],
        stale: &[String],
    ) -> Result<(ClientBackupSummary, bool, usize), Failure> {
        let confirm_done: Signal<Result<(), Error>> = Signal::new();
        let (told, (confirmed, removed)) = join(
            self.run(
                Step::NotifyPortal,
                pin!(async {
                    self.tell_portal_key(pair_ids).await?;
                    // SHARE only once confirm succeeded; else confirm's reason.
                    confirm_done.wait().await?;
                    self.tell_portal_share(method).await
                }),
            ),
            async {
                let confirmed = self.run(Step::Confirm, pin!(self.server.confirm(method.name(), &stored.backup_id))).await;
                confirm_done.set(confirmed.as_ref().map(|_| ()).map_err(|failure| failure.error.clone()));
                // A failed removal leaves an extra key file, which recovery
                // skips and the next backup removes.
                let removed = confirmed.is_ok()
                    && (stale.is_empty() || self.run(Step::RemoveOldKeys, pin!(self.delete_keys(stale))).await.is_ok());
                (confirmed, removed)
            },
        )
        .await;
        Ok((confirmed?, told.is_ok(), if removed { stale.len() } else { 0 }))
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

pub async fn backup(options: &Options, plaintext: Vec<u8>) -> Result<BackupOutcome, Failure> {
    let method = options.method()?;
    let context = Context::new(&options.client_id, method.name())?;
    let pair_ids = backup_share_pair_ids(&plaintext)?;
    let plaintext = Uint8Array::from(plaintext.as_slice());
    let http = Http::new(options);
    let flow = Flow::new(options, &http);
    match method {
        Method::Gdrive | Method::Icloud => backup_cloud(&flow, method, &context, &plaintext, &pair_ids).await,
        _ => backup_derived(&flow, method, &context, &plaintext, &pair_ids).await,
    }
}

/// Four round trips, with Drive or iCloud; see `crate::flow` for why this
/// order never leaves the user without a usable key.
async fn backup_cloud(
    flow: &Flow<'_>,
    method: Method,
    context: &Context<'_>,
    plaintext: &Uint8Array,
    pair_ids: &[String],
) -> Result<BackupOutcome, Failure> {
    let (store, key_name) = flow.key_store().await?;

    let key = BackupKey::generate()?;
    let cipher_text = flow.run(Step::Encrypt, pin!(webcrypto::seal_to_text(&key, KeyKind::Random, context, plaintext))).await?;
    let key_text = base64::key_text(&key);
    drop(key);

    // Round trip 1: the key to the store and the ciphertext to the server. A
    // new key file or record, never an overwrite: the old one stays until
    // this backup is confirmed.
    let (key_id, stored) = join(
        flow.run(Step::StoreKey, pin!(store.create(&key_name, &key_text))),
        flow.run(Step::StoreShare, pin!(flow.server.store(method.name(), &cipher_text, pair_ids, None))),
    )
    .await;
    let (key_id, stored) = match (key_id, stored) {
        (Ok(id), Ok(stored)) => (id, stored),
        (Ok(id), Err(failure)) => {
            // Without its ciphertext the new key is useless; older keys stay.
            let _ = store.delete(&[id]).await;
            return Err(failure);
        }
        // The server may hold the new ciphertext unconfirmed; it keeps the
        // last confirmed one as `previous`, which recovery falls back to.
        (Err(failure), _) => return Err(failure),
    };

    // Round trip 2: read the key back and list every key of the name. This
    // write-then-read of the real key is the storage check.
    let listed = flow.run(Step::CheckStorage, pin!(store.check_and_list(&key_name, &key_id, &key_text))).await?;

    // Round trips 3 and 4: KEY ‖ confirm, then SHARE ‖ older keys removed.
    let stale: Vec<String> = listed.into_iter().filter(|id| *id != key_id).collect();
    let (backup, portal_notified, removed_key_files) = flow.finish(method, &stored, pair_ids, &stale).await?;
    Ok(BackupOutcome { method, backup, portal_notified, key_file_id: Some(key_id), removed_key_files, credential_id: None })
}

/// Three round trips for a key derived here and stored nowhere (Argon2id of
/// the password, or the passkey's PRF output): store; Portal KEY ‖
/// confirm; Portal SHARE. Nothing is stored before the key exists, so a
/// refused or PRF-less passkey leaves the server as it was.
async fn backup_derived(
    flow: &Flow<'_>,
    method: Method,
    context: &Context<'_>,
    plaintext: &Uint8Array,
    pair_ids: &[String],
) -> Result<BackupOutcome, Failure> {
    let password = if method == Method::Password { Some(flow.options.password()?) } else { None };
    // A read started before the key is derived: the first Worker request of
    // a session pays a CORS preflight and the Worker's token check with
    // Portal, which then happen while Argon2id runs or the passkey prompt
    // waits, not in front of the PUT (BENCHMARKS.md, wall time). Nothing
    // waits for its answer, or for its retries if the Worker is down.
    let (cipher_text, credential_id) =
        beside(flow.server.list(), flow.run(Step::Encrypt, pin!(seal_derived(flow, password, context, plaintext)))).await?;
    let stored = flow.run(Step::StoreShare, pin!(flow.server.store(method.name(), &cipher_text, pair_ids, None))).await?;
    let (backup, portal_notified, _) = flow.finish(method, &stored, pair_ids, &[]).await?;
    Ok(BackupOutcome { method, backup, portal_notified, key_file_id: None, removed_key_files: 0, credential_id })
}

/// Seals `plaintext` under a key derived here: Argon2id of `password`, or
/// without one the passkey's PRF output (the passkey `credentialId` names,
/// or a new one). The envelope's text and the passkey's credential id.
async fn seal_derived(
    flow: &Flow<'_>,
    password: Option<&str>,
    context: &Context<'_>,
    plaintext: &Uint8Array,
) -> Result<(String, Option<String>), Error> {
    let (key, kind) = match password {
        Some(password) => {
            let mut salt = [0u8; envelope::SALT_LEN];
            getrandom::fill(&mut salt).map_err(|_| Error::Randomness)?;
            let params = PasswordParams::DEFAULT;
            (argon2::password_key(password, &params, &salt).await?, KeyKind::Password { params, salt })
        }
        None => passkey::backup_key(flow.options, context).await?,
    };
    let credential_id = passkey::credential_id_text(&kind);
    Ok((webcrypto::seal_to_text(&key, kind, context, plaintext).await?, credential_id))
}

// ---- recovery ----------------------------------------------------------------

/// The stored version `version` names, if the server keeps one.
fn stored_version(versions: &crate::wire::ClientBackupVersions, version: Version) -> Option<&ClientBackup> {
    match version {
        Version::Current => Some(&versions.current),
        Version::Previous => versions.previous.as_ref(),
    }
}

fn sealed(backup: &ClientBackup) -> Result<SealedBytes, Error> {
    SealedBytes::from_text(&JsValue::from_str(&backup.cipher_text))
}

pub async fn recover(options: &Options) -> Result<Recovery, Failure> {
    let method = options.method()?;
    let context = Context::new(&options.client_id, method.name())?;
    let http = Http::new(options);
    let flow = Flow::new(options, &http);
    match method {
        Method::Gdrive | Method::Icloud => recover_cloud(&flow, method, &context).await,
        _ => recover_derived(&flow, method, &context).await,
    }
}

/// One round trip: list the keys (Drive: in each key file's appProperties;
/// iCloud: in the records) ‖ fetch versions. A Drive key file from before
/// appProperties held the key is downloaded: one more.
async fn recover_cloud(flow: &Flow<'_>, method: Method, context: &Context<'_>) -> Result<Recovery, Failure> {
    let (store, key_name) = flow.key_store().await?;
    Ok(open_cloud(flow, store, &key_name, method, context).await?.0)
}

/// `recover_cloud`'s work, and the ids of every key listed.
async fn open_cloud(
    flow: &Flow<'_>,
    store: &KeyStore<'_>,
    key_name: &str,
    method: Method,
    context: &Context<'_>,
) -> Result<(Recovery, Vec<String>), Failure> {
    let (listed, versions) = join(
        flow.run(
            Step::FetchKey,
            pin!(async {
                let listed = store.list(key_name).await?;
                if listed.is_empty() {
                    return Err(store.key_not_found());
                }
                Ok(listed)
            }),
        ),
        flow.run(Step::FetchShare, pin!(flow.server.versions(method.name()))),
    )
    .await;
    // A server answer about another client (wrong token or clientId) says
    // more than a missing key, which is its consequence.
    let versions = versions?;
    let listed: Vec<ListedKey> = listed?;
    let ids: Vec<String> = listed.iter().map(|key| key.id.clone()).collect();
    let keys = if KeyStore::needs_reads(&listed) {
        flow.run(Step::FetchKey, pin!(store.keys(listed))).await?
    } else {
        store.keys(listed).await?
    };

    let recovery = flow.run(
        Step::Decrypt,
        pin!(async {
            let stored = [stored_version(&versions, Version::Current), stored_version(&versions, Version::Previous)];
            let ciphertexts: Vec<Option<Result<SealedBytes, Error>>> =
                stored.iter().map(|backup| Some(sealed(backup.as_ref()?))).collect();
            let candidates =
                flow::recovery_candidates(keys.len(), versions.current.summary.confirmed, versions.previous.is_some());
            for (key_index, version) in candidates {
                let slot = usize::from(version == Version::Previous);
                let (Some(Some(key)), Some(Some(Ok(sealed))), Some(Some(backup))) =
                    (keys.get(key_index), ciphertexts.get(slot), stored.get(slot))
                else {
                    continue;
                };
                if let Ok(plaintext) = webcrypto::open_js(key, sealed, context).await {
                    let fell_back = (key_index, version) != (0, Version::Current);
                    let backup = backup.summary.clone();
                    return Ok(Recovery { method, plaintext, backup, version, fell_back, credential_id: None });
                }
            }
            // Unknown format or version beats the vague error: it says "update".
            if let Some(Some(Err(error))) = ciphertexts.first() {
                return Err(error.clone());
            }
            Err(Error::CannotDecrypt)
        }),
    )
    .await?;
    Ok((recovery, ids))
}

/// One round trip: fetch versions; then, the last confirmed version first,
/// the key its header says how to get (Argon2id of the password, or one
/// WebAuthn `get` with the passkey and PRF salt it names) and AES-GCM
/// locally. A passkey refused or cancelled stops there: no second prompt.
async fn recover_derived(flow: &Flow<'_>, method: Method, context: &Context<'_>) -> Result<Recovery, Failure> {
    let password = if method == Method::Password { Some(flow.options.password()?) } else { None };
    let versions = flow.run(Step::FetchShare, pin!(flow.server.versions(method.name()))).await?;

    flow.run(Step::Decrypt, pin!(async {
        let mut first_error = None;
        for &version in flow::version_order(versions.current.summary.confirmed, versions.previous.is_some()) {
            let Some(backup) = stored_version(&versions, version) else { continue };
            let sealed = sealed(backup);
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
                    let credential_id = sealed.ok().and_then(|sealed| passkey::credential_id_text(sealed.kind()));
                    let (backup, fell_back) = (backup.summary.clone(), version == Version::Previous);
                    return Ok(Recovery { method, plaintext, backup, version, fell_back, credential_id });
                }
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        Err(first_error.unwrap_or(Error::WrongPassword))
    }))
    .await
}

// ---- a new key for the same backup ---------------------------------------------

/// `changeBackupKey`: opens the last confirmed backup in memory (a
/// recovery), seals the same plaintext under a new key, stores that as a new
/// version with the same backupSharePairIds and confirms it; the cloud
/// methods then remove the old key. Portal is asked nothing: the backup
/// share pair is unchanged, so no MPC ceremony is needed and Portal's
/// custodian share stays valid. Until the confirm, the server keeps the
/// confirmed version and the old key stays, so the old key keeps opening the
/// backup; after it, the server holds only the new version.
pub async fn change_key(options: &Options) -> Result<BackupOutcome, Failure> {
    let method = options.method()?;
    let context = Context::new(&options.client_id, method.name())?;
    let http = Http::new(options);
    let flow = Flow::new(options, &http);
    match method {
        Method::Gdrive | Method::Icloud => change_cloud_key(&flow, method, &context).await,
        _ => change_derived_key(&flow, method, &context).await,
    }
}

/// PASSWORD (`password` opens, `newPassword` seals) and PASSKEY (the
/// envelope's passkey opens, `credentialId`'s or a new one seals): three
/// round trips, GET versions; PUT; confirm. A wrong password fails at
/// decrypt, before anything is written.
async fn change_derived_key(flow: &Flow<'_>, method: Method, context: &Context<'_>) -> Result<BackupOutcome, Failure> {
    let new_password = if method == Method::Password { Some(flow.options.new_password()?) } else { None };
    let opened = recover_derived(flow, method, context).await?;
    let sealed = flow.run(Step::Encrypt, pin!(seal_derived(flow, new_password, context, &opened.plaintext))).await;
    wipe(&opened.plaintext);
    let (cipher_text, credential_id) = sealed?;
    let pair_ids = &opened.backup.backup_share_pair_ids;
    let stored = flow.run(Step::StoreShare, pin!(flow.server.store(method.name(), &cipher_text, pair_ids, Some(&opened.backup.backup_id)))).await?;
    let backup = flow.run(Step::Confirm, pin!(flow.server.confirm(method.name(), &stored.backup_id))).await?;
    let portal_notified = backup.portal_notified;
    Ok(BackupOutcome { method, backup, portal_notified, key_file_id: None, removed_key_files: 0, credential_id })
}

/// GDRIVE (four round trips) and ICLOUD (five): a fresh random key in a new
/// key file or record, the old ones removed after the confirm. The new key
/// is created beside the recovery's first round trip (list ‖ GET versions)
/// and read back beside the PUT; then confirm, then the old keys go. iCloud
/// sends one CloudKit request at a time (a web auth token is good for one),
/// so its record is created after the query: one round trip more.
async fn change_cloud_key(flow: &Flow<'_>, method: Method, context: &Context<'_>) -> Result<BackupOutcome, Failure> {
    let (store, key_name) = flow.key_store().await?;
    let key = BackupKey::generate()?;
    let key_text = base64::key_text(&key);
    let (opened, created) = join(
        open_cloud(flow, store, &key_name, method, context),
        flow.run(Step::StoreKey, pin!(store.create(&key_name, &key_text))),
    )
    .await;
    let (opened, old_ids) = match opened {
        Ok(opened) => opened,
        Err(failure) => {
            // The new key is of no use without the backup it was for.
            if let Ok(id) = created {
                let _ = store.delete(&[id]).await;
            }
            return Err(failure);
        }
    };
    let sealed = flow.run(Step::Encrypt, pin!(webcrypto::seal_to_text(&key, KeyKind::Random, context, &opened.plaintext))).await;
    wipe(&opened.plaintext);
    drop(key);
    let (cipher_text, key_id) = match (sealed, created) {
        (Ok(cipher_text), Ok(key_id)) => (cipher_text, key_id),
        (Err(failure), Ok(key_id)) => {
            let _ = store.delete(&[key_id]).await;
            return Err(failure);
        }
        (_, Err(failure)) => return Err(failure),
    };
    let pair_ids = &opened.backup.backup_share_pair_ids;
    let (checked, stored) = join(
        flow.run(Step::CheckStorage, pin!(store.check_and_list(&key_name, &key_id, &key_text))),
        flow.run(Step::StoreShare, pin!(flow.server.store(method.name(), &cipher_text, pair_ids, Some(&opened.backup.backup_id)))),
    )
    .await;
    let stored = match (checked, stored) {
        (Ok(_), Ok(stored)) => stored,
        // A failed check removed the new key already.
        (Err(failure), _) => return Err(failure),
        (Ok(_), Err(failure)) => {
            let _ = store.delete(&[key_id]).await;
            return Err(failure);
        }
    };
    let backup = flow.run(Step::Confirm, pin!(flow.server.confirm(method.name(), &stored.backup_id))).await?;
    // Only now may the old keys go: the server no longer keeps what they open.
    let stale: Vec<String> = old_ids.into_iter().filter(|id| *id != key_id).collect();
    let removed = stale.is_empty() || flow.run(Step::RemoveOldKeys, pin!(store.delete(&stale))).await.is_ok();
    let portal_notified = backup.portal_notified;
    let removed_key_files = if removed { stale.len() } else { 0 };
    Ok(BackupOutcome { method, backup, portal_notified, key_file_id: Some(key_id), removed_key_files, credential_id: None })
}

/// Zeroes a plaintext opened in JS memory once it is sealed again.
fn wipe(plaintext: &Uint8Array) {
    plaintext.fill(0, 0, plaintext.length());
}

// ---- housekeeping ------------------------------------------------------------

/// The server's summaries of this client's backups, one per method.
pub async fn list(options: &Options) -> Result<Vec<ClientBackupSummary>, Failure> {
    let http = Http::new(options);
    Ok(Flow::new(options, &http).server.list().await?)
}

/// Portal's custodian deliveries for this client, as the server lists them.
pub async fn list_custodian(options: &Options) -> Result<Vec<CustodianBackupSummary>, Failure> {
    let http = Http::new(options);
    Ok(Flow::new(options, &http).server.custodian_list().await?)
}

/// Removes the server's copy and, for GDRIVE, every key file of the client.
pub async fn delete_backup(options: &Options) -> Result<Deleted, Failure> {
    let method = options.method()?;
    let http = Http::new(options);
    let flow = Flow::new(options, &http);
    let removed_key_files = match method {
        Method::Password | Method::Passkey => {
            flow.server.delete(method.name()).await?;
            0
        }
        Method::Gdrive | Method::Icloud => {
            let (store, key_name) = flow.key_store().await?;
            let (listed, deleted) = join(store.list(&key_name), flow.server.delete(method.name())).await;
            deleted?;
            let ids: Vec<String> = listed?.into_iter().map(|key| key.id).collect();
            store.delete(&ids).await?;
            ids.len()
        }
    };
    Ok(Deleted { method, removed_key_files })
}

/// Retries the Portal notifications of the current backup: reads its pair
/// ids from the server, then KEY and SHARE as in a backup. Three round trips.
pub async fn notify(options: &Options) -> Result<Notified, Failure> {
    let method = options.method()?;
    let http = Http::new(options);
    let flow = Flow::new(options, &http);
    let versions = flow.run(Step::FetchShare, pin!(flow.server.versions(method.name()))).await?;
    let backup_share_pair_ids = versions.current.summary.backup_share_pair_ids;
    flow.run(Step::NotifyPortal, pin!(async {
        flow.tell_portal_key(&backup_share_pair_ids).await?;
        flow.tell_portal_share(method).await
    }))
    .await?;
    Ok(Notified { method, backup_share_pair_ids })
}
