//! What every handler reads from the runtime: the vars of `wrangler.toml`
//! ([`Config`]), the KV binding ([`shares`]) and the clock ([`now_ms`]).
//! Below the handlers and the entry point, so neither imports the other.

#[cfg(feature = "object")]
use {crate::error::Result, crate::store::kv::Kv, worker::Env};

#[cfg(feature = "edge")]
pub use vars::Config;

/// Only the edge Worker reads vars; the object's script has none.
#[cfg(feature = "edge")]
mod vars {
    use std::cell::RefCell;
    use std::rc::Rc;

    use worker::Env;

    use crate::http::AllowedOrigins;

    /// The vars of `wrangler.toml`. Secrets are read where they are used.
    pub struct Config {
        pub webhooks_root: String,
        pub portal_api_base: String,
        pub allowed_origins: AllowedOrigins,
        pub notify_portal: bool,
    }

    thread_local! {
        static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
    }

    impl Config {
        /// Read once per isolate: vars are fixed for a deployment, and a new
        /// deployment (new vars) runs in new isolates.
        pub fn cached(env: &Env) -> Rc<Self> {
            CONFIG.with(|cache| {
                Rc::clone(
                    cache
                        .borrow_mut()
                        .get_or_insert_with(|| Rc::new(Config::from_env(env))),
                )
            })
        }

        fn from_env(env: &Env) -> Self {
            let var = |name: &str| env.var(name).map(|v| v.to_string()).ok();
            Config {
                webhooks_root: var("WEBHOOKS_ROOT").unwrap_or_else(|| "webhooks".into()),
                portal_api_base: var("PORTAL_API_BASE")
                    .unwrap_or_else(|| "https://api.portalhq.io".into()),
                allowed_origins: AllowedOrigins::parse(&var("ALLOWED_ORIGINS").unwrap_or_default()),
                notify_portal: var("NOTIFY_PORTAL")
                    .is_none_or(|v| !v.trim().eq_ignore_ascii_case("false")),
            }
        }
    }
}

/// The KV namespace of sealed shares (only the client's object touches KV) and envelopes (binding `SHARES`).
#[cfg(feature = "object")]
pub fn shares(env: &Env) -> Result<Kv> {
    Kv::binding(env, "SHARES")
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// The current time as ISO 8601, as records keep it.
pub fn now_iso() -> String {
    String::from(js_sys::Date::new_0().to_iso_string())
}
