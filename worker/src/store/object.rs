//! The client's Durable Object as the Worker sees it: every message, how
//! it travels, and how the object's error answers map back to [`Error`], in
//! one place. The object itself is `super::directory`.
//!
//! A message is a `POST` on the object's stub to
//! `https://backup-directory/{clientId}/{verb}[/{method}[/{backupId}]]`
//! (every id matches `[A-Za-z0-9_-]`, so each is a path segment as it is),
//! with a JSON body only where it carries a record. The answer is 200 with
//! the message's answer (where that is the route's own body, the object
//! writes it and the Worker passes it on unread), or the Worker's own error
//! body.

use portal_backup::wire::ErrorBody;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};
use crate::store::at_rest::SealedShare;
#[cfg(doc)]
use crate::store::client::ClientBackupRecord;
use crate::store::client::StoredVersion;

/// The binding name in wrangler.toml.
pub const BINDING: &str = "BACKUP_DIRECTORY";

/// What the Worker asks the client's object. Each is one transaction there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A client PUT: the object writes the envelope to a fresh KV key, then
    /// names it as `method`'s current version. `rekey_of`: the version
    /// re-seals that confirmed one (changeBackupKey). Answers the version
    /// as stored.
    ClientStore {
        method: String,
        version: StoredVersion,
        cipher_text: String,
        rekey_of: Option<String>,
    },
    /// Answers the route's `StoredClientBackup`; 404, 409 `NOT_CURRENT`.
    ClientConfirm { method: String, backup_id: String },
    /// Portal accepted SHARE for that version. Answers nothing; 404.
    ClientNotified { method: String, backup_id: String },
    /// Answers the method's [`ClientBackupRecord`] (names and facts, no
    /// ciphertext); 404.
    ClientGet { method: String },
    /// Answers the route's `ClientBackupVersions`, the envelopes read from
    /// KV by the object; 404, 503 if a named one is not readable yet.
    ClientRead { method: String },
    /// Answers the route's `ClientBackupList`.
    ClientList,
    /// Answers nothing; 404.
    ClientDelete { method: String },
    /// A sealed custodian delivery. Answers nothing once a fetch will find
    /// it; 409 `TOO_MANY_BACKUP_METHODS`.
    CustodianCommit { method: String, sealed: SealedShare },
    /// Answers [`StoredShares`].
    CustodianRead,
    /// Answers the route's `CustodianBackupList`.
    CustodianMethods,
}

/// A message to one client's object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    pub client_id: String,
    pub message: Message,
}

impl Ask {
    /// The request's path and body.
    pub fn encode(&self) -> Result<(String, Vec<u8>)> {
        let none = None::<&String>;
        let (verb, method, backup_id) = match &self.message {
            Message::ClientStore { method, .. } => ("client-store", Some(method), none),
            Message::ClientConfirm { method, backup_id } => {
                ("client-confirm", Some(method), Some(backup_id))
            }
            Message::ClientNotified { method, backup_id } => {
                ("client-notified", Some(method), Some(backup_id))
            }
            Message::ClientGet { method } => ("client-get", Some(method), none),
            Message::ClientRead { method } => ("client-read", Some(method), none),
            Message::ClientList => ("client-list", none, none),
            Message::ClientDelete { method } => ("client-delete", Some(method), none),
            Message::CustodianCommit { method, .. } => ("custodian-commit", Some(method), none),
            Message::CustodianRead => ("custodian-read", none, none),
            Message::CustodianMethods => ("custodian-methods", none, none),
        };
        let body = match &self.message {
            Message::ClientStore {
                version,
                cipher_text,
                rekey_of,
                ..
            } => serde_json::to_vec(&StoreBodyRef {
                version,
                cipher_text,
                rekey_of: rekey_of.as_deref(),
            }),
            Message::CustodianCommit { sealed, .. } => serde_json::to_vec(sealed),
            _ => Ok(Vec::new()),
        }
        .map_err(|_| Error::Internal("backup directory request"))?;
        let mut path = ["/", &self.client_id, "/", verb].concat();
        for segment in method.into_iter().chain(backup_id) {
            path.push('/');
            path.push_str(segment);
        }
        Ok((path, body))
    }

