//! Property tests (proptest) for the envelope and the retry schedule:
//! arbitrary inputs, checked against what a wallet user would notice (their
//! bytes back, or one of the documented error codes). Native only.
//!
//! 10,000 cases per property by default; `PROPTEST_CASES=N cargo test
//! --test properties` runs N instead (docs/RELIABILITY.md §3).
#![cfg(not(target_arch = "wasm32"))]

use common_props::{config, near_base64url, tenth_of_config};
use portal_backup::Error;
use portal_backup::envelope::{self, BackupKey, Context, Envelope, PasswordParams};
use portal_backup::retry::RetryPolicy;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

// The configuration (`config`: 10,000 cases, XorShift; `tenth_of_config`
// for the password bit flips below) and the strategies shared with the
// Worker's properties are in tests/common-props.

// ---- strategies ------------------------------------------------------------

/// Most cases stay under a few hundred bytes (every length around the
/// 16-byte AES blocks), one in ten reaches a client backup's few KiB: AES-GCM
/// is generic code, so it runs unoptimised in `cargo test`, per block.
fn plaintext() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        9 => vec(any::<u8>(), 0..=320),
        1 => vec(any::<u8>(), 320..=4 * 1024),
    ]
}

/// clientId or backupMethod as `Context::new` accepts them: 1 to 1024 bytes
/// of any Unicode, Portal's method names, and the 1024-byte edge.
fn context_field() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => vec(any::<char>(), 1..=32).prop_map(String::from_iter),
        1 => prop::sample::select(vec!["GDRIVE", "PASSWORD", "GDRIVE-SECP256K1", "a"]).prop_map(String::from),
        1 => vec(any::<char>(), 1..=256).prop_map(String::from_iter),
        1 => (1..=1024usize).prop_map(|len| "c".repeat(len)),
    ]
}

/// Argon2id costs low enough to run thousands of times (the API takes any
/// costs the reader accepts; the defaults would take ~0.1 s each).
fn cheap_password_params() -> impl Strategy<Value = PasswordParams> {
    (1..=2u8, 0..=56u32, 1..=2u32).prop_map(|(p_cost, extra_memory, t_cost)| PasswordParams {
        m_cost: 8 * u32::from(p_cost) + extra_memory,
        t_cost,
        p_cost,
    })
}

fn password() -> impl Strategy<Value = String> {
    vec(any::<char>(), 1..=64).prop_map(String::from_iter)
}

/// Bytes that reach every branch of the parser: noise, and headers built
/// from real and random parts (magic, version, kind, costs, salt, nonce,
/// sealed bytes), possibly cut short anywhere.
fn envelope_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let magic = prop_oneof![3 => Just(envelope::MAGIC.to_vec()), 1 => vec(any::<u8>(), 0..=4)];
    let version = prop_oneof![3 => Just(envelope::VERSION), 1 => any::<u8>()];
    let kind = prop_oneof![2 => Just(1u8), 2 => Just(2u8), 2 => Just(3u8), 1 => any::<u8>()];
    // Small valid costs keep Argon2 cheap; any u32 is almost always refused.
    let cost = prop_oneof![1..=64u32, any::<u32>()];
    let lanes = prop_oneof![1..=2u8, any::<u8>()];
    // A passkey's credential id length: mostly one the bytes can hold.
    let credential_id_len = prop_oneof![3 => 0..=48u16, 1 => any::<u16>()];
    let header_and_body = (magic, version, kind, cost.clone(), cost, lanes, credential_id_len, vec(any::<u8>(), 0..=96));
    let structured = (header_and_body, any::<Option<Index>>()).prop_map(
        |((magic, version, kind, m_cost, t_cost, lanes, credential_id_len, rest), cut)| {
            let mut bytes = magic;
            bytes.push(version);
            bytes.push(kind);
            if kind == 2 {
                bytes.extend_from_slice(&m_cost.to_be_bytes());
                bytes.extend_from_slice(&t_cost.to_be_bytes());
                bytes.push(lanes);
            }
            if kind == 3 {
                bytes.extend_from_slice(&credential_id_len.to_be_bytes());
            }
            bytes.extend_from_slice(&rest);
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            bytes
        },
    );
    prop_oneof![1 => vec(any::<u8>(), 0..=128), 3 => structured]
}

