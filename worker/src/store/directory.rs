//! `BackupDirectory`, the client's Durable Object (one per clientId): it
//! holds everything about the client's backups that changes (see
//! [`super`]), and answers the [`Message`]s of [`super::object`].
//!
//! - Each message is one transaction: the records change in memory, then
//!   one storage write holds the change and the blobs it stopped naming;
//!   the answer leaves only once that write is durable (the runtime's
//!   output gate), and a failed write makes the next request reload.
//! - Custodian deliveries for one client pass through it, so overlapping
//!   per-curve deliveries cannot lose a method, and the 33rd method is
//!   refused before anything is written.
//! - It is the only code that reads and writes KV: every blob (custodian
//!   shares, client envelopes) is written under a fresh key before it is
//!   named, and read back only here.
//! - Blobs it stops naming go to the [`Trash`]; its alarm deletes them once
//!   KV's one write per second per key allows.
//!
//! The Worker seals and opens custodian shares; the object only ever sees
//! sealed records, and never a client backup's key.

use std::cell::RefCell;

use futures_util::future::{join, join_all};
use portal_backup::wire::{ClientBackupList, CustodianBackupList};
use serde::Serialize;
use std::time::Duration;

use worker::{Delay, DurableObject, Env, Request, Response, State, durable_object};

use crate::config::{now_iso, now_ms, shares};
use crate::error::{Error, Result};
use crate::http::error_response;
use crate::store::at_rest::SealedShare;
use crate::store::client::{ClientRecords, LegacyRecord, StoredVersion};
use crate::store::custodian::{DirectoryRecord, VERSION_LEN, version_from};
use crate::store::kv::{self, Kv};
use crate::store::object::{Ask, Message, StoredShare, StoredShares};
use crate::store::state::BackupState;
use crate::store::{custodian_share_key, envelope_key, legacy_client_key, legacy_notified_key};
use crate::validate::CLIENT_BACKUP_METHODS;

/// Waits before a client read asks again for an envelope the records name
/// but KV did not serve (0: the last try); then the answer is 503, never an
/// older version.
const REREAD_AFTER_MS: [u64; 3] = [50, 200, 0];

/// The object's one storage key.
const STATE_KEY: &str = "backups";
/// Where the object kept its custodian directory before it held the client
/// half too; read once, when there is no state yet.
const DIRECTORY_KEY: &str = "directory";
/// Deletes one alarm run makes at most (a run's subrequests are limited);
/// the rest wait for the next run.
const DELETES_PER_ALARM: usize = 64;

#[durable_object]
pub struct BackupDirectory {
    state: State,
    env: Env,
    /// Loaded from storage on first use; `None` again after a failed write,
    /// so the next request reloads what storage really holds.
    held: RefCell<Option<BackupState>>,
    /// New custodian methods whose deliveries were admitted and are being
    /// written: counted against the limit so two at once cannot both be the
    /// 32nd. (method, deliveries in flight); a few entries at most, so a
    /// Vec: a map type of its own would link its insert and remove code.
    pending_new: RefCell<Vec<(String, usize)>>,
}

impl DurableObject for BackupDirectory {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            held: RefCell::new(None),
            pending_new: RefCell::new(Vec::new()),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let result = match req.bytes().await {
            Ok(body) => match Ask::decode(&req.path(), &body) {
                Ok(ask) => self.answer(ask).await,
                Err(error) => Err(error),
            },
            Err(_) => Err(Error::Internal("backup directory request")),
        };
        Ok(match result {
            Ok(answer) => Response::from_bytes(answer)?,
            Err(error) => error_response(&error),
        })
    }

    /// Deletes the blobs whose delete is due; a delete KV refuses goes back
    /// to the trash for a later run.
    async fn alarm(&self) -> worker::Result<Response> {
        if let (Ok(()), Ok(kv)) = (self.load().await, self.shares()) {
            let now = now_ms() as u64;
            let due = self.with_held(|held| held.trash.take_due(now, DELETES_PER_ALARM));
            if let Ok(due) = due {
                let deleted = join_all(due.iter().map(|key| kv::delete(&kv, key))).await;
                let _ = self.with_held(|held| {
                    for (key, result) in due.into_iter().zip(deleted) {
                        if result.is_err() {
                            held.trash.add(key, now);
                        }
                    }
                });
                let _ = self.save().await;
            }
        }
        Response::empty()
    }
}

fn encode<T: Serialize>(answer: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(answer).map_err(|_| Error::Internal("response encoding"))
}

fn new_version() -> Result<String> {
    let mut bytes = [0u8; VERSION_LEN / 2];
    getrandom::fill(&mut bytes).map_err(|_| Error::Internal("randomness unavailable"))?;
    Ok(version_from(&bytes))
}

