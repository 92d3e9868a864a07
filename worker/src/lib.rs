//! The app's server for portal-backup, a Cloudflare Worker: the browser's
//! client backup storage and Portal's custodian backup webhooks.
//!
//! The data's path: the browser PUTs a sealed client backup share to
//! [`client_backups`] (the caller checked with Portal, [`portal`]); Portal
//! POSTs its custodian share to [`webhooks`], which seals it
//! ([`store::at_rest`]). Both end in [`store`]: write-once KV blobs, named
//! by the client's Durable Object, which holds everything that changes.
//!
//! Layers, each importing only those above it:
//! 1. [`error`], [`validate`], [`http`] (routes, CORS, the secret check,
//!    the log line), [`limits`], [`portal`]: plain Rust, `cargo test` runs
//!    them natively (their workers-rs glue is wasm32-only);
//! 2. `config`: the vars, the KV binding, the clock;
//! 3. [`store`]: the records ([`store::client`], [`store::custodian`],
//!    [`store::trash`]), KV access, the object's messages and the object;
//! 4. `client_backups` and `webhooks`, the handlers;
//! 5. `entry`, the fetch entry point: route, dispatch, CORS, one log line.
//!
//! Built as two Worker scripts: the edge Worker (feature `edge`: layers 1
//! to 5 without the object) and the client's Durable Object (feature
//! `object`: layers 1 to 3 with `store::directory`), so each bundle carries
//! only its own code; the edge Worker reaches the object through its
//! binding (`script_name` in wrangler.toml).

pub mod error;
pub mod http;
pub mod limits;
pub mod portal;
pub mod store;
pub mod validate;

// The edge Worker's script (feature `edge`) and the Durable Object's
// (feature `object`, `store::directory`) are built apart: see Cargo.toml.
#[cfg(all(target_arch = "wasm32", feature = "edge"))]
mod client_backups;
#[cfg(target_arch = "wasm32")]
mod config;
#[cfg(all(target_arch = "wasm32", feature = "edge"))]
mod entry;
#[cfg(all(target_arch = "wasm32", feature = "edge"))]
mod webhooks;

pub use error::{Error, Result};