/// Text a server or a damaged JSON file might hand back: any Unicode, and
/// near-base64url with padding, the standard alphabet and whitespace mixed in.
fn envelope_like_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        near_base64url(120),
        envelope_like_bytes().prop_map(|bytes| envelope::envelope_to_text(&bytes)),
    ]
}

// ---- helpers -----------------------------------------------------------------

/// The codes docs/ENVELOPE.md lists for reading an envelope.
fn is_documented_read_error(error: &Error) -> bool {
    matches!(error, Error::NotAnEnvelope | Error::UnsupportedVersion(_) | Error::Malformed(_))
}

/// Which error a user sees after one bit of a sealed envelope flipped:
/// the header fields have their own errors, everything else is the vague one.
/// `None` for the key kind byte: see `is_kind_flip_error`.
fn expected_after_flip(byte: usize, tampered: &[u8], authentication_failure: Error) -> Option<Error> {
    match byte {
        0..=3 => Some(Error::NotAnEnvelope),
        4 => Some(Error::UnsupportedVersion(tampered[4])),
        5 => None,
        _ => Some(authentication_failure),
    }
}

/// A flipped bit in the key kind byte: an unknown kind, or one of the three
/// kinds (0x01, 0x02, 0x03 are one bit apart) reading the rest of the header
/// as its own: malformed, or it parses and does not open (the vague error),
/// or a password is asked of an envelope that is no longer a password one.
fn is_kind_flip_error(error: &Error, authentication_failure: &Error) -> bool {
    matches!(error, Error::Malformed(_))
        || error == authentication_failure
        || *error == Error::InvalidInput("this backup is not protected by a password")
}

fn check_flip(byte: usize, tampered: &[u8], error: Error, authentication_failure: Error) -> Result<(), TestCaseError> {
    match expected_after_flip(byte, tampered, authentication_failure.clone()) {
        Some(expected) => prop_assert_eq!(error, expected, "byte {}", byte),
        None => prop_assert!(is_kind_flip_error(&error, &authentication_failure), "byte {}: {:?}", byte, error),
    }
    Ok(())
}