    /// The message a request's path and body carry.
    pub fn decode(path: &str, body: &[u8]) -> Result<Ask> {
        let unknown = || Error::Internal("backup directory request");
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        let (client_id, verb, rest) = match segments.as_slice() {
            [client_id, verb, rest @ ..] => (*client_id, *verb, rest),
            _ => return Err(unknown()),
        };
        let owned = |text: &&str| (*text).to_owned();
        let message = match (verb, rest) {
            ("client-store", [method]) => {
                let StoreBody {
                    version,
                    cipher_text,
                    rekey_of,
                } = serde_json::from_slice(body).map_err(|_| unknown())?;
                Message::ClientStore {
                    method: owned(method),
                    version,
                    cipher_text,
                    rekey_of,
                }
            }
            ("client-confirm", [method, backup_id]) => Message::ClientConfirm {
                method: owned(method),
                backup_id: owned(backup_id),
            },
            ("client-notified", [method, backup_id]) => Message::ClientNotified {
                method: owned(method),
                backup_id: owned(backup_id),
            },
            ("client-get", [method]) => Message::ClientGet {
                method: owned(method),
            },
            ("client-read", [method]) => Message::ClientRead {
                method: owned(method),
            },
            ("client-list", []) => Message::ClientList,
            ("client-delete", [method]) => Message::ClientDelete {
                method: owned(method),
            },
            ("custodian-commit", [method]) => Message::CustodianCommit {
                method: owned(method),
                sealed: serde_json::from_slice(body).map_err(|_| unknown())?,
            },
            ("custodian-read", []) => Message::CustodianRead,
            ("custodian-methods", []) => Message::CustodianMethods,
            _ => return Err(unknown()),
        };
        Ok(Ask {
            client_id: client_id.to_owned(),
            message,
        })
    }
}

/// The body of [`Message::ClientStore`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoreBody {
    version: StoredVersion,
    cipher_text: String,
    #[serde(default)]
    rekey_of: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StoreBodyRef<'a> {
    version: &'a StoredVersion,
    cipher_text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rekey_of: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredShare {
    pub backup_method: String,
    pub sealed: SealedShare,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredShares {
    pub shares: Vec<StoredShare>,
}

/// The error an object's error answer stands for. The object answers only
/// with these codes; anything else is the object failing.
pub fn error_from(body: &[u8]) -> Error {
    let code = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|body| body.error.code.parse().ok());
    match code {
        Some(ErrorCode::NotFound) => Error::NotFound,
        Some(ErrorCode::NotCurrent) => Error::NotCurrent,
        Some(ErrorCode::TooManyBackupMethods) => Error::TooManyBackupMethods,
        Some(ErrorCode::StoredRecordUnreadable) => Error::StoredRecordUnreadable,
        Some(ErrorCode::StorageUnavailable) => Error::StorageUnavailable,
        Some(ErrorCode::Misconfigured) => Error::Misconfigured("KV binding SHARES is missing"),
        _ => Error::Internal("backup directory"),
    }
}

/// An answer the caller reads (the others pass through as the route's body).
pub fn decode<T: serde::de::DeserializeOwned>(answer: &[u8]) -> Result<T> {
    serde_json::from_slice(answer).map_err(|_| Error::Internal("backup directory answer"))
}

#[cfg(target_arch = "wasm32")]
pub use glue::Directory;

#[cfg(target_arch = "wasm32")]
mod glue {
    use js_sys::Uint8Array;
    use worker::Env;
    use worker::wasm_bindgen::JsCast;
    use worker::worker_sys::DurableObject as DurableObjectStub;
    use worker::worker_sys::web_sys;

