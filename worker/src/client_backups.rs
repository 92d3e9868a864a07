//! Client backup storage for the browser module: the sealed client backup
//! share per backup method, with the current/previous version scheme of
//! `store::client`, and Portal told `STORED_CLIENT_BACKUP_SHARE` after each
//! store.

use base64ct::{Base64UrlUnpadded, Encoding};
use futures_util::future::{join, join_all};
use portal_backup::wire::{ClientBackupList, CustodianBackupList, StoredClientBackup};
use worker::{Method, Response};

use crate::entry::{Config, now_ms, shares};
use crate::error::{Error, Result};
use crate::http::{Request, Target, empty, header, json, read_body};
use crate::custodian_directory;
use crate::limits;
use crate::portal::{self, bearer_token};
use crate::store;
use crate::store::client::{ClientBackupRecord, StoredVersion};
use crate::store::kv::{self, Kv};
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
    let kv = shares(env)?;
    match (target, verb, method) {
        (Target::ClientBackupList, Method::Get, _) => list(&kv, &caller).await,
        (Target::CustodianBackupList, Method::Get, _) => custodian_list(env, &caller).await,
        (Target::ClientBackup(_), Method::Get, Some(method)) => get(&kv, &caller, method).await,
        (Target::ClientBackup(_), Method::Put, Some(method)) => {
            put(req, &kv, &caller, config, method).await
        }
        (Target::ClientBackup(_), Method::Delete, Some(method)) => {
            delete(&kv, &caller, method).await
        }
        (Target::ClientBackupConfirm(_), Method::Post, Some(method)) => {
            confirm(req, &kv, &caller, method).await
        }
        (Target::ClientBackupNotify(_), Method::Post, Some(method)) => {
            notify(&kv, &caller, config, method).await
        }
        _ => Err(Error::MethodNotAllowed {
            allow: target.allow(),
        }),
    }
}

/// The record with the `client-notified` marker applied.
async fn load(kv: &Kv, client_id: &str, method: &str) -> Result<Option<ClientBackupRecord>> {
    let (record, notified) = join(
        kv::get_json::<ClientBackupRecord>(kv, &store::client_backup_key(client_id, method)),
        kv::get_text(kv, &store::client_notified_key(client_id, method)),
    )
    .await;
    let (record, notified) = (record?, notified?);
    Ok(record.map(|mut record| {
        record.fold_notified(notified.as_deref());
        record
    }))
}

fn stored(caller: &Caller, method: &str, version: &StoredVersion) -> StoredClientBackup {
    StoredClientBackup {
        client_id: caller.client_id.clone(),
        backup: version.summary(method),
    }
}

/// Tells Portal and, when it accepted, records that in the marker key.
async fn tell_portal(
    kv: &Kv,
    caller: &Caller,
    config: &Config,
    method: &str,
    version: &StoredVersion,
) -> bool {
    if !config.notify_portal
        || !portal::report_stored(
            &config.portal_api_base,
            &caller.token,
            &version.backup_share_pair_ids,
        )
        .await
    {
        return false;
    }
    let marker = store::client_notified_key(&caller.client_id, method);
    kv::put_text(kv, &marker, &version.backup_id).await.is_ok()
}

fn new_backup_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| Error::Internal("randomness unavailable"))?;
    Ok(Base64UrlUnpadded::encode_string(&bytes))
}

async fn put(
    req: &Request,
    kv: &Kv,
    caller: &Caller,
    config: &Config,
    method: &str,
) -> Result<Response> {
    validate::json_content_type(header(req, "Content-Type").as_deref(), true)?;
    let body = read_body(req, validate::MAX_CLIENT_BACKUP_BODY).await?;
    let upload = validate::client_backup_upload(&body)?;
    let existing = load(kv, &caller.client_id, method).await?;
    let version = StoredVersion {
        backup_id: new_backup_id()?,
        cipher_text: upload.cipher_text,
        backup_share_pair_ids: upload.backup_share_pair_ids,
        created_at: String::from(js_sys::Date::new_0().to_iso_string()),
        portal_notified: false,
        confirmed: false,
    };
    let notify_now = upload.notify_portal;
    let record = ClientBackupRecord::store(existing, version);
    kv::put_json(
        kv,
        &store::client_backup_key(&caller.client_id, method),
        &record,
    )
    .await?;
    let mut current = record.current;
    // Stored first, then Portal told: a failure here leaves the share stored
    // and `portalNotified: false`, and the client retries with /notify.
    current.portal_notified = notify_now && tell_portal(kv, caller, config, method, &current).await;
    json(201, &stored(caller, method, &current))
}

async fn get(kv: &Kv, caller: &Caller, method: &str) -> Result<Response> {
    let record = load(kv, &caller.client_id, method)
        .await?
        .ok_or(Error::NotFound)?;
    json(200, &record.versions(&caller.client_id, method))
}

/// One `get` per supported method, all at once: the set is closed, so no
/// index and no `list()` (which may lag a write by a minute).
async fn list(kv: &Kv, caller: &Caller) -> Result<Response> {
    let methods = validate::CLIENT_BACKUP_METHODS;
    let records = join_all(
        methods
            .iter()
            .map(|method| load(kv, &caller.client_id, method)),
    )
    .await;
    let mut backups = Vec::new();
    for (method, record) in methods.iter().zip(records) {
        if let Some(record) = record? {
            backups.push(record.current.summary(method));
        }
    }
    json(
        200,
        &ClientBackupList {
            client_id: caller.client_id.clone(),
            backups,
        },
    )
}

/// The caller's custodian methods and when Portal delivered each, from the
/// client's directory (the Durable Object that orders deliveries): no KV
/// read, no share, nothing about any other client.
async fn custodian_list(env: &worker::Env, caller: &Caller) -> Result<Response> {
    let backups = custodian_directory::methods(env, &caller.client_id).await?;
    json(
        200,
        &CustodianBackupList {
            client_id: caller.client_id.clone(),
            backups,
        },
    )
}

async fn delete(kv: &Kv, caller: &Caller, method: &str) -> Result<Response> {
    let key = store::client_backup_key(&caller.client_id, method);
    if kv::get_text(kv, &key).await?.is_none() {
        return Err(Error::NotFound);
    }
    let marker = store::client_notified_key(&caller.client_id, method);
    let (record, marker) = join(kv::delete(kv, &key), kv::delete(kv, &marker)).await;
    record?;
    marker?;
    empty(204)
}

async fn confirm(req: &Request, kv: &Kv, caller: &Caller, method: &str) -> Result<Response> {
    validate::json_content_type(header(req, "Content-Type").as_deref(), true)?;
    let body = read_body(req, validate::MAX_WEBHOOK_BODY).await?;
    let backup_id = validate::confirm(&body)?;
    let mut record = load(kv, &caller.client_id, method)
        .await?
        .ok_or(Error::NotFound)?;
    if record.confirm(&backup_id)? {
        kv::put_json(
            kv,
            &store::client_backup_key(&caller.client_id, method),
            &record,
        )
        .await?;
    }
    json(200, &stored(caller, method, &record.current))
}

async fn notify(kv: &Kv, caller: &Caller, config: &Config, method: &str) -> Result<Response> {
    let mut record = load(kv, &caller.client_id, method)
        .await?
        .ok_or(Error::NotFound)?;
    if !record.current.portal_notified {
        record.current.portal_notified =
            tell_portal(kv, caller, config, method, &record.current).await;
    }
    json(200, &stored(caller, method, &record.current))
}
