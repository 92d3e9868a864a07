//! The per-client Durable Object behind Portal's custodian webhooks. It
//! holds the client's [`DirectoryRecord`] (which methods, which KV key each)
//! and does every KV read and write of the client's custodian shares, so:
//!
//! - deliveries for one client pass through one object, which admits,
//!   writes and names each in turn: overlapping per-curve deliveries cannot
//!   lose a method, and the 33rd method is refused before anything is
//!   written;
//! - a share's KV key is written and read from the object's own location,
//!   so a `/backup/fetch` right after a delivery's 200 relies only on KV's
//!   read-your-writes at the location that wrote, and on the object's
//!   storage, which is strongly consistent. `list()` is never used.
//!
//! The Worker seals and opens shares; the object only ever sees sealed
//! records.

use std::cell::RefCell;

use futures_util::future::join_all;
use js_sys::Uint8Array;
use portal_backup::wire::{CustodianBackupSummary, ErrorBody};
use serde::{Deserialize, Serialize};
use worker::wasm_bindgen::JsCast;
use worker::worker_sys::DurableObject as DurableObjectStub;
use worker::worker_sys::web_sys;
use worker::{DurableObject, Env, Request, Response, State, durable_object};

use crate::error::{Error, Result};
use crate::http::{error_response, json};
use crate::store::at_rest::SealedShare;
use crate::store::custodian::{DirectoryRecord, VERSION_LEN, version_from};
use crate::store::custodian_share_key;
use crate::store::kv::{self, Kv};

