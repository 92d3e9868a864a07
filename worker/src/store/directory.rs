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
//! - It writes and reads the custodian shares' blobs itself, in KV, under
//!   fresh keys. Client envelopes are written by the Worker before it asks
//!   the object to name them.
//! - Blobs it stops naming go to the [`Trash`]; its alarm deletes them once
//!   KV's one write per second per key allows.
//!
//! The Worker seals and opens custodian shares; the object only ever sees
//! sealed records, and never a client backup's key.

use std::cell::RefCell;

use futures_util::future::{join, join_all};
use js_sys::Object;
use serde::de::DeserializeOwned;
use worker::wasm_bindgen::JsValue;
use worker::{DurableObject, Env, Request, Response, State, durable_object};

use crate::config::{now_iso, now_ms, shares};
use crate::error::{Error, Result};
use crate::http::{error_response, json};
use crate::store::at_rest::SealedShare;
use crate::store::client::{ClientRecords, LegacyRecord};
use crate::store::custodian::{DirectoryRecord, VERSION_LEN, version_from};
use crate::store::kv::{self, Kv};
use crate::store::object::{
    CommitShare, Done, ForClient, ForMethod, ForVersion, Message, StoreVersion, StoredMethods,
    StoredShare, StoredShares, Summaries,
};
use crate::store::trash::Trash;
use crate::store::{custodian_share_key, envelope_key, legacy_client_key, legacy_notified_key};
use crate::validate::CLIENT_BACKUP_METHODS;

/// The object's storage keys.
const CUSTODIAN_KEY: &str = "directory";
const CLIENT_KEY: &str = "client";
const TRASH_KEY: &str = "trash";

/// What the object holds, as loaded from its storage.
struct Held {
    custodian: DirectoryRecord,
    /// `None` until the client's records in the earlier layout were looked
    /// for and moved here (that needs the clientId, which messages carry).
    client: Option<ClientRecords>,
    trash: Trash,
}

#[durable_object]
pub struct BackupDirectory {
    state: State,
    env: Env,
    /// Loaded from storage on first use; `None` again after a failed write,
    /// so the next request reloads what storage really holds.
    held: RefCell<Option<Held>>,
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
        let result = match Message::from_path(&req.path()) {
            Some(message) => self.answer(message, &mut req).await,
            None => Err(Error::RouteNotFound),
        };
        Ok(result.unwrap_or_else(|error| error_response(&error)))
    }

    /// Deletes the blobs whose delete is due; a delete KV refuses stays in
    /// the trash for the next alarm.
    async fn alarm(&self) -> worker::Result<Response> {
        if self.load().await.is_ok() {
            let now = now_ms() as u64;
            let due = self.with_held(|held| held.trash.take_due(now));
            if let (Ok(kv), Ok(due)) = (self.shares(), due) {
                let deleted = join_all(due.iter().map(|key| kv::delete(&kv, key))).await;
                let _ = self.with_held(|held| {
                    for (key, result) in due.into_iter().zip(deleted) {
                        if result.is_err() {
                            held.trash.add(key, now);
                        }
                    }
                });
                let _ = self.save(false, false).await;
            }
        }
        Response::empty()
    }
}

