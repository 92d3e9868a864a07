//! The browser's AES-GCM path (WebCrypto) gives the same bytes as the native
//! `aes-gcm` path: the known-answer vectors are reproduced byte for byte and
//! opened by it. Argon2id comes from its own wasm module (argon2-wasm/),
//! loaded only when a password first needs it: it equals the native
//! derivation, and the page loads it once, no earlier. Also measures it at
//! the default costs in Chromium.
#![cfg(all(target_arch = "wasm32", feature = "browser"))]

use portal_backup::Error;
use portal_backup::browser::{argon2, webcrypto};
use portal_backup::envelope::{self, BackupKey, Context, Envelope, KeyKind, PasswordParams};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[path = "common/vectors.rs"]
mod vectors;
use vectors::vectors;

#[wasm_bindgen_test]
async fn webcrypto_reproduces_the_known_answer_vectors_byte_for_byte() {
    for v in &vectors() {
        let (key, kind) = v.key_and_kind();
        let nonce = v.nonce();
        let context = Context::new(&v.client_id, &v.backup_method).unwrap();
        let plaintext = v.plaintext();
        let sealed = webcrypto::seal_with_nonce(&key, kind, &nonce, &context, &plaintext).await.unwrap();
        assert_eq!(envelope::envelope_to_text(&sealed), v.envelope, "vector {}", v.name);
    }
}

#[wasm_bindgen_test]
async fn webcrypto_opens_the_known_answer_vectors() {
    password_used();
    for v in &vectors() {
        let (key, _) = v.key_and_kind();
        let context = Context::new(&v.client_id, &v.backup_method).unwrap();
        let bytes = envelope::envelope_from_text(&v.envelope).unwrap();
        let parsed = Envelope::parse(&bytes).unwrap();
        let opened = match &v.password {
            Some(password) => webcrypto::open_with_password(password, &parsed, &context).await.unwrap(),
            None => webcrypto::open(&key, &parsed, &context).await.unwrap(),
        };
        assert_eq!(hex::encode(&opened), v.plaintext_hex, "vector {}", v.name);
    }
}

#[wasm_bindgen_test]
async fn webcrypto_and_native_aes_gcm_open_each_other() {
    let key = BackupKey::generate().unwrap();
    let context = Context::new("client-a", "GDRIVE").unwrap();
    let from_browser = webcrypto::seal(&key, KeyKind::Random, &context, b"client backup share").await.unwrap();
    assert_eq!(&envelope::open(&key, &context, &from_browser).unwrap()[..], b"client backup share");
    let from_native = envelope::seal(&key, &context, b"client backup share").unwrap();
    let parsed = Envelope::parse(&from_native).unwrap();
    assert_eq!(webcrypto::open(&key, &parsed, &context).await.unwrap(), b"client backup share");
}

#[wasm_bindgen_test]
async fn webcrypto_rejects_a_flipped_byte_other_client_or_wrong_password() {
    let key = BackupKey::generate().unwrap();
    let context = Context::new("client-a", "GDRIVE").unwrap();
    let mut sealed = webcrypto::seal(&key, KeyKind::Random, &context, b"share").await.unwrap();
    let other_client = Context::new("client-b", "GDRIVE").unwrap();
    let parsed = Envelope::parse(&sealed).unwrap();
    assert_eq!(webcrypto::open(&key, &parsed, &other_client).await.unwrap_err(), Error::CannotDecrypt);
    let last = sealed.len() - 1;
    sealed[last] ^= 1;
    let parsed = Envelope::parse(&sealed).unwrap();
    assert_eq!(webcrypto::open(&key, &parsed, &context).await.unwrap_err(), Error::CannotDecrypt);

    let v = vectors().into_iter().find(|v| v.password.is_some()).expect("a password vector");
    let bytes = envelope::envelope_from_text(&v.envelope).unwrap();
    let parsed = Envelope::parse(&bytes).unwrap();
    let context = Context::new(&v.client_id, &v.backup_method).unwrap();
    password_used();
    let err = webcrypto::open_with_password("not the password", &parsed, &context).await.unwrap_err();
    assert_eq!(err, Error::WrongPassword);
}

