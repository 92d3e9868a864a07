//! A password's key, Argon2id, from a wasm module of its own (argon2-wasm/)
//! that the package loads the first time a password needs it: a page that
//! never uses the PASSWORD method never downloads its ~6 KB (gzip), and the
//! package's own wasm needs no Argon2 or BLAKE2b. It gives exactly what
//! `envelope::derive_password_key` gives natively (argon2-wasm's unit
//! tests and tests/browser_webcrypto.rs hold it to that).
//!
//! The module gets the password as bytes, copied out of this wasm's memory
//! before the first await; the JS copies and the module's memory are zeroed
//! after, and so is the JS copy of the key once it is read here.

use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use zeroize::Zeroizing;

use super::{js, platform};
use crate::envelope::{BackupKey, KEY_LEN, PasswordParams, SALT_LEN};
use crate::{Error, ErrorCode};

/// The AES key of a password envelope: Argon2id v0x13 of `password` with
/// `salt` at `params`' costs, as `envelope::derive_password_key`. The costs
/// are held to the envelope's bounds before anything loads.
pub async fn password_key(password: &str, params: &PasswordParams, salt: &[u8; SALT_LEN]) -> Result<BackupKey, Error> {
    params.check()?;
    let deriving = platform::argon2id(password.as_bytes(), salt, params.m_cost, params.t_cost, u32::from(params.p_cost));
    let answer = JsFuture::from(deriving).await.map_err(|error| {
        // A trap (out of memory for these costs) or a module that did not load.
        let message = js::string(&error, "message").unwrap_or_default();
        let code = if js::string(&error, "name").as_deref() == Some("RuntimeError") { ErrorCode::InvalidInput } else { ErrorCode::Network };
        Error::remote(code, &["password: Argon2id failed: ", &message].concat(), None)
    })?;
    // null: Argon2 refused the password (`derive_password_key` says the same).
    let bytes = answer.dyn_into::<Uint8Array>().map_err(|_| Error::InvalidInput("password too long"))?;
    let key = Zeroizing::new(bytes.to_vec());
    bytes.fill(0, 0, KEY_LEN as u32);
    Ok(BackupKey::from_bytes(key.as_slice().try_into().map_err(|_| Error::InvalidInput("password too long"))?))
}
