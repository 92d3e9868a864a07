//! Envelope tests that run twice: natively (`cargo test`) and in headless
//! Chromium (`wasm-pack test --headless --chrome`), where randomness comes
//! from WebCrypto. The same vector files must give the same bytes in both.

use portal_backup::envelope::{self, BackupKey, Context, Envelope, KeyKind, PasswordParams};
use portal_backup::Error;
use serde::Deserialize;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

const NIST_VECTORS: &str = include_str!("vectors/aes-256-gcm-nist.json");
const PLAINTEXT: &str = include_str!("fixtures/client-backup-plaintext.json");

#[path = "common/vectors.rs"]
mod vectors;
use vectors::vectors;

#[test]
fn known_answer_vectors_open_to_their_plaintext() {
    for v in &vectors() {
        let sealed = envelope::envelope_from_text(&v.envelope).unwrap();
        let opened = match (&v.password, &v.key) {
            (Some(password), _) => envelope::open_with_password(password, &v.context(), &sealed),
            (None, Some(key)) => envelope::open(&BackupKey::from_text(key).unwrap(), &v.context(), &sealed),
            // Passkey: the key HKDF derives from the vector's PRF output.
            (None, None) => envelope::open(&v.key_and_kind().0, &v.context(), &sealed),
        };
        assert_eq!(hex::encode(&opened.unwrap()[..]), v.plaintext_hex, "vector {}", v.name);
    }
}

#[test]
fn known_answer_vectors_are_reproduced_byte_for_byte() {
    for v in &vectors() {
        let (key, kind) = v.key_and_kind();
        let sealed = envelope::seal_with_nonce(&key, kind, &v.nonce(), &v.context(), &v.plaintext()).unwrap();
        assert_eq!(envelope::envelope_to_text(&sealed), v.envelope, "vector {}", v.name);
    }
}

#[derive(Deserialize)]
struct NistVector {
    source: String,
    key: String,
    iv: String,
    aad: String,
    pt: String,
    ct: String,
    tag: String,
}

/// Proves the primitive under the envelope is plain AES-256-GCM.
#[test]
fn aes_256_gcm_matches_published_vectors() {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    let vectors: Vec<NistVector> = serde_json::from_str(NIST_VECTORS).unwrap();
    assert!(!vectors.is_empty());
    for v in vectors {
        let key: [u8; 32] = hex::decode(&v.key).unwrap().try_into().unwrap();
        let iv: [u8; 12] = hex::decode(&v.iv).unwrap().try_into().unwrap();
        let cipher = aes_gcm::Aes256Gcm::new(&key.into());
        let (pt, aad) = (hex::decode(&v.pt).unwrap(), hex::decode(&v.aad).unwrap());
        let out = cipher.encrypt(&iv.into(), Payload { msg: &pt, aad: &aad }).unwrap();
        assert_eq!(hex::encode(&out), format!("{}{}", v.ct, v.tag), "{}", v.source);
    }
}

fn flip_every_byte(sealed: &[u8], mut check: impl FnMut(usize, &[u8])) {
    for i in 0..sealed.len() {
        let mut tampered = sealed.to_vec();
        tampered[i] ^= 0x01;
        check(i, &tampered);
    }
}

#[test]
fn flipping_any_byte_fails() {
    let key = BackupKey::generate().unwrap();
    let ctx = Context::new("client-a", "GDRIVE").unwrap();
    let sealed = envelope::seal(&key, &ctx, b"the client backup share").unwrap();
    flip_every_byte(&sealed, |i, tampered| {
        let err = envelope::open(&key, &ctx, tampered).unwrap_err();
        match i {
            0..=3 => assert_eq!(err, Error::NotAnEnvelope, "byte {i}"),
            4 => assert_eq!(err, Error::UnsupportedVersion(0), "byte {i}"),
            5 => assert!(matches!(err, Error::Malformed(_)), "byte {i}: {err:?}"),
            _ => assert_eq!(err, Error::CannotDecrypt, "byte {i}"),
        }
    });
}

#[test]
fn flipping_any_byte_of_a_password_envelope_fails() {
    let v = vectors().into_iter().find(|v| v.password.is_some()).expect("a password vector");
    let sealed = envelope::envelope_from_text(&v.envelope).unwrap();
    let password = v.password.as_ref().unwrap();
    // Flipping a cost byte may push it out of range (Malformed) or to another
    // valid cost (then the derived key differs): either way it must not open.
    flip_every_byte(&sealed, |i, tampered| {
        assert!(envelope::open_with_password(password, &v.context(), tampered).is_err(), "byte {i}");
    });
}

#[test]
fn wrong_key_client_or_method_fail_with_one_vague_error() {
    let key = BackupKey::generate().unwrap();
    let ctx = Context::new("client-a", "GDRIVE").unwrap();
    let sealed = envelope::seal(&key, &ctx, b"share").unwrap();
    let other_key = BackupKey::generate().unwrap();
    let cases = [
        (&other_key, ctx),
        (&key, Context::new("client-b", "GDRIVE").unwrap()),
        (&key, Context::new("client-a", "PASSWORD").unwrap()),
        // Length prefixes keep these apart from ("client-a", "GDRIVE").
        (&key, Context::new("client-aG", "DRIVE").unwrap()),
    ];
    for (k, c) in cases {
        let err = envelope::open(k, &c, &sealed).unwrap_err();
        assert_eq!(err, Error::CannotDecrypt);
        assert_eq!(err.to_string(), "cannot decrypt: wrong key or damaged backup");
    }
}

