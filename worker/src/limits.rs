//! Abuse limits, on Cloudflare's Rate Limiting binding (`[[ratelimits]]` in
//! wrangler.toml; counts are per Cloudflare location and approximate).
//!
//! - `WEBHOOK_AUTH_FAILURES`, keyed by the caller's address
//!   (`CF-Connecting-IP`): every failed webhook authentication counts. Once
//!   an address is over the limit, this isolate refuses *every* webhook call
//!   from it for the rest of the period, right secret or not, so a guesser
//!   cannot tell a right guess by its answer. Only failures from an address
//!   count against it: Portal's deliveries are refused only when Portal's
//!   own addresses sent the failures (a stale secret in Portal's dashboard).
//! - `CLIENT_WRITES`, keyed by the clientId Portal vouched for: PUT, DELETE,
//!   confirm and notify. Reads are not limited.
//!
//! Over a limit: 429 `RATE_LIMITED` with `Retry-After`.

use std::collections::HashMap;

use crate::error::Error;

pub const WEBHOOK_AUTH_FAILURES: &str = "WEBHOOK_AUTH_FAILURES";
pub const CLIENT_WRITES: &str = "CLIENT_WRITES";

/// Both bindings count over 60 s (wrangler.toml); `Retry-After` says so.
pub const PERIOD_SECONDS: u32 = 60;

/// Addresses this isolate saw pass the failure limit, and until when.
/// Bounded: an attacker rotating addresses cannot grow it without end.
#[derive(Debug, Default)]
pub struct Blocklist {
    until_ms: HashMap<String, f64>,
}

const BLOCKLIST_MAX: usize = 4096;

impl Blocklist {
    pub fn is_blocked(&self, address: &str, now_ms: f64) -> bool {
        self.until_ms
            .get(address)
            .is_some_and(|&until| now_ms < until)
    }

    pub fn block(&mut self, address: &str, now_ms: f64) {
        if self.until_ms.len() >= BLOCKLIST_MAX {
            self.until_ms.retain(|_, until| now_ms < *until);
            if self.until_ms.len() >= BLOCKLIST_MAX {
                // Still full of live entries: forget the oldest half rather
                // than grow; the binding still counts those addresses.
                let mut ends: Vec<f64> = self.until_ms.values().copied().collect();
                ends.sort_unstable_by(f64::total_cmp);
                let cut = ends[ends.len() / 2];
                self.until_ms.retain(|_, until| *until > cut);
            }
        }
        self.until_ms.insert(
            address.to_owned(),
            now_ms + f64::from(PERIOD_SECONDS) * 1000.0,
        );
    }
}

pub fn rate_limited() -> Error {
    Error::RateLimited {
        retry_after: PERIOD_SECONDS,
    }
}

#[cfg(target_arch = "wasm32")]
pub use glue::*;

#[cfg(target_arch = "wasm32")]
mod glue {
    use std::cell::RefCell;

    use js_sys::futures::JsFuture;
    use js_sys::{Object, Reflect};
    use worker::Env;
    use worker::wasm_bindgen::{JsCast, JsValue};
    use worker::worker_sys::RateLimiter as RateLimiterSys;

    use super::{Blocklist, CLIENT_WRITES, WEBHOOK_AUTH_FAILURES, rate_limited};
    use crate::config::now_ms;
    use crate::error::{Error, Result};
    use crate::http::{Request, header};

    thread_local! {
        static BLOCKED: RefCell<Blocklist> = RefCell::new(Blocklist::default());
    }

    /// One more request under `binding`'s limit for `key`?
    ///
    /// The binding's `limit({key})` is called directly: `worker::RateLimiter`
    /// converts its argument and outcome with serde-wasm-bindgen, whose
    /// generic (de)serializer is kilobytes of wasm for a `{success: bool}`.
    async fn within(env: &Env, binding: &'static str, key: &str) -> Result<bool> {
        let limiter = env
            .rate_limiter(binding)
            .map_err(|_| Error::Misconfigured("a Rate Limiting binding is missing"))?;
        let limiter: &RateLimiterSys = limiter.as_ref().unchecked_ref();
        let options = Object::new();
        Reflect::set(&options, &JsValue::from_str("key"), &JsValue::from_str(key))
            .map_err(|_| Error::Internal("rate limiter"))?;
        let promise = limiter
            .limit(options)
            .map_err(|_| Error::Internal("rate limiter"))?;
        let outcome = JsFuture::from(promise)
            .await
            .map_err(|_| Error::Internal("rate limiter"))?;
        Reflect::get(&outcome, &JsValue::from_str("success"))
            .ok()
            .and_then(|success| success.as_bool())
            .ok_or(Error::Internal("rate limiter"))
    }

