//! Prints every error code the Worker can answer with ([`ErrorCode::ALL`])
//! as a JSON array, for tests/worker/error-codes.test.mjs, which checks it
//! against the `code` enums of docs/openapi.yaml.
//!
//! `cargo run -q -p portal-backup-worker --example error_codes`

use portal_backup_worker::error::ErrorCode;

fn main() {
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
    println!(
        "{}",
        serde_json::to_string(&codes).expect("a list of strings")
    );
}