/// Not an assertion on speed (machines differ): prints how long Argon2id at
/// the default costs (64 MiB, t=3, p=1) takes in this Chromium, in the
/// package's lazily loaded module (the first call may include its load) and
/// in this test's own wasm, and that both give the same key.
#[wasm_bindgen_test]
async fn argon2id_default_cost_in_chromium() {
    let now = || js_sys::Date::now();
    password_used();
    let (password, salt) = ("correct horse battery staple", [7; 16]);
    let mut times = Vec::new();
    let mut key = None;
    for _ in 0..2 {
        let started = now();
        key = Some(argon2::password_key(password, &PasswordParams::DEFAULT, &salt).await.unwrap());
        times.push(now() - started);
    }
    let started = now();
    let native = envelope::derive_password_key(password, &PasswordParams::DEFAULT, &salt).unwrap();
    let in_test_wasm = now() - started;
    assert_eq!(key.unwrap(), native);
    console_log!(
        "argon2id m=64MiB t=3 p=1: lazy module {:.0} ms (first call), {:.0} ms (second); in the test's wasm {in_test_wasm:.0} ms",
        times[0],
        times[1]
    );
}

/// The page's first use of a password, as `performance.now()`: every test
/// here that reaches Argon2id calls this first, so the loading test below
/// holds whatever order the tests run in.
fn password_used() {
    js_sys::Function::new_no_args("globalThis.firstPasswordUse ??= performance.now()").call0(&JsValue::NULL).unwrap();
}

/// When this page fetched the Argon2id module (`performance.now()` times,
/// from Resource Timing), one entry per fetch.
fn argon2id_loads() -> Vec<f64> {
    let loads = js_sys::Function::new_no_args(
        "return performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/argon2-wasm/argon2id.js')).map((e) => e.startTime)",
    );
    js_sys::Array::from(&loads.call0(&JsValue::NULL).unwrap()).iter().map(|time| time.as_f64().unwrap()).collect()
}

/// The lazily loaded module gives exactly the native derivation (compiled
/// into this test's wasm): costs at their edges, an empty and a non-ASCII
/// password. Costs out of the envelope's bounds are refused as natively,
/// before anything loads.
#[wasm_bindgen_test]
async fn the_argon2id_module_equals_the_native_derivation() {
    password_used();
    let cases = [
        ("correct horse battery staple", [7; 16], PasswordParams { m_cost: 64, t_cost: 1, p_cost: 1 }),
        ("", [0; 16], PasswordParams { m_cost: 8, t_cost: 2, p_cost: 1 }),
        ("pässwörd 🔑", [0xa5; 16], PasswordParams { m_cost: 256, t_cost: 3, p_cost: 2 }),
        ("x", [1; 16], PasswordParams { m_cost: 1024, t_cost: 1, p_cost: 16 }),
    ];
    for (password, salt, params) in cases {
        let native = envelope::derive_password_key(password, &params, &salt).unwrap();
        assert_eq!(argon2::password_key(password, &params, &salt).await.unwrap(), native, "{password:?} {params:?}");
    }
    for params in [
        PasswordParams { m_cost: 8, t_cost: 65, p_cost: 1 },
        PasswordParams { m_cost: 15, t_cost: 1, p_cost: 2 },
        PasswordParams { m_cost: 1024 * 1024 + 1, t_cost: 1, p_cost: 1 },
        PasswordParams { m_cost: 1024, t_cost: 0, p_cost: 1 },
        PasswordParams { m_cost: 1024, t_cost: 1, p_cost: 0 },
        PasswordParams { m_cost: 1024, t_cost: 1, p_cost: 17 },
    ] {
        let native = envelope::derive_password_key("pw", &params, &[0; 16]).map(|_| ());
        assert!(native.is_err(), "{params:?}");
        assert_eq!(argon2::password_key("pw", &params, &[0; 16]).await.map(|_| ()), native, "{params:?}");
    }
}

