//! The client's Durable Object as the Worker sees it: every message, its
//! body and its answer, in one place, and how the object's error answers map
//! back to [`Error`]. The object itself is [`super::directory`].
//!
//! A message is a `POST` to `https://backup-directory/{path}` on the
//! object's stub with a JSON body; the answer is 200 with the JSON answer, or
//! the Worker's own error body.

use js_sys::Uint8Array;
use portal_backup::wire::{ClientBackupSummary, CustodianBackupSummary, ErrorBody};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use worker::Env;
use worker::wasm_bindgen::JsCast;
use worker::worker_sys::DurableObject as DurableObjectStub;
use worker::worker_sys::web_sys;

use crate::error::{Error, Result};
use crate::store::at_rest::SealedShare;
use crate::store::client::{ClientBackupRecord, StoredVersion};

/// The binding name in wrangler.toml.
pub const BINDING: &str = "BACKUP_DIRECTORY";

/// What the Worker asks the object. Each is one transaction in the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// [`StoreVersion`] → [`StoredVersion`]: name a client envelope the
    /// Worker has written as the method's current version.
    ClientStore,
    /// [`ForVersion`] → [`StoredVersion`]; 404, 409 `NOT_CURRENT`.
    ClientConfirm,
    /// [`ForVersion`] → [`StoredVersion`]: Portal accepted SHARE for it.
    ClientNotified,
    /// [`ForMethod`] → [`ClientBackupRecord`]; 404.
    ClientGet,
    /// [`ForClient`] → [`Summaries`].
    ClientList,
    /// [`ForMethod`] → `{}`; 404.
    ClientDelete,
    /// [`CommitShare`] → `{}`; 409 `TOO_MANY_BACKUP_METHODS`.
    CustodianCommit,
    /// [`ForClient`] → [`StoredShares`].
    CustodianRead,
    /// [`ForClient`] → [`StoredMethods`].
    CustodianMethods,
}

