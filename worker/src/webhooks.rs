//! Portal's custodian backup webhooks: `POST /{root}/backup` stores the
//! custodian share sealed at rest, `POST /{root}/backup/fetch` gives every
//! stored method's share back exactly as Portal sent it.

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::future::{join, join_all};
use portal_backup::wire::CustodianFetchResponse;
use worker::{Env, Request, Response};
use zeroize::Zeroizing;

use crate::entry::{Config, shares};
use crate::error::{Error, Result};
use crate::http::{header, json, read_body, webhook_secret_matches};
use crate::store::at_rest::{Keyring, SealedShare};
use crate::store::{self, kv};
use crate::validate;

thread_local! {
    /// The parsed `SHARE_ENCRYPTION_KEYS`, with the text it was parsed from:
    /// parsed once per isolate, again only if the secret's value differs.
    static KEYRING: RefCell<Option<(Zeroizing<String>, Rc<Keyring>)>> = const { RefCell::new(None) };
}

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

fn keyring(env: &Env) -> Result<Rc<Keyring>> {
    let secret = Zeroizing::new(
        env.secret("SHARE_ENCRYPTION_KEYS")
            .map_err(|_| Error::Misconfigured("SHARE_ENCRYPTION_KEYS is not set"))?
            .to_string(),
    );
    KEYRING.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((text, keyring)) = cache.as_ref()
            && *text == secret
        {
            return Ok(Rc::clone(keyring));
        }
        let keyring = Rc::new(Keyring::parse(&secret)?);
        *cache = Some((secret, Rc::clone(&keyring)));
        Ok(keyring)
    })
}

/// Both webhooks' body, read only once the secret matched: an unauthenticated
/// caller never gets its body parsed or its size checked.
async fn authenticated_body(req: &mut Request, env: &Env) -> Result<Vec<u8>> {
    check_secret(req, env)?;
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
    let body = authenticated_body(req, env).await?;
    let backup = validate::custodian_backup(&body)?;
    let keyring = keyring(env)?;
    let sealed = keyring.seal(
        &backup.client_id,
        &backup.backup_method,
        &backup.custodian_share,
    )?;
    let kv = shares(env)?;
    let index_key = store::custodian_index_key(&backup.client_id);
    let prefix = store::custodian_prefix(&backup.client_id);
    let index = kv::index(&kv, &index_key, &prefix).await?;
    // Record and index are written together; either failing is a 503, so
    // Portal retries and the index never misses a stored share.
    let (stored, indexed) = join(
        kv::put_json(
            &kv,
            &store::custodian_key(&backup.client_id, &backup.backup_method),
            &sealed,
        ),
        kv::remember_method(&kv, &index, &index_key, &prefix, &backup.backup_method),
    )
    .await;
    stored?;
    indexed?;
    #[derive(serde::Serialize)]
    struct Stored {
        stored: bool,
    }
    json(200, &Stored { stored: true })
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
    let body = authenticated_body(req, env).await?;
    let client_id = validate::custodian_fetch(&body)?;
    let keyring = keyring(env)?;
    let kv = shares(env)?;
    let prefix = store::custodian_prefix(&client_id);
    let methods = kv::methods(&kv, &store::custodian_index_key(&client_id), &prefix).await?;
    let kv = &kv;
    let records = join_all(methods.iter().map(|method| {
        let key = store::custodian_key(&client_id, method);
        async move { kv::get_json::<SealedShare>(kv, &key).await }
    }))
    .await;
    let mut backup_shares = Vec::new();
    for (method, record) in methods.iter().zip(records) {
        // An index entry whose record is gone (or not yet visible) is skipped.
        if let Some(sealed) = record? {
            backup_shares.push(keyring.open(&client_id, method, &sealed)?.to_string());
        }
    }
    json(200, &CustodianFetchResponse { backup_shares })
}
