//! portal-backup: back up and recover a Portal MPC wallet from a web wallet.
//!
//! The data's path: the browser seals the client backup share
//! ([`envelope`]), keeps the key in the user's Google Drive or behind a
//! password, and sends the ciphertext to the app's Worker ([`wire`] holds
//! the JSON both sides speak). The core here is plain Rust that `cargo test`
//! runs natively; the `browser` feature adds the wasm-bindgen face.
#![cfg_attr(not(test), no_std)]

extern crate alloc;
// Every build but the npm package's wasm links std, for its panic handler
// and allocator; the package brings its own (`runtime` below).
#[cfg(not(any(test, feature = "npm-package")))]
extern crate std;

mod base64url;
pub mod drive;
pub mod envelope;
pub mod error;
pub mod flow;
pub mod icloud;
pub mod retry;
pub mod wire;

#[cfg(feature = "browser")]
pub mod browser;

pub use error::{Error, ErrorCode, Result};

/// The npm package's wasm runs without std: a panic traps instead of
/// formatting a message nobody reads, and talc replaces dlmalloc.
#[cfg(all(feature = "npm-package", not(test)))]
mod runtime {
    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo) -> ! {
        core::arch::wasm32::unreachable()
    }

    #[global_allocator]
    static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
}
