//! Portal's custodian backup webhooks: `POST /{root}/backup` stores the
//! custodian share sealed at rest, `POST /{root}/backup/fetch` gives every
//! stored method's share back exactly as Portal sent it.

use portal_backup::wire::CustodianFetchResponse;
use serde_json::json;
use worker::{Env, Request, Response};

use crate::entry::{Config, shares};
use crate::error::{Error, Result};
use crate::http::{header, json, read_body, webhook_secret_matches};
use crate::store::at_rest::{Keyring, SealedShare};
use crate::store::{self, kv};
use crate::validate;

/// Checked before the body is read: an unauthenticated caller gets nothing
/// parsed, and cannot learn which bodies would be valid.
fn check_secret(req: &Request, env: &Env) -> Result<()> {
    let configured = env
        .secret("WEBHOOK_SECRET")
        .map(|s| s.to_string())
        .unwrap_or_default();
    if configured.is_empty() {
        return Err(Error::Misconfigured("WEBHOOK_SECRET is not set"));
    }
    if webhook_secret_matches(header(req, "X-Webhook-Secret").as_deref(), &configured) {
        Ok(())
    } else {
        Err(Error::BadWebhookSecret)
    }
}

fn keyring(env: &Env) -> Result<Keyring> {
    let secret = env
        .secret("SHARE_ENCRYPTION_KEYS")
        .map_err(|_| Error::Misconfigured("SHARE_ENCRYPTION_KEYS is not set"))?;
    Keyring::parse(&secret.to_string())
}

async fn read_json_body(req: &mut Request) -> Result<Vec<u8>> {
    validate::json_content_type(header(req, "Content-Type").as_deref(), false)?;
    read_body(req, validate::MAX_WEBHOOK_BODY).await
}

/// One record per (clientId, backupMethod): a new share replaces the old,
/// and the same delivery twice leaves the same share stored.
pub async fn store_custodian_share(
    req: &mut Request,
    env: &Env,
    _config: &Config,
) -> Result<Response> {
    check_secret(req, env)?;
    let body = read_json_body(req).await?;
    let backup = validate::custodian_backup(&body)?;
    let keyring = keyring(env)?;
    let sealed = keyring.seal(
        &backup.client_id,
        &backup.backup_method,
        &backup.custodian_share,
    )?;
    let kv = shares(env)?;
    kv::put_json(
        &kv,
        &store::custodian_key(&backup.client_id, &backup.backup_method),
        &sealed,
    )
    .await?;
    kv::remember_method(
        &kv,
        &store::custodian_index_key(&backup.client_id),
        &backup.backup_method,
    )
    .await;
    json(200, &json!({"stored": true}))
}

/// Every stored method's share. Nothing stored is `200 []`, not 404: Portal
/// picks the share it needs from the list, and an empty list is the true
/// answer for a client that has no custodian backup here (a 404 would read
/// as a wrong webhook URL).
pub async fn fetch_custodian_shares(
    req: &mut Request,
    env: &Env,
    _config: &Config,
) -> Result<Response> {
    check_secret(req, env)?;
    let body = read_json_body(req).await?;
    let client_id = validate::custodian_fetch(&body)?;
    let keyring = keyring(env)?;
    let kv = shares(env)?;
    let prefix = store::custodian_prefix(&client_id);
    let mut backup_shares = Vec::new();
    for method in kv::methods(&kv, &store::custodian_index_key(&client_id), &prefix).await? {
        let key = store::custodian_key(&client_id, &method);
        // An index entry whose record is gone (or not yet visible) is skipped.
        if let Some(sealed) = kv::get_json::<SealedShare>(&kv, &key).await? {
            backup_shares.push(keyring.open(&client_id, &method, &sealed)?.to_string());
        }
    }
    json(200, &CustodianFetchResponse { backup_shares })
}