    use super::{Ask, BINDING, Message, error_from};
    use crate::error::{Error, Result};

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

        pub fn client_id(&self) -> &str {
            &self.client_id
        }

        /// One message, its answer's bytes: the one async call to the
        /// object, whatever the message. The request and the answer are the
        /// runtime's own, with byte bodies: workers-rs's `Response` reads an
        /// answer through a `ReadableStream` reader driven from Rust (an
        /// await and two boundary crossings per chunk; 7% of the Worker
        /// isolate's samples on `POST /{root}/backup/fetch`), and converts
        /// `cf` both ways.
        pub async fn call(&self, message: Message) -> Result<Vec<u8>> {
            let ask = Ask {
                client_id: self.client_id.clone(),
                message,
            };
            let (path, body) = ask.encode()?;
            let init = web_sys::RequestInit::new();
            init.set_method("POST");
            init.set_body(&Uint8Array::from(body.as_slice()));
            let url = ["https://backup-directory", &path].concat();
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_comes_back_as_it_was_sent() {
        let version = StoredVersion {
            backup_id: "b-1".into(),
            backup_share_pair_ids: vec!["p".into()],
            created_at: "2026-12-06T00:00:00.000Z".into(),
            size: 9,
            portal_notified: false,
            confirmed: false,
        };
        let sealed = SealedShare {
            v: 1,
            kid: "k1".into(),
            nonce: "n".into(),
            ciphertext: "c".into(),
        };
        let (method, backup_id) = ("GDRIVE".to_owned(), "AbC_-9".to_owned());
        for message in [
            Message::ClientStore {
                method: method.clone(),
                version: version.clone(),
                cipher_text: "UEJBSwEB".into(),
                rekey_of: None,
            },
            Message::ClientStore {
                method: method.clone(),
                version,
                cipher_text: "UEJBSwEB".into(),
                rekey_of: Some(backup_id.clone()),
            },
            Message::ClientConfirm {
                method: method.clone(),
                backup_id: backup_id.clone(),
            },
            Message::ClientNotified {
                method: method.clone(),
                backup_id,
            },
            Message::ClientGet {
                method: method.clone(),
            },
            Message::ClientRead {
                method: method.clone(),
            },
            Message::ClientList,
            Message::ClientDelete {
                method: method.clone(),
            },
            Message::CustodianCommit {
                method: "GDRIVE-SECP256K1".into(),
                sealed,
            },
            Message::CustodianRead,
            Message::CustodianMethods,
        ] {
            let ask = Ask {
                client_id: "client-1".into(),
                message,
            };
            let (path, body) = ask.encode().unwrap();
            assert_eq!(Ask::decode(&path, &body), Ok(ask), "{path}");
        }
    }

    #[test]
    fn a_path_no_message_has_is_refused() {
        for path in [
            "/",
            "/c",
            "/c/client-get",
            "/c/client-list/GDRIVE",
            "/c/nope/GDRIVE",
            "/c/client-store/GDRIVE",
        ] {
            assert!(Ask::decode(path, b"").is_err(), "{path}");
        }
    }

    #[test]
    fn an_error_answer_comes_back_as_the_error_the_object_sent() {
        for error in [
            Error::NotFound,
            Error::NotCurrent,
            Error::TooManyBackupMethods,
            Error::StoredRecordUnreadable,
            Error::StorageUnavailable,
            Error::Misconfigured("KV binding SHARES is missing"),
        ] {
            let body = serde_json::to_vec(&error.body()).unwrap();
            assert_eq!(error_from(&body), error);
        }
        for body in [
            &br#"{"error":{"code":"RATE_LIMITED","message":"m"}}"#[..],
            br#"{"error":{"code":"NO_SUCH_CODE","message":"m"}}"#,
            b"not json",
        ] {
            assert_eq!(error_from(body), Error::Internal("backup directory"));
        }
    }
}