/// Functions without a password load no Argon2id; the first password loads
/// the module, once per page, and never before the page's first password
/// (whichever test of this file ran that).
#[wasm_bindgen_test]
async fn the_argon2id_module_loads_only_when_a_password_needs_it() {
    use portal_backup::browser::{decrypt_share, encrypt_share};
    use wasm_bindgen_futures::JsFuture;
    let before = argon2id_loads();
    let (client, method) = (JsValue::from_str("client-a"), JsValue::from_str("GDRIVE"));
    let plaintext = JsValue::from(js_sys::Uint8Array::from(&b"share"[..]));
    let sealed = JsFuture::from(js_sys::Promise::from(JsValue::from(encrypt_share(&plaintext, &client, &method)))).await.unwrap();
    let field = |name: &str| js_sys::Reflect::get(&sealed, &name.into()).unwrap();
    let opening = decrypt_share(&field("cipherText"), &field("key"), &client, &method);
    JsFuture::from(js_sys::Promise::from(JsValue::from(opening))).await.unwrap();
    assert_eq!(argon2id_loads(), before, "encryptShare / decryptShare loaded the Argon2id module");

    password_used();
    let params = PasswordParams { m_cost: 64, t_cost: 1, p_cost: 1 };
    argon2::password_key("pw", &params, &[1; 16]).await.unwrap();
    argon2::password_key("pw", &params, &[2; 16]).await.unwrap();
    let loads = argon2id_loads();
    assert_eq!(loads.len(), 1, "the module loads once per page: {loads:?}");
    let first_password = js_sys::Reflect::get(&js_sys::global(), &"firstPasswordUse".into()).unwrap().as_f64().unwrap();
    assert!(loads[0] >= first_password, "loaded at {} ms, before the page's first password at {first_password} ms", loads[0]);
    console_log!("the Argon2id module loaded at {:.0} ms, the first password at {first_password:.0} ms ({} before this test)", loads[0], if before.is_empty() { "not loaded" } else { "loaded" });
}

/// Through the lazily loaded module both ways: an envelope the exported
/// `encryptShareWithPassword` sealed opens natively, a native one opens with
/// `decryptShareWithPassword`, and a wrong password still rejects with
/// WRONG_PASSWORD (a password envelope's only failure code for a bad tag).
#[wasm_bindgen_test]
async fn password_envelopes_open_across_the_module_and_native_and_a_wrong_password_is_named() {
    use portal_backup::browser::{decrypt_share_with_password, encrypt_share_with_password};
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    password_used();
    let settle = |promise: JsValue| JsFuture::from(js_sys::Promise::from(promise));
    let (client, method) = (JsValue::from_str("client-a"), JsValue::from_str("PASSWORD"));
    let context = Context::new("client-a", "PASSWORD").unwrap();
    let plaintext = JsValue::from(js_sys::Uint8Array::from(&b"client backup share"[..]));
    let sealing = encrypt_share_with_password(&plaintext, &"correct horse".into(), &client, &method);
    let cipher_text = settle(sealing.into()).await.unwrap().as_string().unwrap();
    let sealed = envelope::envelope_from_text(&cipher_text).unwrap();
    assert_eq!(&envelope::open_with_password("correct horse", &context, &sealed).unwrap()[..], b"client backup share");
    assert_eq!(envelope::open_with_password("other", &context, &sealed).unwrap_err(), Error::WrongPassword);

    let params = PasswordParams { m_cost: 256, t_cost: 1, p_cost: 1 };
    let native = envelope::envelope_to_text(&envelope::seal_with_password("correct horse", params, &context, b"sealed natively").unwrap());
    let opening = decrypt_share_with_password(&native.as_str().into(), &"correct horse".into(), &client, &method);
    let opened = settle(opening.into()).await.unwrap();
    assert_eq!(opened.unchecked_into::<js_sys::Uint8Array>().to_vec(), b"sealed natively");
    for (text, password) in [(&native, "Correct horse"), (&cipher_text, "correct horse "), (&cipher_text, "x")] {
        let wrong = decrypt_share_with_password(&text.as_str().into(), &password.into(), &client, &method);
        let error = settle(wrong.into()).await.unwrap_err();
        assert_eq!(js_sys::Reflect::get(&error, &"code".into()).unwrap(), "WRONG_PASSWORD", "{password:?}");
    }
}

#[wasm_bindgen_test]
async fn the_key_file_name_from_webcrypto_equals_the_native_one() {
    for (custodian, client) in [("custodian-demo", "client-1"), ("ab", "c"), ("a", "bc"), ("é", "客户")] {
        assert_eq!(
            webcrypto::key_file_name(custodian, client).await.unwrap(),
            portal_backup::drive::key_file_name(custodian, client).unwrap()
        );
    }
}