/// The client's records in the layout before this object held them, moved:
/// each version's ciphertext written to its own envelope blob, and the old
/// keys to delete once the records are held here.
struct Moved {
    records: ClientRecords,
    old_keys: Vec<String>,
}

async fn move_earlier_layout(kv: Kv, client_id: String) -> Result<Moved> {
    let kv = &kv;
    let found = join_all(CLIENT_BACKUP_METHODS.iter().map(|method| {
        let record_key = legacy_client_key(&client_id, method);
        let marker_key = legacy_notified_key(&client_id, method);
        async move {
            let (record, marker) = join(
                kv::get_json::<LegacyRecord>(kv, &record_key),
                kv::get_text(kv, &marker_key),
            )
            .await;
            (record_key, marker_key, record, marker)
        }
    }))
    .await;
    let mut moved = Moved {
        records: ClientRecords::default(),
        old_keys: Vec::new(),
    };
    let mut blobs = Vec::new();
    for (method, (record_key, marker_key, record, marker)) in
        CLIENT_BACKUP_METHODS.iter().zip(found)
    {
        let marker = marker?;
        if marker.is_some() {
            moved.old_keys.push(marker_key);
        }
        let Some(record) = record? else { continue };
        let (record, ciphertexts) = record.into_record(marker.as_deref());
        for (backup_id, text) in ciphertexts {
            blobs.push((envelope_key(&client_id, method, &backup_id), text));
        }
        moved.records.insert(method, record);
        moved.old_keys.push(record_key);
    }
    for written in join_all(blobs.iter().map(|(key, text)| kv::put_text(kv, key, text))).await {
        written?;
    }
    Ok(moved)
}

impl BackupDirectory {
    fn shares(&self) -> Result<Kv> {
        shares(&self.env)
    }

    /// Reads one storage key as the string it was written as (`Storage::get`
    /// and `put` would convert it with serde-wasm-bindgen's generic code).
    async fn stored_text(&self, key: &str) -> Result<Option<String>> {
        let storage = self
            .state
            .as_raw()
            .storage()
            .map_err(|_| Error::StorageUnavailable)?;
        let promise = storage.get(key).map_err(|_| Error::StorageUnavailable)?;
        let value = js_sys::futures::JsFuture::from(promise)
            .await
            .map_err(|_| Error::StorageUnavailable)?;
        if value.is_undefined() || value.is_null() {
            Ok(None)
        } else {
            value.as_string().map(Some).ok_or(Error::StorageUnavailable)
        }
    }

    async fn load(&self) -> Result<()> {
        if self.held.borrow().is_some() {
            return Ok(());
        }
        let state = match self.stored_text(STATE_KEY).await? {
            Some(text) => BackupState::parse(&text)?,
            None => {
                let directory = self.stored_text(DIRECTORY_KEY).await?;
                BackupState::from_directory(DirectoryRecord::parse(directory.as_deref())?)
            }
        };
        self.held.borrow_mut().get_or_insert(state);
        Ok(())
    }

    fn with_held<T>(&self, f: impl FnOnce(&mut BackupState) -> T) -> Result<T> {
        let mut held = self.held.borrow_mut();
        let held = held
            .as_mut()
            .ok_or(Error::Internal("backup directory not loaded"))?;
        Ok(f(held))
    }

    /// Loads, and on the client's first request moves its records from the
    /// earlier layout. Other events wait meanwhile, so the move runs once.
    async fn load_client(&self, client_id: &str) -> Result<()> {
        self.load().await?;
        if self.with_held(|held| held.client.is_some())? {
            return Ok(());
        }
        let kv = self.shares()?;
        let client_id = client_id.to_owned();
        // Ok(Err): an error inside blockConcurrencyWhile would reset the object.
        let moved = self
            .state
            .block_concurrency_while(async move { Ok(move_earlier_layout(kv, client_id).await) })
            .await
            .map_err(|_| Error::StorageUnavailable)??;
        let now = now_ms() as u64;
        self.with_held(|held| {
            if held.client.is_none() {
                held.client = Some(moved.records);
                for key in moved.old_keys {
                    held.trash.add(key, now);
                }
            }
        })?;
        self.save().await
    }

    /// Writes the state (one storage write), then sets the alarm for the
    /// trash. A failed write drops what is held, so the next request
    /// reloads storage.
    async fn save(&self) -> Result<()> {
        let (text, next_due) = self.with_held(|held| (held.to_text(), held.trash.next_due()))?;
        let storage = self.state.storage();
        if storage.put_raw(STATE_KEY, text).await.is_err() {
            self.held.replace(None);
            return Err(Error::StorageUnavailable);
        }
        if let Some(due) = next_due {
            let wait = due.saturating_sub(now_ms() as u64);
            let _ = storage.set_alarm(wait as i64).await;
        }
        Ok(())
    }