// ---- envelope: arbitrary input -------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// Whatever a server or a damaged file holds, parsing answers (no panic)
    /// and only ever with the documented codes.
    #[test]
    fn parsing_arbitrary_bytes_fails_only_with_documented_codes(bytes in envelope_like_bytes()) {
        if let Err(error) = Envelope::parse(&bytes) {
            prop_assert!(is_documented_read_error(&error), "{error:?}");
        }
    }

    /// Opening arbitrary bytes with some key never succeeds and never panics.
    #[test]
    fn opening_arbitrary_bytes_fails_with_a_documented_code(
        bytes in envelope_like_bytes(),
        key in any::<[u8; 32]>(),
    ) {
        let context = Context::new("client-a", "GDRIVE").unwrap();
        let error = envelope::open(&BackupKey::from_bytes(key), &context, &bytes).unwrap_err();
        prop_assert!(is_documented_read_error(&error) || error == Error::CannotDecrypt, "{error:?}");
    }

    /// Same for a password: the only extra answers are WRONG_PASSWORD and
    /// INVALID_INPUT for a random-key envelope (docs/BROWSER.md lists it).
    #[test]
    fn opening_arbitrary_bytes_with_a_password_fails_with_a_documented_code(
        bytes in envelope_like_bytes(),
        password in password(),
    ) {
        let context = Context::new("client-a", "PASSWORD").unwrap();
        let error = envelope::open_with_password(&password, &context, &bytes).unwrap_err();
        let not_a_password_envelope = matches!(
            Envelope::parse(&bytes),
            Ok(Envelope { kind: envelope::KeyKind::Random | envelope::KeyKind::Passkey { .. }, .. })
        );
        prop_assert!(
            is_documented_read_error(&error)
                || error == Error::WrongPassword
                || (not_a_password_envelope && error == Error::InvalidInput("this backup is not protected by a password")),
            "{error:?}"
        );
    }

    /// The text forms: an envelope's text is bytes or MALFORMED_ENVELOPE, a
    /// key's text is a key or MALFORMED_KEY; nothing else, no panic.
    #[test]
    fn reading_arbitrary_text_fails_only_with_documented_codes(text in envelope_like_text()) {
        match envelope::envelope_from_text(&text) {
            Ok(bytes) => {
                if let Err(error) = Envelope::parse(&bytes) {
                    prop_assert!(is_documented_read_error(&error), "{error:?}");
                }
            }
            Err(error) => prop_assert!(matches!(error, Error::Malformed(_)), "{error:?}"),
        }
        if let Err(error) = BackupKey::from_text(&text) {
            prop_assert_eq!(error, Error::MalformedKey);
        }
    }

    /// `Context::new` takes exactly 1 to 1024 bytes per field, so every
    /// length prefix in the associated data fits its u16.
    #[test]
    fn context_fields_are_one_to_1024_bytes(client_len in 0..=1100usize, method in context_field()) {
        let client_id = "é".repeat(client_len / 2) + &"c".repeat(client_len % 2);
        let accepted = Context::new(&client_id, &method).is_ok();
        prop_assert_eq!(accepted, (1..=1024).contains(&client_id.len()));
    }
}

