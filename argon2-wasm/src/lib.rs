//! Argon2id for the npm package's PASSWORD envelopes, as a wasm module of its
//! own: the package imports it (`argon2id.js`, the module's bytes and a few
//! lines of JS) the first time a password needs a key, so a page that never
//! uses a password never loads it. It must give exactly what
//! `portal_backup::envelope::derive_password_key` gives: Argon2id, version
//! 0x13, the envelope's costs, a 16-byte salt, a 32-byte key (the tests
//! below hold it to that natively; tests/browser_webcrypto.rs in Chromium).
//!
//! The surface is three exports and no wasm-bindgen: `memory`,
//! `alloc(len) -> ptr` and `derive(...) -> status`. The caller writes the
//! password and salt into memory, derives, reads the key and zeroes the
//! memory; `derive` zeroes the password itself. Each derivation runs in a
//! fresh instance, which the caller drops after.
//!
//! Built by `argon2-wasm/build` (release, the workspace's profile, then
//! binaryen's `wasm-opt -Oz`) into `argon2-wasm/argon2id.js`.
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroize;

/// The envelope's salt and key lengths (`envelope::SALT_LEN`, `KEY_LEN`).
pub const SALT_LEN: usize = 16;
pub const KEY_LEN: usize = 32;

/// Argon2id v0x13 of `password` into `out`; the password is zeroed after,
/// whatever the outcome. `Err` when Argon2 refuses the costs or the
/// password (the caller has checked the envelope's own bounds before).
pub fn derive_key(
    password: &mut [u8],
    salt: &[u8; SALT_LEN],
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
    out: &mut [u8; KEY_LEN],
) -> Result<(), argon2::Error> {
    let derived = Params::new(m_cost, t_cost, p_cost, Some(KEY_LEN))
        .and_then(|params| Argon2::new(Algorithm::Argon2id, Version::V0x13, params).hash_password_into(password, salt, out));
    password.zeroize();
    derived
}

/// `len` bytes (at least one) for the caller to write into.
#[cfg(target_arch = "wasm32")]
#[unsafe(export_name = "alloc")]
pub extern "C" fn allocate(len: usize) -> *mut u8 {
    match core::alloc::Layout::from_size_align(len.max(1), 1) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { alloc::alloc::alloc(layout) },
        Err(_) => core::ptr::null_mut(),
    }
}

/// `derive_key` over memory the caller wrote: the password
/// (`password_len` bytes, zeroed after), the salt (16 bytes), the key
/// (32 bytes written to `out`). 0 when derived, 1 when Argon2 refused.
///
/// # Safety
/// The three ranges must be inside memory and must not overlap.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn derive(
    password: *mut u8,
    password_len: usize,
    salt: *const u8,
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
    out: *mut u8,
) -> i32 {
    // SAFETY: the caller's contract above.
    let (password, salt, out) = unsafe {
        (
            core::slice::from_raw_parts_mut(password, password_len),
            &*salt.cast::<[u8; SALT_LEN]>(),
            &mut *out.cast::<[u8; KEY_LEN]>(),
        )
    };
    derive_key(password, salt, m_cost, t_cost, p_cost, out).map_or(1, |()| 0)
}

/// No std in the module: a panic traps (the caller's promise rejects),
/// talc allocates, as in the package's own wasm (src/lib.rs `runtime`).
#[cfg(target_arch = "wasm32")]
mod runtime {
    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo) -> ! {
        core::arch::wasm32::unreachable()
    }

    #[global_allocator]
    static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_backup::envelope::{self, PasswordParams};

    fn key(password: &str, salt: &[u8; SALT_LEN], params: &PasswordParams) -> [u8; KEY_LEN] {
        let mut password = password.as_bytes().to_vec();
        let mut out = [0; KEY_LEN];
        derive_key(&mut password, salt, params.m_cost, params.t_cost, u32::from(params.p_cost), &mut out).unwrap();
        assert!(password.iter().all(|&b| b == 0), "the password is zeroed after");
        out
    }

    #[test]
    fn equals_the_envelopes_derivation() {
        assert_eq!(SALT_LEN, envelope::SALT_LEN);
        assert_eq!(KEY_LEN, envelope::KEY_LEN);
        let cases = [
            ("correct horse battery staple", [7; SALT_LEN], PasswordParams { m_cost: 64, t_cost: 1, p_cost: 1 }),
            ("", [0; SALT_LEN], PasswordParams { m_cost: 8, t_cost: 2, p_cost: 1 }),
            ("pässwörd 🔑", [0xa5; SALT_LEN], PasswordParams { m_cost: 256, t_cost: 3, p_cost: 2 }),
            ("x", [1; SALT_LEN], PasswordParams { m_cost: 1024, t_cost: 1, p_cost: 4 }),
        ];
        for (password, salt, params) in cases {
            let native = envelope::derive_password_key(password, &params, &salt).unwrap();
            assert_eq!(&key(password, &salt, &params), native.as_bytes(), "{password:?} {params:?}");
        }
    }

    #[test]
    fn equals_the_envelopes_derivation_at_the_default_costs() {
        let params = PasswordParams::DEFAULT;
        let native = envelope::derive_password_key("correct horse battery staple", &params, &[7; SALT_LEN]).unwrap();
        assert_eq!(&key("correct horse battery staple", &[7; SALT_LEN], &params), native.as_bytes());
    }

    #[test]
    fn refuses_costs_argon2_refuses_and_still_zeroes_the_password() {
        let mut password = b"secret".to_vec();
        let mut out = [0; KEY_LEN];
        assert!(derive_key(&mut password, &[0; SALT_LEN], 7, 1, 1, &mut out).is_err());
        assert_eq!(password, [0; 6]);
        assert_eq!(out, [0; KEY_LEN]);
    }
}