    async fn answer(&self, ask: Ask) -> Result<Vec<u8>> {
        let Ask { client_id, message } = ask;
        match message {
            Message::CustodianCommit { method, sealed } => {
                self.commit(&client_id, method, sealed).await
            }
            Message::CustodianRead => self.read(&client_id).await,
            Message::ClientRead { method } => {
                self.load_client(&client_id).await?;
                self.read_client(&client_id, &method).await
            }
            message => {
                self.load_client(&client_id).await?;
                if let Message::ClientStore {
                    method,
                    version,
                    cipher_text,
                    ..
                } = &message
                {
                    // The envelope goes to its fresh key before it is named.
                    let key = envelope_key(&client_id, method, &version.backup_id);
                    kv::put_text(&self.shares()?, &key, cipher_text).await?;
                }
                let now = now_ms() as u64;
                let (answer, changed) =
                    self.with_held(|held| change(held, &client_id, &message, now))??;
                if changed {
                    self.save().await?;
                }
                Ok(answer)
            }
        }
    }

    /// Admits a delivery (the limit), returning whether its method is new.
    fn admit(&self, method: &str) -> Result<bool> {
        let held = self.held.borrow();
        let directory = &held
            .as_ref()
            .ok_or(Error::Internal("backup directory not loaded"))?
            .custodian;
        if directory.contains(method) {
            return Ok(false);
        }
        let mut pending = self.pending_new.borrow_mut();
        match pending.iter_mut().find(|(pending, _)| pending == method) {
            Some((_, count)) => *count += 1,
            None => {
                directory.admits(method, pending.len())?;
                pending.push((method.to_owned(), 1));
            }
        }
        Ok(true)
    }

    fn settle(&self, method: &str) {
        let mut pending = self.pending_new.borrow_mut();
        if let Some(at) = pending.iter().position(|(pending, _)| pending == method) {
            pending[at].1 -= 1;
            if pending[at].1 == 0 {
                pending.swap_remove(at);
            }
        }
    }

    /// Stores one delivery: admitted, written to a fresh KV key, then named;
    /// the key it replaces goes to the trash.
    async fn commit(
        &self,
        client_id: &str,
        backup_method: String,
        sealed: SealedShare,
    ) -> Result<Vec<u8>> {
        self.load().await?;
        let is_new = self.admit(&backup_method)?;
        let kv = self.shares();
        let version = new_version();
        let written = match (&kv, &version) {
            (Ok(kv), Ok(version)) => {
                let key = custodian_share_key(client_id, &backup_method, version);
                kv::put_json(kv, &key, &sealed).await
            }
            (Err(error), _) | (_, Err(error)) => Err(*error),
        };
        if is_new {
            self.settle(&backup_method);
        }
        written?;
        let version = version?;
        let now = now_ms() as u64;
        // A failed write above or below leaves an unnamed blob (never read;
        // its delete cannot be kept when storage fails).
        self.with_held(|held| {
            if let Some(old) = held.custodian.set(&backup_method, version, now_iso()) {
                held.trash
                    .add(custodian_share_key(client_id, &backup_method, &old), now);
            }
        })?;
        self.save().await?;
        Ok(Vec::new())
    }

    /// The route's answer to `GET /v1/client-backups/{method}`: the versions
    /// the records name, with their envelopes. A named envelope KV does not
    /// serve (yet, or deleted after a newer version was named meanwhile) is
    /// asked for again, names first, after a short wait; then 503.
    async fn read_client(&self, client_id: &str, method: &str) -> Result<Vec<u8>> {
        let kv = self.shares()?;
        for wait in REREAD_AFTER_MS {
            let record = self.with_held(|held| {
                held.client
                    .as_ref()
                    .and_then(|records| records.get(method))
                    .cloned()
                    .ok_or(Error::NotFound)
            })??;
            let key = |version: &StoredVersion| envelope_key(client_id, method, &version.backup_id);
            let current_key = key(&record.current);
            let previous_key = record.previous.as_ref().map(key);
            let previous = async {
                match &previous_key {
                    Some(key) => kv::get_text(&kv, key).await.map(|found| found.ok_or(())),
                    None => Ok(Err(())),
                }
            };
            let (current, previous) = join(kv::get_text(&kv, &current_key), previous).await;
            let (current, previous) = (current?, previous?);
            if let (Some(current), true) = (current, record.previous.is_none() || previous.is_ok())
            {
                return encode(&record.versions(client_id, method, current, previous.ok()));
            }
            if wait > 0 {
                Delay::from(Duration::from_millis(wait)).await;
            }
        }
        Err(Error::StorageUnavailable)
    }