// ---- envelope: seal then open ------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// What a user backs up is what they recover, through both text forms
    /// (key in Drive, ciphertext in JSON), for any client and method.
    #[test]
    fn random_key_seal_then_open_gives_the_plaintext_back(
        key in any::<[u8; 32]>(),
        client_id in context_field(),
        backup_method in context_field(),
        plaintext in plaintext(),
    ) {
        let context = Context::new(&client_id, &backup_method).unwrap();
        let key = BackupKey::from_bytes(key);
        let text = envelope::envelope_to_text(&envelope::seal(&key, &context, &plaintext).unwrap());
        let key_from_drive = BackupKey::from_text(&key.to_text()).unwrap();
        let opened = envelope::open(&key_from_drive, &context, &envelope::envelope_from_text(&text).unwrap()).unwrap();
        prop_assert_eq!(&opened[..], &plaintext[..]);
    }

    /// Low Argon2 costs (the reader accepts any in range, and these stay
    /// cheap), so the password kind runs at the full case count too; a
    /// different password is WRONG_PASSWORD, never other bytes.
    #[test]
    fn password_seal_then_open_gives_the_plaintext_back(
        password in password(),
        other_password in password(),
        params in cheap_password_params(),
        client_id in context_field(),
        backup_method in context_field(),
        plaintext in vec(any::<u8>(), 0..=256),
    ) {
        let context = Context::new(&client_id, &backup_method).unwrap();
        let sealed = envelope::seal_with_password(&password, params, &context, &plaintext).unwrap();
        let opened = envelope::open_with_password(&password, &context, &sealed).unwrap();
        prop_assert_eq!(&opened[..], &plaintext[..]);
        if other_password != password {
            prop_assert_eq!(envelope::open_with_password(&other_password, &context, &sealed).unwrap_err(), Error::WrongPassword);
        }
    }

    /// A ciphertext moved to another client or method does not open, and
    /// says only CANNOT_DECRYPT.
    #[test]
    fn an_envelope_opens_only_for_its_own_client_and_method(
        key in any::<[u8; 32]>(),
        sealed_for in (context_field(), context_field()),
        opened_as in (context_field(), context_field()),
        plaintext in vec(any::<u8>(), 0..=64),
    ) {
        prop_assume!(sealed_for != opened_as);
        let key = BackupKey::from_bytes(key);
        let sealed = envelope::seal(&key, &Context::new(&sealed_for.0, &sealed_for.1).unwrap(), &plaintext).unwrap();
        let elsewhere = Context::new(&opened_as.0, &opened_as.1).unwrap();
        prop_assert_eq!(envelope::open(&key, &elsewhere, &sealed).unwrap_err(), Error::CannotDecrypt);
    }

    /// One flipped bit anywhere (header, nonce, ciphertext, tag) and the
    /// envelope does not open; the user sees the error for that region.
    #[test]
    fn flipping_any_bit_of_a_random_key_envelope_fails(
        key in any::<[u8; 32]>(),
        client_id in context_field(),
        plaintext in plaintext(),
        bit in any::<Index>(),
    ) {
        let context = Context::new(&client_id, "GDRIVE").unwrap();
        let key = BackupKey::from_bytes(key);
        let mut tampered = envelope::seal(&key, &context, &plaintext).unwrap();
        let bit = bit.index(tampered.len() * 8);
        tampered[bit / 8] ^= 1 << (bit % 8);
        let error = envelope::open(&key, &context, &tampered).unwrap_err();
        check_flip(bit / 8, &tampered, error, Error::CannotDecrypt)?;
    }

    /// The same for a passkey envelope, whose header also holds the
    /// credential id (any length WebAuthn allows) and the PRF salt: a
    /// flipped length is malformed or misreads the header, which then does
    /// not authenticate.
    #[test]
    fn flipping_any_bit_of_a_passkey_envelope_fails(
        key in any::<[u8; 32]>(),
        credential_id in prop_oneof![3 => vec(any::<u8>(), 1..=64), 1 => vec(any::<u8>(), 1..=1023)],
        prf_salt in any::<[u8; 32]>(),
        nonce in any::<[u8; 12]>(),
        plaintext in vec(any::<u8>(), 0..=256),
        bit in any::<Index>(),
    ) {
        let context = Context::new("client-a", "PASSKEY").unwrap();
        let key = BackupKey::from_bytes(key);
        let kind = envelope::KeyKind::Passkey { credential_id, prf_salt };
        let sealed = envelope::seal_with_nonce(&key, kind.clone(), &nonce, &context, &plaintext).unwrap();
        prop_assert_eq!(&Envelope::parse(&sealed).unwrap().kind, &kind);
        prop_assert_eq!(&envelope::open(&key, &context, &sealed).unwrap()[..], &plaintext[..]);
        let mut tampered = sealed;
        let bit = bit.index(tampered.len() * 8);
        tampered[bit / 8] ^= 1 << (bit % 8);
        let error = envelope::open(&key, &context, &tampered).unwrap_err();
        // Bytes 6 and 7 are the credential id's length.
        if (6..8).contains(&(bit / 8)) {
            prop_assert!(matches!(error, Error::Malformed(_)) || error == Error::CannotDecrypt, "{:?}", error);
        } else {
            check_flip(bit / 8, &tampered, error, Error::CannotDecrypt)?;
        }
    }
}

proptest! {
    // A tenth of the cases: a flipped bit in the memory cost is still a
    // valid cost up to 512 MiB, so about 1 case in 150 runs Argon2id at 1 to
    // 512 MiB (that bound is the reader's, on purpose). At 10,000 cases that
    // is seconds of Argon2 and 512 MiB peaks on a shared 2-core machine; at
    // 1,000 it is about a second. The random-key property
    // above covers the nonce/ciphertext/tag regions at the full count.
    #![proptest_config(tenth_of_config())]

    #[test]
    fn flipping_any_bit_of_a_password_envelope_fails(
        password in password(),
        params in cheap_password_params(),
        plaintext in vec(any::<u8>(), 0..=256),
        bit in any::<Index>(),
    ) {
        let context = Context::new("client-a", "PASSWORD").unwrap();
        let mut tampered = envelope::seal_with_password(&password, params, &context, &plaintext).unwrap();
        let bit = bit.index(tampered.len() * 8);
        tampered[bit / 8] ^= 1 << (bit % 8);
        let error = envelope::open_with_password(&password, &context, &tampered).unwrap_err();
        // Bytes 6..15 are the costs: a flip makes them out of range
        // (MALFORMED_ENVELOPE) or another valid cost, hence another key.
        if (6..15).contains(&(bit / 8)) && matches!(error, Error::Malformed(_)) {
            prop_assert_eq!(error, Error::Malformed("password cost parameters out of range"));
        } else {
            check_flip(bit / 8, &tampered, error, Error::WrongPassword)?;
        }
    }
}

