//! portal-backup: back up and recover a Portal MPC wallet from a web wallet.
//!
//! The data's path: the browser seals the client backup share
//! ([`envelope`]), keeps the key in the user's Google Drive or behind a
//! password, and sends the ciphertext to the app's Worker ([`wire`] holds
//! the JSON both sides speak). The core here is plain Rust that `cargo test`
//! runs natively; the `browser` feature adds the wasm-bindgen face.

mod base64url;
pub mod drive;
pub mod envelope;
pub mod error;
pub mod flow;
pub mod retry;
pub mod wire;

#[cfg(feature = "browser")]
pub mod browser;

pub use error::{Error, Result};