    /// The caller's address as Cloudflare saw it (absent locally).
    pub fn caller_address(req: &Request) -> String {
        header(req, "CF-Connecting-IP").unwrap_or_else(|| "unknown".into())
    }

    /// Before a webhook's secret is checked: an address over its failure
    /// limit gets nothing else.
    pub fn webhook_caller_allowed(address: &str) -> Result<()> {
        if BLOCKED.with(|b| b.borrow().is_blocked(address, now_ms())) {
            Err(rate_limited())
        } else {
            Ok(())
        }
    }

    /// A failed webhook authentication: counted, and 429 once over the limit.
    pub async fn webhook_auth_failed(env: &Env, address: &str, failure: Error) -> Error {
        match within(env, WEBHOOK_AUTH_FAILURES, address).await {
            Ok(true) => failure,
            Ok(false) => {
                BLOCKED.with(|b| b.borrow_mut().block(address, now_ms()));
                rate_limited()
            }
            Err(error) => error,
        }
    }

    /// A client write by `client_id` (after Portal vouched for it).
    pub async fn client_write(env: &Env, client_id: &str) -> Result<()> {
        if within(env, CLIENT_WRITES, client_id).await? {
            Ok(())
        } else {
            Err(rate_limited())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_address_stays_blocked_for_the_period_only() {
        let mut blocklist = Blocklist::default();
        assert!(!blocklist.is_blocked("203.0.113.7", 0.0));
        blocklist.block("203.0.113.7", 1_000.0);
        assert!(blocklist.is_blocked("203.0.113.7", 1_000.0));
        assert!(blocklist.is_blocked("203.0.113.7", 60_999.0));
        assert!(!blocklist.is_blocked("203.0.113.7", 61_000.0));
        // Someone else's failures never block Portal's address.
        assert!(!blocklist.is_blocked("35.203.150.117", 1_000.0));
    }

    #[test]
    fn the_blocklist_stays_bounded_and_keeps_the_newest_blocks() {
        let mut blocklist = Blocklist::default();
        for n in 0..BLOCKLIST_MAX + 10 {
            blocklist.block(&format!("a{n}"), n as f64);
        }
        assert!(blocklist.until_ms.len() <= BLOCKLIST_MAX);
        let newest = format!("a{}", BLOCKLIST_MAX + 9);
        assert!(blocklist.is_blocked(&newest, (BLOCKLIST_MAX + 9) as f64));
    }

    /// Full of live blocks: the oldest half is forgotten, the newest half
    /// and the new block stay.
    #[test]
    fn a_full_blocklist_forgets_its_oldest_half() {
        let mut blocklist = Blocklist::default();
        for n in 0..BLOCKLIST_MAX {
            blocklist.block(&format!("a{n}"), n as f64);
        }
        let now = BLOCKLIST_MAX as f64;
        blocklist.block("new", now);
        assert_eq!(blocklist.until_ms.len(), BLOCKLIST_MAX / 2);
        assert!(blocklist.is_blocked("new", now));
        for n in [0, BLOCKLIST_MAX / 2 - 1, BLOCKLIST_MAX / 2] {
            assert!(!blocklist.is_blocked(&format!("a{n}"), now), "a{n} is in the oldest half");
        }
        for n in [BLOCKLIST_MAX / 2 + 1, BLOCKLIST_MAX - 1] {
            assert!(blocklist.is_blocked(&format!("a{n}"), now), "a{n} is in the newest half");
        }
    }

    /// Full with some blocks over (one ending right now): only those go,
    /// and every live block stays.
    #[test]
    fn a_full_blocklist_drops_the_blocks_that_are_over_first() {
        let period_ms = f64::from(PERIOD_SECONDS) * 1000.0;
        let mut blocklist = Blocklist::default();
        // One block that ends exactly at `now`, the others live.
        blocklist.block("over", 0.0);
        for n in 1..BLOCKLIST_MAX {
            blocklist.block(&format!("a{n}"), n as f64);
        }
        let now = period_ms;
        blocklist.block("new", now);
        assert_eq!(blocklist.until_ms.len(), BLOCKLIST_MAX);
        assert!(!blocklist.until_ms.contains_key("over"));
        assert!(blocklist.is_blocked("new", now));
        for n in [1, BLOCKLIST_MAX - 1] {
            assert!(blocklist.is_blocked(&format!("a{n}"), now), "a{n} is still live");
        }
    }
}
