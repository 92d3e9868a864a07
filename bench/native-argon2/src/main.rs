//! Times `derive_password_key` at `PasswordParams::DEFAULT`, natively.
//! Prints one JSON line: {"params": {...}, "runs_ms": [...]}.

use std::time::Instant;

use portal_backup::envelope::{PasswordParams, derive_password_key};

fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(7);
    let params = PasswordParams::DEFAULT;
    let salt = [7u8; 16];
    let mut runs_ms = Vec::with_capacity(runs + 1);
    for _ in 0..=runs {
        let start = Instant::now();
        let key = derive_password_key("correct horse battery staple", &params, &salt).expect("derive");
        runs_ms.push(start.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(key);
    }
    let first_ms = runs_ms.remove(0);
    println!(
        "{{\"params\":{{\"m_kib\":{},\"t\":{},\"p\":{}}},\"first_ms\":{first_ms:.3},\"runs_ms\":{runs_ms:?},\"key_hex\":\"{}\"}}",
        params.m_cost,
        params.t_cost,
        params.p_cost,
        derive_password_key("correct horse battery staple", &params, &salt)
            .unwrap()
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
}