/// The native base64 path (`Uint8Array.fromBase64`, lenient) accepts
/// exactly what the wasm path does, and round-trips the vectors.
#[wasm_bindgen_test]
fn native_base64_is_as_strict_as_the_wasm_path() {
    use portal_backup::browser::base64;
    use wasm_bindgen::JsValue;
    for v in &vectors() {
        let bytes = envelope::envelope_from_text(&v.envelope).unwrap();
        assert_eq!(String::from(base64::envelope_to_text(&bytes)), v.envelope, "vector {}", v.name);
        assert_eq!(base64::envelope_from_text(&JsValue::from_str(&v.envelope)).unwrap(), bytes, "vector {}", v.name);
    }
    let valid = vectors()[0].envelope.clone();
    let (head, tail) = valid.split_at(8);
    let cases = [
        format!(" {valid}\n"),
        format!("{head} {tail}"),
        format!("{head}\n{tail}"),
        format!("{valid}="),
        format!("{valid}=="),
        format!("{head}+/{tail}"),
        format!("{valid}A"),
        "QQ".into(),
        "QR".into(),
        "QUF".into(),
        "QUE".into(),
        "".into(),
    ];
    for text in cases {
        let wasm = envelope::envelope_from_text(&text);
        let native = base64::envelope_from_text(&JsValue::from_str(&text));
        assert_eq!(native, wasm, "{text:?}");
    }
    assert!(base64::envelope_from_text(&JsValue::from_f64(1.0)).is_err());
}

/// `encryptShareWithPassword` / `decryptShareWithPassword`, the exports a
/// wallet calls: a round trip, and WRONG_PASSWORD for another password.
#[wasm_bindgen_test]
async fn the_password_exports_round_trip_and_name_a_wrong_password() {
    use portal_backup::browser::{decrypt_share_with_password, encrypt_share_with_password};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    password_used();
    let args = |a: &str, b: &str| (JsValue::from_str(a), JsValue::from_str(b));
    let (client, method) = args("client-a", "PASSWORD");
    let plaintext = JsValue::from(js_sys::Uint8Array::from(&b"client backup share"[..]));
    let sealing = encrypt_share_with_password(&plaintext, &"correct horse".into(), &client, &method);
    let cipher_text = JsFuture::from(js_sys::Promise::from(JsValue::from(sealing))).await.unwrap();
    let opening = decrypt_share_with_password(&cipher_text, &"correct horse".into(), &client, &method);
    let opened = JsFuture::from(js_sys::Promise::from(JsValue::from(opening))).await.unwrap();
    assert_eq!(opened.unchecked_into::<js_sys::Uint8Array>().to_vec(), b"client backup share");
    let wrong = decrypt_share_with_password(&cipher_text, &"other".into(), &client, &method);
    let error = JsFuture::from(js_sys::Promise::from(JsValue::from(wrong))).await.unwrap_err();
    assert_eq!(js_sys::Reflect::get(&error, &"code".into()).unwrap(), "WRONG_PASSWORD");
}