#[test]
fn wrong_password_says_so_without_detail() {
    let v = vectors().into_iter().find(|v| v.password.is_some()).expect("a password vector");
    let sealed = envelope::envelope_from_text(&v.envelope).unwrap();
    let err = envelope::open_with_password("not the password", &v.context(), &sealed).unwrap_err();
    assert_eq!(err.to_string(), "wrong password or damaged backup");
}

#[test]
fn unknown_version_and_bad_encodings_get_their_own_errors() {
    let key = BackupKey::generate().unwrap();
    let ctx = Context::new("c", "GDRIVE").unwrap();
    let mut sealed = envelope::seal(&key, &ctx, b"x").unwrap();
    sealed[4] = 2;
    assert_eq!(envelope::open(&key, &ctx, &sealed).unwrap_err(), Error::UnsupportedVersion(2));
    assert_eq!(envelope::open(&key, &ctx, b"PBAK\x01").unwrap_err(), Error::Malformed("truncated header"));
    assert!(matches!(envelope::envelope_from_text("not base64!"), Err(Error::Malformed(_))));
    assert_eq!(BackupKey::from_text("!!!").unwrap_err(), Error::MalformedKey);
    // 32 bytes of base64url minus one character is not a key either.
    let short = &key.to_text()[..42];
    assert_eq!(BackupKey::from_text(short).unwrap_err(), Error::MalformedKey);
}

#[test]
fn a_realistic_client_backup_round_trips_through_text() {
    assert!(PLAINTEXT.len() > 4096, "fixture should be a few KiB");
    let key = BackupKey::generate().unwrap();
    let ctx = Context::new("cm2clientdemo0000000000001", "GDRIVE").unwrap();
    let text = envelope::envelope_to_text(&envelope::seal(&key, &ctx, PLAINTEXT.as_bytes()).unwrap());
    let key_again = BackupKey::from_text(&key.to_text()).unwrap();
    let opened = envelope::open(&key_again, &ctx, &envelope::envelope_from_text(&text).unwrap()).unwrap();
    assert_eq!(&opened[..], PLAINTEXT.as_bytes());
}

#[test]
fn password_round_trip_with_small_costs() {
    let params = PasswordParams { m_cost: 256, t_cost: 1, p_cost: 1 };
    let ctx = Context::new("c", "PASSWORD").unwrap();
    let sealed = envelope::seal_with_password("correct horse", params, &ctx, b"share").unwrap();
    assert_eq!(&envelope::open_with_password("correct horse", &ctx, &sealed).unwrap()[..], b"share");
    let random_key = BackupKey::generate().unwrap();
    assert_eq!(envelope::open(&random_key, &ctx, &sealed).unwrap_err(), Error::CannotDecrypt);
}

#[test]
fn a_passkey_header_names_its_credential_and_prf_salt() {
    let v = vectors().into_iter().find(|v| v.prf_output_hex.is_some()).expect("a passkey vector");
    let sealed = envelope::envelope_from_text(&v.envelope).unwrap();
    let (key, kind) = v.key_and_kind();
    assert_eq!(Envelope::parse(&sealed).unwrap().kind, kind);
    // Another passkey (another PRF output) does not open it.
    assert_eq!(envelope::open(&BackupKey::from_bytes([0x78; 32]), &v.context(), &sealed).unwrap_err(), Error::CannotDecrypt);
    flip_every_byte(&sealed, |i, tampered| {
        assert!(envelope::open(&key, &v.context(), tampered).is_err(), "byte {i}");
    });
}

#[test]
fn passkey_headers_out_of_bounds_are_malformed() {
    let ctx = Context::new("c", "PASSKEY").unwrap();
    let key = BackupKey::from_bytes([3; 32]);
    let kind = |len: usize| KeyKind::Passkey { credential_id: vec![7; len], prf_salt: [9; 32] };
    for len in [1, 1023] {
        let sealed = envelope::seal_with_nonce(&key, kind(len), &[0; 12], &ctx, b"x").unwrap();
        assert_eq!(&envelope::open(&key, &ctx, &sealed).unwrap()[..], b"x", "credential id of {len} bytes");
    }
    for len in [0, 1024] {
        assert!(matches!(envelope::seal_with_nonce(&key, kind(len), &[0; 12], &ctx, b"x"), Err(Error::InvalidInput(_))));
    }
    // A header claiming a 0- or 1024-byte id, or cut inside the id or salt.
    let sealed = envelope::seal_with_nonce(&key, kind(5), &[0; 12], &ctx, b"x").unwrap();
    for claimed in [0u16, 1024, u16::MAX] {
        let mut bad = sealed.clone();
        bad[6..8].copy_from_slice(&claimed.to_be_bytes());
        assert!(matches!(Envelope::parse(&bad), Err(Error::Malformed(_))), "claimed {claimed}");
    }
    for cut in [7, 10, 20, 44] {
        assert!(matches!(Envelope::parse(&sealed[..cut]), Err(Error::Malformed(_))), "cut at {cut}");
    }
}

#[test]
fn the_prf_salt_binds_app_client_and_method() {
    let salt = |rp: &str, client: &str, method: &str| envelope::passkey_prf_salt(rp, &Context::new(client, method).unwrap()).unwrap();
    let base = salt("wallet.example.com", "client-a", "PASSKEY");
    assert_ne!(base, salt("evil.example.com", "client-a", "PASSKEY"));
    assert_ne!(base, salt("wallet.example.com", "client-b", "PASSKEY"));
    assert_ne!(base, salt("wallet.example.com", "client-a", "PASSKEY-SECP256K1"));
    // Length prefixes keep the fields apart.
    assert_ne!(salt("ab", "c", "PASSKEY"), salt("a", "bc", "PASSKEY"));
    assert!(envelope::passkey_prf_salt("", &Context::new("c", "PASSKEY").unwrap()).is_err());
}
