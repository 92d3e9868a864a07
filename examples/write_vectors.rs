//! Writes tests/vectors/envelope-v1.json through the fixed-nonce path.
//! Run once per format version: `cargo run --example write_vectors`.
//! The tests then check, natively and in Chromium, that these bytes still
//! open and are reproduced exactly.

use portal_backup::envelope::{self, BackupKey, Context, KeyKind, PasswordParams};
use serde_json::{Value, json};

fn main() {
    let plaintext = include_str!("../tests/fixtures/client-backup-plaintext.json");
    let mut vectors = Vec::new();
    let random_cases: [(&str, [u8; 32], [u8; 12], &str, &str, &[u8]); 3] = [
        ("empty plaintext", [0x11; 32], [0x22; 12], "client-1", "GDRIVE", b""),
        ("short share", [0xa5; 32], [0x01; 12], "cm2clientdemo0000000000001", "GDRIVE", b"{\"SECP256K1\":{\"id\":\"p1\",\"share\":\"s\"}}"),
        ("two-curve client backup", core::array::from_fn(|i| i as u8), core::array::from_fn(|i| 0xf0 ^ i as u8), "cm2clientdemo0000000000001", "GDRIVE-SECP256K1", plaintext.as_bytes()),
    ];
    for (name, key, nonce, client_id, method, pt) in random_cases {
        let key = BackupKey::from_bytes(key);
        let ctx = Context::new(client_id, method).unwrap();
        let sealed = envelope::seal_with_nonce(&key, KeyKind::Random, &nonce, &ctx, pt).unwrap();
        vectors.push(json!({
            "name": name, "clientId": client_id, "backupMethod": method,
            "key": key.to_text().as_str(), "nonceHex": hex::encode(nonce),
            "plaintextHex": hex::encode(pt), "envelope": envelope::envelope_to_text(&sealed),
        }));
    }
    // Small costs keep the test fast; the format is the same at any cost.
    let params = PasswordParams { m_cost: 64, t_cost: 1, p_cost: 1 };
    let (salt, nonce) = ([0x5a; 16], [0x33; 12]);
    let ctx = Context::new("cm2clientdemo0000000000001", "PASSWORD").unwrap();
    let pt = b"{\"ED25519\":{\"id\":\"p2\",\"share\":\"s\"}}";
    let key = envelope::derive_password_key("correct horse battery staple", &params, &salt).unwrap();
    let sealed = envelope::seal_with_nonce(&key, KeyKind::Password { params, salt }, &nonce, &ctx, pt).unwrap();
    vectors.push(json!({
        "name": "password, argon2id m=64 KiB t=1 p=1", "clientId": ctx.client_id, "backupMethod": ctx.backup_method,
        "password": "correct horse battery staple", "mCost": params.m_cost, "tCost": params.t_cost,
        "pCost": params.p_cost, "saltHex": hex::encode(salt), "nonceHex": hex::encode(nonce),
        "plaintextHex": hex::encode(pt), "envelope": envelope::envelope_to_text(&sealed),
    }));
    // Passkey: the key is HKDF-SHA-256 of a fixed PRF output, as WebCrypto
    // derives it from the authenticator's answer in the browser.
    let passkey_cases: [(&str, [u8; 32], Vec<u8>, &str, [u8; 12], &[u8]); 2] = [
        ("passkey, 32-byte credential id", [0x77; 32], (0..32).collect(), "localhost", [0x44; 12], b"{\"SECP256K1\":{\"id\":\"p3\",\"share\":\"s\"}}"),
        ("passkey, 67-byte credential id", core::array::from_fn(|i| 0x80 ^ i as u8), (0..67).map(|i| 0xc0 ^ i).collect(), "wallet.example.com", [0x55; 12], plaintext.as_bytes()),
    ];
    for (name, prf_output, credential_id, rp_id, nonce, pt) in passkey_cases {
        let ctx = Context::new("cm2clientdemo0000000000001", "PASSKEY").unwrap();
        let prf_salt = envelope::passkey_prf_salt(rp_id, &ctx).unwrap();
        let mut key = [0u8; 32];
        hkdf::Hkdf::<sha2::Sha256>::new(None, &prf_output).expand(envelope::PASSKEY_HKDF_INFO, &mut key).unwrap();
        let kind = KeyKind::Passkey { credential_id: credential_id.clone(), prf_salt };
        let sealed = envelope::seal_with_nonce(&BackupKey::from_bytes(key), kind, &nonce, &ctx, pt).unwrap();
        vectors.push(json!({
            "name": name, "clientId": ctx.client_id, "backupMethod": ctx.backup_method,
            "rpId": rp_id, "prfOutputHex": hex::encode(prf_output), "credentialIdHex": hex::encode(&credential_id),
            "prfSaltHex": hex::encode(prf_salt), "passkeyKeyHex": hex::encode(key), "nonceHex": hex::encode(nonce),
            "plaintextHex": hex::encode(pt), "envelope": envelope::envelope_to_text(&sealed),
        }));
    }
    let file: Value = json!({
        "description": "portal-backup envelope v1 known-answer vectors; see docs/ENVELOPE.md. Written once by examples/write_vectors.rs.",
        "vectors": vectors,
    });
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/envelope-v1.json");
    std::fs::write(path, serde_json::to_string_pretty(&file).unwrap() + "\n").unwrap();
    println!("wrote {path}");
}
