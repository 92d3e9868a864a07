//! Portal's client API, as the Worker uses it: who a bearer token belongs
//! to (`GET /api/v3/clients/me`), and telling Portal a client backup share
//! is stored (`PATCH /api/v3/clients/me/backup-share-pairs`).
//!
//! Verified tokens are remembered for [`TOKEN_CACHE_TTL_MS`] in the
//! isolate's memory, keyed by the token's SHA-256: the token itself is never
//! kept. A token Portal revokes may therefore work for up to a minute more.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

pub const TOKEN_CACHE_TTL_MS: f64 = 60_000.0;
const TOKEN_CACHE_MAX_ENTRIES: usize = 1024;
/// Portal answers in well under a second; past this it counts as down.
pub const PORTAL_TIMEOUT_MS: u64 = 5_000;

pub type TokenDigest = [u8; 32];

pub fn token_digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// The bearer token from `Authorization: Bearer <token>`.
pub fn bearer_token(authorization: Option<&str>) -> Option<&str> {
    let value = authorization?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && !token.contains(char::is_whitespace))
    .then_some(token)
}

#[derive(Debug, Default)]
pub struct TokenCache {
    entries: HashMap<TokenDigest, (String, f64)>,
}

impl TokenCache {
    pub fn client_id(&self, digest: &TokenDigest, now_ms: f64) -> Option<&str> {
        match self.entries.get(digest) {
            Some((client_id, expires)) if *expires > now_ms => Some(client_id),
            _ => None,
        }
    }

    pub fn remember(&mut self, digest: TokenDigest, client_id: String, now_ms: f64) {
        if self.entries.len() >= TOKEN_CACHE_MAX_ENTRIES {
            self.entries.retain(|_, (_, expires)| *expires > now_ms);
            if self.entries.len() >= TOKEN_CACHE_MAX_ENTRIES {
                self.entries.clear();
            }
        }
        self.entries
            .insert(digest, (client_id, now_ms + TOKEN_CACHE_TTL_MS));
    }
}

