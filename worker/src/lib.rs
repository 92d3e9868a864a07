//! The app's server for portal-backup, a Cloudflare Worker on Workers KV.
//!
//! The data's path: Portal POSTs the custodian backup share to
//! [`webhooks`], which seals it ([`store::at_rest`]) and hands it to the
//! client's Durable Object (`custodian_directory`, [`store::custodian`]),
//! which writes it to KV and names it; the browser
//! PUTs the sealed client backup share to [`client_backups`], which checks
//! the caller with Portal ([`portal`]) and keeps versions
//! ([`store::client`]). [`http`] holds routing, CORS, the webhook secret
//! check and logging; [`validate`] every input check; [`limits`] the abuse limits. Everything but the
//! workers-rs glue is plain Rust that `cargo test` runs natively.

pub mod error;
pub mod http;
pub mod limits;
pub mod portal;
pub mod store;
pub mod validate;

#[cfg(target_arch = "wasm32")]
mod client_backups;
#[cfg(target_arch = "wasm32")]
mod custodian_directory;
#[cfg(target_arch = "wasm32")]
mod entry;
#[cfg(target_arch = "wasm32")]
mod webhooks;

pub use error::{Error, Result};