impl Message {
    const ALL: [Message; 9] = [
        Message::ClientStore,
        Message::ClientConfirm,
        Message::ClientNotified,
        Message::ClientGet,
        Message::ClientList,
        Message::ClientDelete,
        Message::CustodianCommit,
        Message::CustodianRead,
        Message::CustodianMethods,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Message::ClientStore => "/client/store",
            Message::ClientConfirm => "/client/confirm",
            Message::ClientNotified => "/client/notified",
            Message::ClientGet => "/client/get",
            Message::ClientList => "/client/list",
            Message::ClientDelete => "/client/delete",
            Message::CustodianCommit => "/custodian/commit",
            Message::CustodianRead => "/custodian/read",
            Message::CustodianMethods => "/custodian/methods",
        }
    }

    pub fn from_path(path: &str) -> Option<Message> {
        Message::ALL.into_iter().find(|m| m.path() == path)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForClient {
    pub client_id: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForMethod {
    pub client_id: String,
    pub backup_method: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForVersion {
    pub client_id: String,
    pub backup_method: String,
    pub backup_id: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreVersion {
    pub client_id: String,
    pub backup_method: String,
    pub version: StoredVersion,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitShare {
    pub client_id: String,
    pub backup_method: String,
    pub sealed: SealedShare,
}

#[derive(Serialize, Deserialize)]
pub struct Summaries {
    pub backups: Vec<ClientBackupSummary>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredShare {
    pub backup_method: String,
    pub sealed: SealedShare,
}

#[derive(Serialize, Deserialize)]
pub struct StoredShares {
    pub shares: Vec<StoredShare>,
}

#[derive(Serialize, Deserialize)]
pub struct StoredMethods {
    pub methods: Vec<CustodianBackupSummary>,
}

/// An answer with nothing to say, `{}`: typed, so no `serde_json::Value`.
#[derive(Serialize, Deserialize)]
pub struct Done {}

/// The error an object's error answer stands for. The object answers only
/// with these codes; anything else is the object failing.
fn error_from(body: &[u8]) -> Error {
    let code = serde_json::from_slice::<ErrorBody>(body)
        .map(|body| body.error.code)
        .unwrap_or_default();
    match code.as_str() {
        "NOT_FOUND" => Error::NotFound,
        "NOT_CURRENT" => Error::NotCurrent,
        "TOO_MANY_BACKUP_METHODS" => Error::TooManyBackupMethods,
        "STORED_RECORD_UNREADABLE" => Error::StoredRecordUnreadable,
        "STORAGE_UNAVAILABLE" => Error::StorageUnavailable,
        "MISCONFIGURED" => Error::Misconfigured("KV binding SHARES is missing"),
        _ => Error::Internal("backup directory"),
    }
}

/// The client's object, `idFromName(clientId)`.
pub struct Directory {
    stub: DurableObjectStub,
    client_id: String,
}

impl Directory {
    pub fn of(env: &Env, client_id: &str) -> Result<Directory> {
        let stub = env
            .durable_object(BINDING)
            .map_err(|_| {
                Error::Misconfigured("Durable Object binding BACKUP_DIRECTORY is missing")
            })?
            .id_from_name(client_id)
            .and_then(|id| id.get_stub())
            .map_err(|_| Error::StorageUnavailable)?
            .into_rpc();
        Ok(Directory {
            stub,
            client_id: client_id.to_owned(),
        })
    }

    /// One message, its answer's bytes. The request and the answer are the
    /// runtime's own, with byte bodies: workers-rs's `Response` reads an
    /// answer through a `ReadableStream` reader driven from Rust (an await
    /// and two boundary crossings per chunk; 7% of the Worker isolate's
    /// samples on `POST /{root}/backup/fetch`), and converts `cf` both ways.
    async fn call(&self, message: Message, body: Vec<u8>) -> Result<Vec<u8>> {
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(&Uint8Array::from(body.as_slice()));
        let url = ["https://backup-directory", message.path()].concat();
        let req = web_sys::Request::new_with_str_and_init(&url, &init)
            .map_err(|_| Error::Internal("backup directory request"))?;
        let unavailable = |_| Error::StorageUnavailable;
        let response: web_sys::Response = self
            .stub
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
            Ok(body)
        } else {
            Err(error_from(&body))
        }
    }

    async fn ask<A: DeserializeOwned>(&self, message: Message, body: &impl Serialize) -> Result<A> {
        let body =
            serde_json::to_vec(body).map_err(|_| Error::Internal("backup directory request"))?;
        let answer = self.call(message, body).await?;
        serde_json::from_slice(&answer).map_err(|_| Error::Internal("backup directory answer"))
    }

    fn for_client(&self) -> ForClient {
        ForClient {
            client_id: self.client_id.clone(),
        }
    }

    fn for_method(&self, method: &str) -> ForMethod {
        ForMethod {
            client_id: self.client_id.clone(),
            backup_method: method.to_owned(),
        }
    }

    fn for_version(&self, method: &str, backup_id: &str) -> ForVersion {
        ForVersion {
            client_id: self.client_id.clone(),
            backup_method: method.to_owned(),
            backup_id: backup_id.to_owned(),
        }
    }

    /// Names `version` (its envelope already written) as `method`'s current.
    pub async fn store(&self, method: &str, version: StoredVersion) -> Result<StoredVersion> {
        let body = StoreVersion {
            client_id: self.client_id.clone(),
            backup_method: method.to_owned(),
            version,
        };
        self.ask(Message::ClientStore, &body).await
    }

    pub async fn confirm(&self, method: &str, backup_id: &str) -> Result<StoredVersion> {
        self.ask(Message::ClientConfirm, &self.for_version(method, backup_id))
            .await
    }

    /// Records that Portal accepted SHARE for `backup_id`; answers current.
    pub async fn notified(&self, method: &str, backup_id: &str) -> Result<StoredVersion> {
        self.ask(
            Message::ClientNotified,
            &self.for_version(method, backup_id),
        )
        .await
    }

    pub async fn get(&self, method: &str) -> Result<ClientBackupRecord> {
        self.ask(Message::ClientGet, &self.for_method(method)).await
    }

    pub async fn list(&self) -> Result<Vec<ClientBackupSummary>> {
        self.ask::<Summaries>(Message::ClientList, &self.for_client())
            .await
            .map(|answer| answer.backups)
    }

    pub async fn delete(&self, method: &str) -> Result<()> {
        self.ask::<Done>(Message::ClientDelete, &self.for_method(method))
            .await
            .map(drop)
    }

    /// Stores a sealed delivery for `method`; `Ok` only once a fetch will
    /// find it.
    pub async fn commit(&self, method: &str, sealed: SealedShare) -> Result<()> {
        let body = CommitShare {
            client_id: self.client_id.clone(),
            backup_method: method.to_owned(),
            sealed,
        };
        self.ask::<Done>(Message::CustodianCommit, &body)
            .await
            .map(drop)
    }

    /// Every stored custodian method's sealed share, sorted by method.
    pub async fn read(&self) -> Result<Vec<StoredShare>> {
        self.ask::<StoredShares>(Message::CustodianRead, &self.for_client())
            .await
            .map(|answer| answer.shares)
    }

    /// The custodian methods stored and when each was received, sorted by
    /// method; never a share.
    pub async fn methods(&self) -> Result<Vec<CustodianBackupSummary>> {
        self.ask::<StoredMethods>(Message::CustodianMethods, &self.for_client())
            .await
            .map(|answer| answer.methods)
    }
}