/// Joins the var `PORTAL_API_BASE` and an API path.
pub fn portal_url(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

#[cfg(target_arch = "wasm32")]
pub use calls::*;

#[cfg(target_arch = "wasm32")]
mod calls {
    //! `fetch` is called directly through js-sys: workers-rs's `RequestInit`
    //! serialises its options with serde-wasm-bindgen and its timeout needs
    //! a `Delay` raced against the fetch, all of which cost bundle size; a
    //! plain init object with `AbortSignal.timeout()` does the same.

    use std::cell::RefCell;

    use js_sys::{Function, Object, Promise, Reflect};
    use portal_backup::wire::{BackupSharePairStatus, PortalClient, UpdateBackupSharePairs};
    use worker::wasm_bindgen::{JsCast, JsValue};

    use super::*;
    use crate::error::{Error, Result};

    thread_local! {
        static TOKENS: RefCell<TokenCache> = RefCell::new(TokenCache::default());
    }

    fn get(target: &JsValue, name: &str) -> JsValue {
        Reflect::get(target, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
    }

    fn set(target: &Object, name: &str, value: &JsValue) -> Result<()> {
        Reflect::set(target, &JsValue::from_str(name), value)
            .map(drop)
            .map_err(|_| Error::Internal("request init"))
    }

    fn global_function(owner: &JsValue, name: &str) -> Result<Function> {
        get(owner, name)
            .dyn_into()
            .map_err(|_| Error::Internal("runtime function missing"))
    }

    /// Portal's response (a JS `Response`), or `PortalUnavailable` when it
    /// did not answer within [`PORTAL_TIMEOUT_MS`].
    async fn send(url: &str, method: &str, token: &str, body: Option<String>) -> Result<JsValue> {
        let global: JsValue = js_sys::global().into();
        let headers = Object::new();
        set(&headers, "Authorization", &format!("Bearer {token}").into())?;
        set(&headers, "Accept", &"application/json".into())?;
        let init = Object::new();
        set(&init, "method", &method.into())?;
        if let Some(body) = body {
            set(&headers, "Content-Type", &"application/json".into())?;
            set(&init, "body", &body.into())?;
        }
        set(&init, "headers", &headers)?;
        let abort_signal = get(&global, "AbortSignal");
        let signal = global_function(&abort_signal, "timeout")?
            .call1(&abort_signal, &JsValue::from_f64(PORTAL_TIMEOUT_MS as f64))
            .map_err(|_| Error::Internal("AbortSignal.timeout"))?;
        set(&init, "signal", &signal)?;
        // `new Request` throws on a malformed URL: a configuration error,
        // not Portal being down.
        let request_class = global_function(&global, "Request")?;
        let request = Reflect::construct(&request_class, &js_sys::Array::of2(&url.into(), &init))
            .map_err(|_| Error::Misconfigured("PORTAL_API_BASE"))?;
        let sent: Promise = global_function(&global, "fetch")?
            .call1(&global, &request)
            .map_err(|_| Error::PortalUnavailable)?
            .unchecked_into();
        sent.await.map_err(|_| Error::PortalUnavailable)
    }

    fn status(response: &JsValue) -> u16 {
        get(response, "status").as_f64().unwrap_or(0.0) as u16
    }

    /// The clientId the token belongs to. Portal's 401/403: `Unauthenticated`;
    /// anything else that is not a usable 200: `PortalUnavailable`, never a pass.
    pub async fn client_id_for(api_base: &str, token: &str, now_ms: f64) -> Result<String> {
        let digest = token_digest(token);
        if let Some(client_id) =
            TOKENS.with(|t| t.borrow().client_id(&digest, now_ms).map(str::to_owned))
        {
            return Ok(client_id);
        }
        let url = portal_url(api_base, "/api/v3/clients/me");
        let response = send(&url, "GET", token, None).await?;
        match status(&response) {
            200 => {}
            401 | 403 => return Err(Error::Unauthenticated),
            _ => return Err(Error::PortalUnavailable),
        }
        let text: Promise = global_function(&response, "text")?
            .call0(&response)
            .map_err(|_| Error::PortalUnavailable)?
            .unchecked_into();
        let text = text
            .await
            .ok()
            .and_then(|t| t.as_string())
            .ok_or(Error::PortalUnavailable)?;
        let client: PortalClient =
            serde_json::from_slice(text.as_bytes()).map_err(|_| Error::PortalUnavailable)?;
        // The id becomes part of KV keys: held to the same charset as webhooks'.
        let client_id = crate::validate::client_id(&client.id)
            .map_err(|_| Error::PortalUnavailable)?
            .to_owned();
        TOKENS.with(|t| t.borrow_mut().remember(digest, client_id.clone(), now_ms));
        Ok(client_id)
    }

    /// Tells Portal the client backup share is stored. `false` when Portal
    /// did not accept it (the caller retries with `/notify`).
    pub async fn report_stored(
        api_base: &str,
        token: &str,
        backup_share_pair_ids: &[String],
    ) -> bool {
        let body = UpdateBackupSharePairs {
            status: BackupSharePairStatus::StoredClientBackupShare,
            backup_share_pair_ids: backup_share_pair_ids.to_vec(),
        };
        let Ok(body) = serde_json::to_string(&body) else {
            return false;
        };
        let url = portal_url(api_base, "/api/v3/clients/me/backup-share-pairs");
        matches!(send(&url, "PATCH", token, Some(body)).await, Ok(r) if (200..300).contains(&status(&r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_taken_only_from_the_bearer_scheme() {
        assert_eq!(bearer_token(Some("Bearer abc.def")), Some("abc.def"));
        assert_eq!(bearer_token(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(Some("Basic abc")), None);
        assert_eq!(bearer_token(Some("Bearer ")), None);
        assert_eq!(bearer_token(Some("Bearer a b")), None);
        assert_eq!(bearer_token(None), None);
    }

    #[test]
    fn cached_tokens_expire_and_are_keyed_by_digest() {
        let mut cache = TokenCache::default();
        let digest = token_digest("test-token-alice");
        cache.remember(digest, "client-alice".into(), 1_000.0);
        assert_eq!(
            cache.client_id(&digest, 1_000.0 + TOKEN_CACHE_TTL_MS - 1.0),
            Some("client-alice")
        );
        assert_eq!(cache.client_id(&digest, 1_000.0 + TOKEN_CACHE_TTL_MS), None);
        assert_eq!(
            cache.client_id(&token_digest("test-token-bob"), 1_000.0),
            None
        );
        assert!(!format!("{cache:?}").contains("test-token"));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let mut cache = TokenCache::default();
        for i in 0..(TOKEN_CACHE_MAX_ENTRIES + 10) {
            cache.remember(token_digest(&i.to_string()), "c".into(), 0.0);
        }
        assert!(cache.entries.len() <= TOKEN_CACHE_MAX_ENTRIES);
    }

    #[test]
    fn urls_join_without_double_slashes() {
        assert_eq!(
            portal_url("http://127.0.0.1:8790/", "/api/v3/clients/me"),
            "http://127.0.0.1:8790/api/v3/clients/me"
        );
    }
}
