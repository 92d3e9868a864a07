//! Client backup storage for the browser module: the client's Durable
//! Object ([`Directory`]) writes each version's envelope to a write-once KV
//! blob, names which version is current and which previous, confirmed and
//! Portal-notified, and reads them back (see [`crate::store`]); this side
//! authenticates, validates and limits. Portal is told
//! `STORED_CLIENT_BACKUP_SHARE` after a store, or on `/notify`.

use base64ct::{Base64UrlUnpadded, Encoding};
use worker::{Method, Response};

use crate::config::{Config, now_iso, now_ms};
use crate::error::{Error, Result};
use crate::http::{Request, Target, empty, header, json, json_bytes, read_body};
use crate::limits;
use crate::portal::{self, bearer_token};
use crate::store::client::{ClientBackupRecord, StoredVersion};
use crate::store::object::{Directory, Message, decode};
use crate::validate;

/// The caller, as Portal knows them. Checked before anything else is read.
struct Caller {
    client_id: String,
    token: String,
}

async fn authenticate(req: &Request, config: &Config) -> Result<Caller> {
    let authorization = header(req, "Authorization");
    let token = bearer_token(authorization.as_deref())
        .ok_or(Error::Unauthenticated)?
        .to_owned();
    let client_id = portal::client_id_for(&config.portal_api_base, &token, now_ms()).await?;
    Ok(Caller { client_id, token })
}

pub async fn handle(
    target: &Target,
    req: &Request,
    env: &worker::Env,
    config: &Config,
) -> Result<Response> {
    // The method first, as sent: a method no route here takes is 405 with
    // `Allow` for anyone, before Portal is asked about the token.
    let sent = req.method();
    if !target.serves(&sent) {
        return Err(Error::MethodNotAllowed {
            allow: target.allow(),
        });
    }
    let caller = authenticate(req, config).await?;
    let method = match target {
        Target::ClientBackupList | Target::CustodianBackupList => None,
        Target::ClientBackup(method)
        | Target::ClientBackupConfirm(method)
        | Target::ClientBackupNotify(method) => Some(validate::client_backup_method(method)?),
        _ => return Err(Error::RouteNotFound),
    };
    let verb = Method::from(sent);
    if !matches!(verb, Method::Get) {
        limits::client_write(env, &caller.client_id).await?;
    }
    let directory = Directory::of(env, &caller.client_id)?;
    match (target, verb, method) {
        // The object writes these answers; they pass through unread.
        (Target::ClientBackupList, Method::Get, _) => {
            let answer = directory.call(Message::ClientList).await?;
            json_bytes(200, answer)
        }
        (Target::CustodianBackupList, Method::Get, _) => {
            let answer = directory.call(Message::CustodianMethods).await?;
            json_bytes(200, answer)
        }
        (Target::ClientBackup(_), Method::Get, Some(method)) => {
            let read = Message::ClientRead {
                method: method.to_owned(),
            };
            json_bytes(200, directory.call(read).await?)
        }
        (Target::ClientBackup(_), Method::Put, Some(method)) => {
            put(req, &directory, &caller, config, method).await
        }
        (Target::ClientBackup(_), Method::Delete, Some(method)) => {
            let method = method.to_owned();
            directory.call(Message::ClientDelete { method }).await?;
            empty(204)
        }
        (Target::ClientBackupConfirm(_), Method::Post, Some(method)) => {
            validate::json_content_type(header(req, "Content-Type").as_deref(), true)?;
            let body = read_body(req, validate::MAX_WEBHOOK_BODY).await?;
            let backup_id = validate::confirm(&body)?.backup_id;
            let method = method.to_owned();
            let answer = directory
                .call(Message::ClientConfirm { method, backup_id })
                .await?;
            json_bytes(200, answer)
        }
        (Target::ClientBackupNotify(_), Method::Post, Some(method)) => {
            let get = Message::ClientGet {
                method: method.to_owned(),
            };
            let mut current = decode::<ClientBackupRecord>(&directory.call(get).await?)?.current;
            if !current.portal_notified {
                current = tell_portal(&directory, &caller, config, method, current).await;
            }
            json(200, &current.stored(&caller.client_id, method))
        }
        _ => Err(Error::MethodNotAllowed {
            allow: target.allow(),
        }),
    }
}

/// Tells Portal and, when it accepted, records that in the client's object.
/// Answers `version` as it stands after: `portalNotified` says whether both
/// happened.
async fn tell_portal(
    directory: &Directory,
    caller: &Caller,
    config: &Config,
    method: &str,
    mut version: StoredVersion,
) -> StoredVersion {
    version.portal_notified = config.notify_portal
        && portal::report_stored(
            &config.portal_api_base,
            &caller.token,
            &version.backup_share_pair_ids,
        )
        .await
        && directory
            .call(Message::ClientNotified {
                method: method.to_owned(),
                backup_id: version.backup_id.clone(),
            })
            .await
            .is_ok();
    version
}

fn new_backup_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| Error::Internal("randomness unavailable"))?;
    Ok(Base64UrlUnpadded::encode_string(&bytes))
}

/// The client's object writes the envelope to a fresh KV key, then names
/// it: nothing can read the key before it holds the envelope.
async fn put(
    req: &Request,
    directory: &Directory,
    caller: &Caller,
    config: &Config,
    method: &str,
) -> Result<Response> {
    validate::json_content_type(header(req, "Content-Type").as_deref(), true)?;
    let body = read_body(req, validate::MAX_CLIENT_BACKUP_BODY).await?;
    let upload = validate::client_backup_upload(&body)?;
    let notify_portal = upload.notifies_portal();
    let version = StoredVersion {
        backup_id: new_backup_id()?,
        size: upload.cipher_text.len() as u64,
        backup_share_pair_ids: upload.backup_share_pair_ids,
        created_at: now_iso(),
        portal_notified: false,
        confirmed: false,
    };
    let store = Message::ClientStore {
        method: method.to_owned(),
        version: version.clone(),
        cipher_text: upload.cipher_text,
        rekey_of: upload.rekey_of,
    };
    // The version as the object stored it (a re-key may count as told to
    // Portal); an object from before answered nothing.
    let stored = directory.call(store).await?;
    let mut current = if stored.is_empty() {
        version
    } else {
        decode::<StoredVersion>(&stored)?
    };
    // Stored first, then Portal told: a failure here leaves the share stored
    // and `portalNotified: false`, and the client retries with /notify.
    if notify_portal && !current.portal_notified {
        current = tell_portal(directory, caller, config, method, current).await;
    }
    json(201, &current.stored(&caller.client_id, method))
}