/// The binding name in wrangler.toml.
pub const BINDING: &str = "CUSTODIAN_DIRECTORY";
/// The object's one storage key.
const DIRECTORY_KEY: &str = "directory";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommitShare {
    client_id: String,
    backup_method: String,
    sealed: SealedShare,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadShares {
    client_id: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredShare {
    pub backup_method: String,
    pub sealed: SealedShare,
}

/// A commit's answer, `{}`: typed, so no `serde_json::Value` is built.
#[derive(Serialize)]
struct Committed {}

#[derive(Serialize, Deserialize)]
struct StoredShares {
    shares: Vec<StoredShare>,
}

#[derive(Serialize, Deserialize)]
struct StoredMethods {
    methods: Vec<CustodianBackupSummary>,
}

#[durable_object]
pub struct CustodianDirectory {
    state: State,
    env: Env,
    /// Loaded from storage on first use; `None` again after a failed write,
    /// so the next request reloads what storage really holds.
    directory: RefCell<Option<DirectoryRecord>>,
    /// New methods whose deliveries were admitted and are being written:
    /// counted against the limit so two at once cannot both be the 32nd.
    /// (method, deliveries in flight); a few entries at most, so a Vec: a
    /// map type of its own would link its insert and remove code.
    pending_new: RefCell<Vec<(String, usize)>>,
}

impl DurableObject for CustodianDirectory {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            directory: RefCell::new(None),
            pending_new: RefCell::new(Vec::new()),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let result = match req.path().as_str() {
            "/commit" => self.commit(&mut req).await,
            "/read" => self.read(&mut req).await,
            "/methods" => self.methods().await,
            _ => Err(Error::RouteNotFound),
        };
        Ok(result.unwrap_or_else(|error| error_response(&error)))
    }
}

fn new_version() -> Result<String> {
    let mut bytes = [0u8; VERSION_LEN / 2];
    getrandom::fill(&mut bytes).map_err(|_| Error::Internal("randomness unavailable"))?;
    Ok(version_from(&bytes))
}

/// The Worker's request, read as bytes (one copy into wasm memory) rather
/// than as text.
async fn request_body<T: for<'de> Deserialize<'de>>(req: &mut Request) -> Result<T> {
    let body = req
        .bytes()
        .await
        .map_err(|_| Error::Internal("custodian directory request"))?;
    serde_json::from_slice(&body).map_err(|_| Error::Internal("custodian directory request"))
}

impl CustodianDirectory {
    fn shares(&self) -> Result<Kv> {
        Kv::binding(&self.env, "SHARES")
    }

    async fn load(&self) -> Result<()> {
        if self.directory.borrow().is_some() {
            return Ok(());
        }
        // Read as the string it was written as (`Storage::get` and `put`
        // would convert it with serde-wasm-bindgen's generic code).
        let storage = self
            .state
            .as_raw()
            .storage()
            .map_err(|_| Error::StorageUnavailable)?;
        let promise = storage
            .get(DIRECTORY_KEY)
            .map_err(|_| Error::StorageUnavailable)?;
        let value = js_sys::futures::JsFuture::from(promise)
            .await
            .map_err(|_| Error::StorageUnavailable)?;
        let text = if value.is_undefined() || value.is_null() {
            None
        } else {
            Some(value.as_string().ok_or(Error::StorageUnavailable)?)
        };
        let record = DirectoryRecord::parse(text.as_deref())?;
        self.directory.borrow_mut().get_or_insert(record);
        Ok(())
    }

    /// Admits a delivery (the limit), returning whether its method is new.
    fn admit(&self, method: &str) -> Result<bool> {
        let directory = self.directory.borrow();
        let directory = directory
            .as_ref()
            .ok_or(Error::Internal("directory not loaded"))?;
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

    /// Stores one delivery: admitted, written to a fresh KV key, then named
    /// in the directory; the key it replaces is deleted last.
    async fn commit(&self, req: &mut Request) -> Result<Response> {
        let CommitShare {
            client_id,
            backup_method,
            sealed,
        } = request_body(req).await?;
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
        let (kv, version) = (kv?, version?);
        let (text, replaced) = {
            let mut directory = self.directory.borrow_mut();
            let directory = directory.get_or_insert_with(DirectoryRecord::default);
            let received_at = String::from(js_sys::Date::new_0().to_iso_string());
            let replaced = directory.set(&backup_method, version.clone(), received_at);
            (directory.to_text(), replaced)
        };
        if self.state.storage().put_raw(DIRECTORY_KEY, text).await.is_err() {
            // Not named, so never read: drop it, and reload the directory.
            self.directory.replace(None);
            let _ = kv::delete(&kv, &custodian_share_key(&client_id, &backup_method, &version)).await;
            return Err(Error::StorageUnavailable);
        }
        if let Some(old) = replaced {
            // Unreachable now; a read that began before this commit and
            // finds it gone re-reads what the directory names (see `read`).
            let _ = kv::delete(&kv, &custodian_share_key(&client_id, &backup_method, &old)).await;
        }
        json(200, &Committed {})
    }

    /// Every method's sealed share, sorted by method.
    async fn read(&self, req: &mut Request) -> Result<Response> {
        let ReadShares { client_id } = request_body(req).await?;
        self.load().await?;
        let named: Vec<(String, String)> = self
            .directory
            .borrow()
            .as_ref()
            .map(|d| {
                d.entries()
                    .map(|(m, named)| (m.to_owned(), named.version.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let kv = self.shares()?;
        let kv = &kv;
        let records = join_all(named.iter().map(|(method, version)| {
            let key = custodian_share_key(&client_id, method, version);
            async move { kv::get_json::<SealedShare>(kv, &key).await }
        }))
        .await;
        let mut shares = Vec::with_capacity(named.len());
        for ((backup_method, version), record) in named.into_iter().zip(records) {
            let sealed = match record? {
                Some(sealed) => sealed,
                None => self.reread(kv, &client_id, &backup_method, version).await?,
            };
            shares.push(StoredShare {
                backup_method,
                sealed,
            });
        }
        json(200, &StoredShares { shares })
    }

    /// The methods stored and when, without touching KV or any share.
    async fn methods(&self) -> Result<Response> {
        self.load().await?;
        let methods = self
            .directory
            .borrow()
            .as_ref()
            .map(|d| {
                d.entries()
                    .map(|(method, named)| CustodianBackupSummary {
                        backup_method: method.to_owned(),
                        received_at: named.received_at.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        json(200, &StoredMethods { methods })
    }

    /// A named share whose key was gone: a delivery replaced it meanwhile,
    /// so read the key the directory names now. Named but still absent is
    /// KV failing its read-your-writes here: 503, retry.
    async fn reread(
        &self,
        kv: &Kv,
        client_id: &str,
        method: &str,
        mut seen: String,
    ) -> Result<SealedShare> {
        for _ in 0..3 {
            let current = self
                .directory
                .borrow()
                .as_ref()
                .and_then(|d| d.version(method).map(str::to_owned));
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

/// What the Worker asks the client's object, over its stub: the answer's
/// body. The request and the answer are the runtime's own, with byte
/// bodies: workers-rs's `Response` reads an answer through a
/// `ReadableStream` reader driven from Rust (an await and two boundary
/// crossings per chunk; 7% of the Worker isolate's samples on
/// `POST /{root}/backup/fetch`), and converts `cf` both ways.
async fn call<T: Serialize>(env: &Env, client_id: &str, path: &str, body: &T) -> Result<Vec<u8>> {
    let stub: DurableObjectStub = env
        .durable_object(BINDING)
        .map_err(|_| Error::Misconfigured("Durable Object binding CUSTODIAN_DIRECTORY is missing"))?
        .id_from_name(client_id)
        .and_then(|id| id.get_stub())
        .map_err(|_| Error::StorageUnavailable)?
        .into_rpc();
    let body = serde_json::to_vec(body).map_err(|_| Error::Internal("directory request"))?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&Uint8Array::from(body.as_slice()));
    let url = ["https://custodian-directory", path].concat();
    let req = web_sys::Request::new_with_str_and_init(&url, &init)
        .map_err(|_| Error::Internal("directory request"))?;
    let unavailable = |_| Error::StorageUnavailable;
    let response: web_sys::Response = stub
        .fetch_with_request(&req)
        .map_err(unavailable)?
        .await
        .map_err(unavailable)?
        .unchecked_into();
    let status = response.status();
    let body = response
        .array_buffer()
        .map_err(unavailable)?
        .await
        .map(|buffer| Uint8Array::new(&buffer).to_vec())
        .map_err(unavailable)?;
    if status == 200 {
        return Ok(body);
    }
    // The object answers with the Worker's own error bodies.
    let code = serde_json::from_slice::<ErrorBody>(&body)
        .map(|body| body.error.code)
        .unwrap_or_default();
    Err(match code.as_str() {
        "TOO_MANY_BACKUP_METHODS" => Error::TooManyBackupMethods,
        "STORED_RECORD_UNREADABLE" => Error::StoredRecordUnreadable,
        "STORAGE_UNAVAILABLE" => Error::StorageUnavailable,
        "MISCONFIGURED" => Error::Misconfigured("KV binding SHARES is missing"),
        _ => Error::Internal("custodian directory"),
    })
}

/// Stores a sealed delivery for (client, method); 200 only once a fetch
/// will find it.
pub async fn commit(env: &Env, client_id: &str, backup_method: &str, sealed: SealedShare) -> Result<()> {
    let body = CommitShare {
        client_id: client_id.to_owned(),
        backup_method: backup_method.to_owned(),
        sealed,
    };
    call(env, client_id, "/commit", &body).await.map(drop)
}

/// The client's custodian methods and when each was received, sorted by
/// method.
pub async fn methods(env: &Env, client_id: &str) -> Result<Vec<CustodianBackupSummary>> {
    let body = ReadShares {
        client_id: client_id.to_owned(),
    };
    let answer = call(env, client_id, "/methods", &body).await?;
    serde_json::from_slice::<StoredMethods>(&answer)
        .map(|stored| stored.methods)
        .map_err(|_| Error::Internal("custodian directory answer"))
}

/// Every stored method's sealed share for the client, sorted by method.
pub async fn read(env: &Env, client_id: &str) -> Result<Vec<StoredShare>> {
    let body = ReadShares {
        client_id: client_id.to_owned(),
    };
    let answer = call(env, client_id, "/read", &body).await?;
    serde_json::from_slice::<StoredShares>(&answer)
        .map(|stored| stored.shares)
        .map_err(|_| Error::Internal("custodian directory answer"))
}