    /// Every method's sealed share, sorted by method.
    async fn read(&self, client_id: &str) -> Result<Vec<u8>> {
        self.load().await?;
        let named: Vec<(String, String)> = self.with_held(|held| {
            held.custodian
                .entries()
                .map(|(m, named)| (m.to_owned(), named.version.clone()))
                .collect()
        })?;
        let kv = self.shares()?;
        let kv = &kv;
        let records = join_all(named.iter().map(|(method, version)| {
            let key = custodian_share_key(client_id, method, version);
            async move { kv::get_json::<SealedShare>(kv, &key).await }
        }))
        .await;
        let mut shares = Vec::with_capacity(named.len());
        for ((backup_method, version), record) in named.into_iter().zip(records) {
            let sealed = match record? {
                Some(sealed) => sealed,
                None => self.reread(kv, client_id, &backup_method, version).await?,
            };
            shares.push(StoredShare {
                backup_method,
                sealed,
            });
        }
        encode(&StoredShares { shares })
    }

    /// A named share whose key was not readable: if a delivery replaced it
    /// meanwhile, read the key named now. Named but still absent is KV not
    /// yet serving a key written here: 503, retry.
    async fn reread(
        &self,
        kv: &Kv,
        client_id: &str,
        method: &str,
        mut seen: String,
    ) -> Result<SealedShare> {
        for _ in 0..3 {
            let current =
                self.with_held(|held| held.custodian.version(method).map(str::to_owned))?;
            match current {
                Some(version) if version != seen => {
                    let key = custodian_share_key(client_id, method, &version);
                    if let Some(sealed) = kv::get_json(kv, &key).await? {
                        return Ok(sealed);
                    }
                    seen = version;
                }
                _ => break,
            }
        }
        Err(Error::StorageUnavailable)
    }
}

/// One client message as a transaction on the loaded state, with no await:
/// its answer, and whether the state changed (then it is saved before the
/// answer leaves). Blobs a change stops naming go to the trash.
fn change(
    state: &mut BackupState,
    client_id: &str,
    message: &Message,
    now: u64,
) -> Result<(Vec<u8>, bool)> {
    let BackupState {
        custodian,
        client,
        trash,
        ..
    } = state;
    let records = client
        .as_mut()
        .ok_or(Error::Internal("client records not loaded"))?;
    let mut unnamed = |method: &str, backup_id: &str| {
        trash.add(envelope_key(client_id, method, backup_id), now);
    };
    match message {
        Message::ClientStore {
            method,
            version,
            rekey_of,
            ..
        } => {
            let mut version = version.clone();
            // Checked here, in the transaction that stores it: a re-key of
            // the confirmed version Portal was told of keeps that standing.
            if let Some(rekey_of) = rekey_of {
                version.portal_notified =
                    records.reseals(method, rekey_of, &version.backup_share_pair_ids);
            }
            let answer = encode(&version)?;
            if let Some(dropped) = records.store(method, version) {
                unnamed(method, &dropped);
            }
            Ok((answer, true))
        }
        Message::ClientConfirm { method, backup_id } => {
            let record = records.get_mut(method).ok_or(Error::NotFound)?;
            if let Some(dropped) = record.confirm(backup_id)? {
                unnamed(method, &dropped);
            }
            Ok((encode(&record.current.stored(client_id, method))?, true))
        }
        Message::ClientNotified { method, backup_id } => {
            let record = records.get_mut(method).ok_or(Error::NotFound)?;
            record.mark_notified(backup_id);
            Ok((Vec::new(), true))
        }
        Message::ClientGet { method } => {
            let record = records.get(method).ok_or(Error::NotFound)?;
            Ok((encode(record)?, false))
        }
        Message::ClientDelete { method } => {
            let record = records.remove(method).ok_or(Error::NotFound)?;
            for backup_id in record.backup_ids() {
                unnamed(method, backup_id);
            }
            Ok((Vec::new(), true))
        }
        Message::ClientList => {
            let answer = ClientBackupList {
                client_id: client_id.to_owned(),
                backups: records.summaries(),
            };
            Ok((encode(&answer)?, false))
        }
        Message::CustodianMethods => {
            let answer = CustodianBackupList {
                client_id: client_id.to_owned(),
                backups: custodian.summaries(),
            };
            Ok((encode(&answer)?, false))
        }
        Message::CustodianCommit { .. } | Message::CustodianRead | Message::ClientRead { .. } => {
            Err(Error::Internal("not a client message"))
        }
    }
}