// ---- retry schedule ------------------------------------------------------------------

/// Any number the `retry` option can give (the browser layer clamps to
/// ≥ 0, NaN to 0, and keeps infinities), with the edges weighted up.
fn retry_bound_ms() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(f64::INFINITY),
        0.0..30_000.0f64,
        any::<f64>().prop_map(|raw| raw.max(0.0)),
    ]
}

fn retry_policy() -> impl Strategy<Value = RetryPolicy> {
    let attempts = prop_oneof![1..=10u32, any::<u32>().prop_map(|n| n.max(1))];
    (attempts, retry_bound_ms(), retry_bound_ms(), retry_bound_ms()).prop_map(
        |(max_attempts, base_delay_ms, max_delay_ms, max_total_ms)| RetryPolicy {
            max_attempts,
            base_delay_ms,
            max_delay_ms,
            max_total_ms,
        },
    )
}

proptest! {
    #![proptest_config(config())]

    /// One decision: a wait is finite, non-negative, within the per-retry
    /// cap and the attempt's exponential bound, and never runs past the
    /// total budget; out of attempts means no wait at all.
    #[test]
    fn each_wait_stays_within_the_retry_bounds(
        policy in retry_policy(),
        failed_attempts in prop_oneof![0..=12u32, any::<u32>()],
        random in 0.0..1.0f64,
        elapsed_ms in prop_oneof![0.0..30_000.0f64, any::<f64>().prop_map(f64::abs)],
    ) {
        let delay = policy.delay_ms(failed_attempts, random, elapsed_ms);
        if failed_attempts == 0 || failed_attempts >= policy.max_attempts {
            prop_assert_eq!(delay, None);
        }
        if let Some(delay) = delay {
            let exponential_bound = policy.base_delay_ms * 2f64.powi((failed_attempts - 1).min(30) as i32);
            prop_assert!(delay.is_finite() && delay >= 0.0, "{delay}");
            prop_assert!(delay <= policy.max_delay_ms && delay <= exponential_bound, "{delay}");
            prop_assert!(elapsed_ms + delay < policy.max_total_ms, "{delay}");
        }
    }

    /// A whole run against a server that always fails: at most
    /// `max_attempts` requests, and no retry starts once `max_total_ms` has
    /// passed, whatever each request takes.
    #[test]
    fn a_failing_run_stops_within_its_attempts_and_total_time(
        policy in retry_policy(),
        // 24 requests: past the 1 to 10 attempts most policies here allow.
        request_ms in vec(prop_oneof![Just(0.0), 0.0..5_000.0f64], 24),
        randoms in vec(0.0..1.0f64, 24),
    ) {
        let mut elapsed_ms = 0.0;
        let mut attempts = 0u32;
        for (took_ms, random) in request_ms.iter().zip(&randoms) {
            attempts += 1;
            elapsed_ms += took_ms;
            match policy.delay_ms(attempts, *random, elapsed_ms) {
                Some(wait_ms) => {
                    prop_assert!(wait_ms <= policy.max_delay_ms);
                    elapsed_ms += wait_ms;
                    // The next attempt starts now.
                    prop_assert!(elapsed_ms < policy.max_total_ms, "retry at {elapsed_ms} ms");
                }
                None => break,
            }
        }
        prop_assert!(attempts <= policy.max_attempts, "{attempts} attempts");
    }
}