/// The Worker's message body, read as bytes (one copy into wasm memory).
async fn request_body<T: DeserializeOwned>(req: &mut Request) -> Result<T> {
    let body = req
        .bytes()
        .await
        .map_err(|_| Error::Internal("backup directory request"))?;
    serde_json::from_slice(&body).map_err(|_| Error::Internal("backup directory request"))
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
        let (custodian, client, trash) = futures_util::join!(
            self.stored_text(CUSTODIAN_KEY),
            self.stored_text(CLIENT_KEY),
            self.stored_text(TRASH_KEY),
        );
        let held = Held {
            custodian: DirectoryRecord::parse(custodian?.as_deref())?,
            client: match client? {
                Some(text) => Some(ClientRecords::parse(Some(&text))?),
                None => None,
            },
            trash: Trash::parse(trash?.as_deref())?,
        };
        self.held.borrow_mut().get_or_insert(held);
        Ok(())
    }

    fn with_held<T>(&self, f: impl FnOnce(&mut Held) -> T) -> Result<T> {
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
        self.save(true, false).await
    }

    /// Writes what changed in one storage write (`client`, `trash`, and
    /// `directory` when asked), then sets the alarm for the trash. A failed
    /// write drops what is held, so the next request reloads storage.
    async fn save(&self, client: bool, custodian: bool) -> Result<()> {
        let (entries, next_due) = self.with_held(|held| {
            let entries = Object::new();
            let set = |key: &str, text: String| {
                let _ =
                    js_sys::Reflect::set(&entries, &JsValue::from_str(key), &JsValue::from(text));
            };
            set(TRASH_KEY, held.trash.to_text());
            if client {
                set(
                    CLIENT_KEY,
                    held.client
                        .as_ref()
                        .map(ClientRecords::to_text)
                        .unwrap_or_default(),
                );
            }
            if custodian {
                set(CUSTODIAN_KEY, held.custodian.to_text());
            }
            (entries, held.trash.next_due())
        })?;
        let storage = self.state.storage();
        if storage.put_multiple_raw(entries).await.is_err() {
            self.held.replace(None);
            return Err(Error::StorageUnavailable);
        }
        if let Some(due) = next_due {
            let wait = due.saturating_sub(now_ms() as u64);
            let _ = storage.set_alarm(wait as i64).await;
        }
        Ok(())
    }

    async fn answer(&self, message: Message, req: &mut Request) -> Result<Response> {
        match message {
            Message::ClientStore => {
                let StoreVersion {
                    client_id,
                    backup_method,
                    version,
                } = request_body(req).await?;
                self.load_client(&client_id).await?;
                let now = now_ms() as u64;
                let current = self.with_client(|records, trash| {
                    if let Some(dropped) = records.store(&backup_method, version.clone()) {
                        trash.add(envelope_key(&client_id, &backup_method, &dropped), now);
                    }
                    Ok(version)
                })?;
                self.save(true, false).await?;
                json(200, &current)
            }
            Message::ClientConfirm | Message::ClientNotified => {
                let ForVersion {
                    client_id,
                    backup_method,
                    backup_id,
                } = request_body(req).await?;
                self.load_client(&client_id).await?;
                let now = now_ms() as u64;
                let current = self.with_client(|records, trash| {
                    let record = records.get_mut(&backup_method).ok_or(Error::NotFound)?;
                    if message == Message::ClientConfirm {
                        if let Some(dropped) = record.confirm(&backup_id)? {
                            trash.add(envelope_key(&client_id, &backup_method, &dropped), now);
                        }
                    } else {
                        record.mark_notified(&backup_id);
                    }
                    Ok(record.current.clone())
                })?;
                self.save(true, false).await?;
                json(200, &current)
            }
            Message::ClientGet => {
                let ForMethod {
                    client_id,
                    backup_method,
                } = request_body(req).await?;
                self.load_client(&client_id).await?;
                let record = self.with_client(|records, _| {
                    records.get(&backup_method).cloned().ok_or(Error::NotFound)
                })?;
                json(200, &record)
            }
            Message::ClientList => {
                let ForClient { client_id } = request_body(req).await?;
                self.load_client(&client_id).await?;
                let backups = self.with_client(|records, _| Ok(records.summaries()))?;
                json(200, &Summaries { backups })
            }
            Message::ClientDelete => {
                let ForMethod {
                    client_id,
                    backup_method,
                } = request_body(req).await?;
                self.load_client(&client_id).await?;
                let now = now_ms() as u64;
                self.with_client(|records, trash| {
                    let record = records.remove(&backup_method).ok_or(Error::NotFound)?;
                    for backup_id in record.backup_ids() {
                        trash.add(envelope_key(&client_id, &backup_method, backup_id), now);
                    }
                    Ok(())
                })?;
                self.save(true, false).await?;
                json(200, &Done {})
            }
            Message::CustodianCommit => self.commit(request_body(req).await?).await,
            Message::CustodianRead => {
                let ForClient { client_id } = request_body(req).await?;
                self.read(&client_id).await
            }
            Message::CustodianMethods => {
                request_body::<ForClient>(req).await?;
                self.load().await?;
                let methods = self.with_held(|held| held.custodian.summaries())?;
                json(200, &StoredMethods { methods })
            }
        }
    }

    /// Runs a change on the client's records (loaded) and its trash.
    fn with_client<T>(
        &self,
        f: impl FnOnce(&mut ClientRecords, &mut Trash) -> Result<T>,
    ) -> Result<T> {
        self.with_held(|held| match held.client.as_mut() {
            Some(records) => f(records, &mut held.trash),
            None => Err(Error::Internal("client records not loaded")),
        })?
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
    async fn commit(&self, share: CommitShare) -> Result<Response> {
        let CommitShare {
            client_id,
            backup_method,
            sealed,
        } = share;
        self.load().await?;
        let is_new = self.admit(&backup_method)?;
        let kv = self.shares();
        let version = new_version();
        let written = match (&kv, &version) {
            (Ok(kv), Ok(version)) => {
                let key = custodian_share_key(&client_id, &backup_method, version);
                kv::put_json(kv, &key, &sealed).await
            }
            (Err(error), _) | (_, Err(error)) => Err(error.clone()),
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
                    .add(custodian_share_key(&client_id, &backup_method, &old), now);
            }
        })?;
        self.save(false, true).await?;
        json(200, &Done {})
    }

    /// Every method's sealed share, sorted by method.
    async fn read(&self, client_id: &str) -> Result<Response> {
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
        json(200, &StoredShares { shares })
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
