//! Portal's custodian backup webhooks: `POST /{root}/backup` seals the
//! custodian share and hands it to the client's Durable Object ([`Directory`]),
//! `POST /{root}/backup/fetch` opens every stored method's share and gives
//! it back exactly as Portal sent it.

use std::cell::RefCell;
use std::rc::Rc;

use portal_backup::wire::{CustodianBackupStored, CustodianFetchResponse};
use worker::{Env, Response};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::{Request, header, json, read_body, webhook_secret_matches};
use crate::limits;
use crate::store::at_rest::Keyring;
use crate::store::object::{Directory, Message, StoredShares, decode};
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
/// caller never gets its body parsed or its size checked. An address over
/// its limit of failed authentications gets 429 before the secret is looked
/// at (see `limits`).
async fn authenticated_body(req: &Request, env: &Env) -> Result<Vec<u8>> {
    let address = limits::caller_address(req);
    limits::webhook_caller_allowed(&address)?;
    match check_secret(req, env) {
        Err(failure @ Error::BadWebhookSecret) => {
            return Err(limits::webhook_auth_failed(env, &address, failure).await);
        }
        checked => checked?,
    }
    validate::json_content_type(header(req, "Content-Type").as_deref(), false)?;
    read_body(req, validate::MAX_WEBHOOK_BODY).await
}

/// One share per (clientId, backupMethod): a new one replaces the old, and
/// the same delivery twice leaves the same share stored. 200 only once the
/// client's object names it, so the fetch Portal makes next finds it.
pub async fn store_custodian_share(req: &Request, env: &Env, _config: &Config) -> Result<Response> {
    let body = authenticated_body(req, env).await?;
    let backup = validate::custodian_backup(&body)?;
    let sealed = keyring(env)?.seal(&backup.client_id, &backup.backup_method, &backup.share)?;
    let commit = Message::CustodianCommit {
        method: backup.backup_method,
        sealed,
    };
    Directory::of(env, &backup.client_id)?.call(commit).await?;
    json(200, &CustodianBackupStored { stored: true })
}

/// Every stored method's share. Nothing stored is `200 []`, not 404: Portal
/// picks the share it needs from the list, and an empty list is the true
/// answer for a client that has no custodian backup here (a 404 would read
/// as a wrong webhook URL).
pub async fn fetch_custodian_shares(
    req: &Request,
    env: &Env,
    _config: &Config,
) -> Result<Response> {
    let body = authenticated_body(req, env).await?;
    let client_id = validate::custodian_fetch(&body)?.client_id;
    let keyring = keyring(env)?;
    let directory = Directory::of(env, &client_id)?;
    let answer = directory.call(Message::CustodianRead).await?;
    let stored = decode::<StoredShares>(&answer)?.shares;
    let mut backup_shares = Vec::with_capacity(stored.len());
    for share in &stored {
        backup_shares.push(
            keyring
                .open(&client_id, &share.backup_method, &share.sealed)?
                .to_string(),
        );
    }
    json(200, &CustodianFetchResponse { backup_shares })
}