/// Stands in for the platform authenticator: `navigator.credentials`
/// answers `create` and `get` with a credential of id `id` whose PRF output
/// is `prf` (hex; null: an authenticator without PRF), or refuses with a
/// DOMException named `refuse`. Remembers the last `publicKey` options.
fn fake_authenticator(id: &str, prf: Option<&str>, refuse: Option<&str>) {
    let install = js_sys::Function::new_with_args(
        "id, prf, refuse",
        r#"
        const bytes = (hex) => new Uint8Array(hex.match(/../g).map((b) => parseInt(b, 16)));
        const credential = {
          rawId: bytes(id).buffer,
          getClientExtensionResults: () => ({ prf: prf ? { enabled: true, results: { first: bytes(prf).buffer } } : { enabled: false } }),
        };
        const answer = async (options) => {
          globalThis.lastPublicKey = options.publicKey;
          // A prompt nobody answers: only the caller's AbortSignal ends it.
          if (refuse === 'hang') return new Promise((_, reject) => options.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
          if (refuse) throw new DOMException('refused', refuse);
          return credential;
        };
        Object.defineProperty(navigator, 'credentials', { configurable: true, value: { create: answer, get: answer } });
        "#,
    );
    let prf = prf.map(JsValue::from_str).unwrap_or(JsValue::NULL);
    let refuse = refuse.map(JsValue::from_str).unwrap_or(JsValue::NULL);
    install.call3(&JsValue::NULL, &id.into(), &prf, &refuse).unwrap();
}

use wasm_bindgen::JsValue;

fn last_public_key(field: &str) -> JsValue {
    let options = js_sys::Reflect::get(&js_sys::global(), &"lastPublicKey".into()).unwrap();
    js_sys::Reflect::get(&options, &field.into()).unwrap()
}

/// The passkey vectors through the package's own JS bridge: the PRF salt
/// from (rpId, clientId, method) and HKDF-SHA-256 of the PRF output, both in
/// WebCrypto, equal the native definitions, and the envelope is reproduced.
#[wasm_bindgen_test]
async fn a_passkey_key_from_webcrypto_equals_the_vectors() {
    use portal_backup::browser::passkey;
    for v in vectors().iter().filter(|v| v.prf_output_hex.is_some()) {
        let (native_key, kind) = v.key_and_kind();
        let KeyKind::Passkey { credential_id, prf_salt } = &kind else { unreachable!() };
        fake_authenticator(&hex::encode(credential_id), v.prf_output_hex.as_deref(), None);
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &"rpId".into(), &v.rp_id.as_deref().unwrap().into()).unwrap();
        let context = v.context();

        // Backup: a new passkey, the salt derived here.
        let (key, made) = passkey::evaluate(&options, &context, None, None).await.unwrap();
        assert_eq!(hex::encode(key.as_bytes()), v.passkey_key_hex.clone().unwrap(), "vector {}", v.name);
        assert_eq!(made, kind, "vector {}", v.name);
        assert_eq!(js_sys::Reflect::get(&last_public_key("rp"), &"id".into()).unwrap(), v.rp_id.as_deref().unwrap());
        let sealed = webcrypto::seal_with_nonce(&key, made, &v.nonce(), &context, &v.plaintext()).await.unwrap();
        assert_eq!(envelope::envelope_to_text(&sealed), v.envelope, "vector {}", v.name);

        // Recovery: the credential and salt of the header.
        let (key, _) = passkey::evaluate(&options, &context, Some(credential_id), Some(prf_salt)).await.unwrap();
        assert_eq!(key, native_key, "vector {}", v.name);
        let allowed = js_sys::Array::from(&last_public_key("allowCredentials")).get(0);
        let allowed_id = js_sys::Uint8Array::new(&js_sys::Reflect::get(&allowed, &"id".into()).unwrap()).to_vec();
        assert_eq!(&allowed_id, credential_id);
    }
}

#[wasm_bindgen_test]
async fn passkey_refusals_have_their_codes() {
    use portal_backup::browser::passkey;
    let context = Context::new("client-a", "PASSKEY").unwrap();
    let options = js_sys::Object::new();
    let code = |result: Result<_, Error>| result.map(|_| ()).unwrap_err().code().name();
    fake_authenticator("0102", None, None);
    assert_eq!(code(passkey::evaluate(&options, &context, None, None).await), "PASSKEY_PRF_UNSUPPORTED");
    fake_authenticator("0102", Some(&"11".repeat(32)), Some("NotAllowedError"));
    assert_eq!(code(passkey::evaluate(&options, &context, None, None).await), "PASSKEY_CANCELLED");
    fake_authenticator("0102", Some(&"11".repeat(32)), Some("SecurityError"));
    assert_eq!(code(passkey::evaluate(&options, &context, Some(&[1, 2]), Some(&[0; 32])).await), "PASSKEY_FAILED");
    // Nobody answers: the package's own timer ends the ceremony with its own code.
    fake_authenticator("0102", Some(&"11".repeat(32)), Some("hang"));
    js_sys::Reflect::set(&options, &"passkeyTimeoutMs".into(), &50.into()).unwrap();
    assert_eq!(code(passkey::evaluate(&options, &context, None, None).await), "PASSKEY_TIMEOUT");
    assert_eq!(last_public_key("timeout"), 50, "WebAuthn is given the same timeout as a hint");
}
