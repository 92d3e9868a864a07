//! The whole backup and recovery flows in headless Chromium, against the
//! real Worker in workerd and the Portal and Google Drive stand-ins
//! (`node tests/support/services.mjs -- wasm-pack test --headless --chrome`).
//! Each test makes its own Portal client and Drive account, so tests do not
//! see each other's backups; failures are injected with the stand-ins'
//! `/__control/` API. Every fault kind at every step is in
//! `browser_fault_matrix.rs`; the fault tests here check what it does not
//! (a blip that retries cure, bounded waiting, the unused key removed,
//! `notifyPortal()` finishing the job).
#![cfg(all(target_arch = "wasm32", feature = "browser"))]

use js_sys::Reflect;
use portal_backup::browser::{
    BackupOptions, MethodOptions, ServerOptions, backup_wallet, delete_backup, list_backups, notify_portal,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[path = "common/browser.rs"]
mod support;
use support::*;

/// What a Drive or iCloud backup shows once it resolved: Portal heard both
/// halves, the key first, as from its own SDK; every step ended, in the
/// plan's order (storeKey and storeShare run side by side: either may end
/// first).
async fn finished_as_a_cloud_backup(user: &JsValue) {
    assert_eq!(
        strings(&portal_calls(user).await),
        ["STORED_CLIENT_BACKUP_SHARE_KEY", "STORED_CLIENT_BACKUP_SHARE"],
        "Portal hears the key first, as from its own SDK"
    );
    let mut ended = strings(&steps(user, "end"));
    ended[1..3].sort();
    assert_eq!(ended, ["encrypt", "storeKey", "storeShare", "checkStorage", "confirm", "notifyPortal"]);
}

#[wasm_bindgen_test]
async fn icloud_backup_then_recovery_with_one_sign_in_and_rotating_tokens() {
    let user = new_user("icloud").await;
    let plaintext = client_backup(&user, "first");
    clear_logs().await;
    let result = backup(&user, ICLOUD, &plaintext).await.expect("backup");
    assert!(flag(&result, "portalNotified"));
    // CloudKit's requests go as text/plain with their tokens in the URL:
    // simple requests, so no preflight round trip to Apple before each.
    assert_eq!(icloud_preflights().await.as_f64(), Some(0.0), "no CORS preflight to CloudKit");

    // One key record in the user's private database, named without the ids,
    // holding the key; the record name is what the result calls keyFileId.
    let records: Vec<JsValue> = js_sys::Array::from(&icloud_records(&user).await).iter().collect();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(text(record, "recordName"), text(&result, "keyFileId"));
    assert_eq!(text(record, "recordType"), "PortalBackupKey");
    let client_id = text(&user, "clientId");
    assert!(!text(record, "recordName").contains(&client_id));
    let key = get(&get(&get(record, "fields"), "key"), "value").as_string().unwrap();
    assert_eq!(key.len(), 43, "the key as base64url");
    finished_as_a_cloud_backup(&user).await;

    // A second backup: a new record, the old one removed after confirm.
    let second = client_backup(&user, "second");
    let again = backup(&user, ICLOUD, &second).await.expect("second backup");
    assert_eq!(number(&again, "removedKeyFiles"), 1.0);
    let records: Vec<JsValue> = js_sys::Array::from(&icloud_records(&user).await).iter().collect();
    assert_eq!(records.len(), 1);
    assert_eq!(text(&records[0], "recordName"), text(&again, "keyFileId"));

    // Recovery: one CloudKit query beside the Worker's GET, one round trip.
    clear_sent();
    let recovered = recover(opts(&user, ICLOUD)).await.expect("recovery");
    assert_eq!(text(&recovered, "clientBackup"), second);
    assert_eq!(text(&recovered, "version"), "current");
    assert_eq!(sent_to("icloud", "POST", "/records/", false), ["200"], "one CloudKit request");

    // Every CloudKit request spent its token and used the one the answer
    // before it gave: the page was asked once per flow, never to sign in again.
    assert_eq!(number(&user, "icloudTokenCalls"), 3.0);
    assert_eq!(number(&user, "icloudSignIns"), 1.0);
}

#[wasm_bindgen_test]
async fn icloud_refused_token_signs_in_once_and_a_full_icloud_keeps_the_last_backup() {
    let user = new_user("icloud-faults").await;
    let first = client_backup(&user, "first");
    backup(&user, ICLOUD, &first).await.expect("backup");

    // The token the page holds was spent elsewhere: CloudKit asks for a
    // sign-in, the page gives a new token once, and the flow goes on.
    control("icloud", "expire", obj(&[("token", get(&user, "icloudToken"))])).await;
    let recovered = recover(opts(&user, ICLOUD)).await.expect("recovery after a new sign-in");
    assert_eq!(text(&recovered, "clientBackup"), first);
    assert_eq!(number(&user, "icloudSignIns"), 2.0);

    // iCloud full: the backup fails at storeKey with its code; the last one recovers.
    control("icloud", "quota", obj(&[("user", get(&user, "icloudUser")), ("bytes", 0.into())])).await;
    let error = backup(&user, ICLOUD, &client_backup(&user, "second")).await.unwrap_err();
    control("icloud", "quota", obj(&[("user", get(&user, "icloudUser")), ("bytes", JsValue::NULL)])).await;
    assert_eq!(failure(&error).0, "ICLOUD_QUOTA_EXCEEDED");
    assert_eq!(failure(&error).1, "storeKey");
    let recovered = recover(opts(&user, ICLOUD)).await.expect("recovery");
    assert_eq!(text(&recovered, "clientBackup"), first);

    // Throttled with retryAfter: retried after the wait CloudKit asked for.
    control("icloud", "fail", obj(&[("count", 1.into()), ("serverErrorCode", "THROTTLED".into()), ("retryAfter", 0.2.into())])).await;
    let started = js_sys::Date::now();
    recover(opts(&user, ICLOUD)).await.expect("recovery after a throttle");
    assert!(js_sys::Date::now() - started >= 200.0, "waited CloudKit's retryAfter");

    // deleteBackup: the server's copy and every key record of the client.
    let deleted = delete_backup(opts(&user, ICLOUD).unchecked_into::<MethodOptions>()).await.map(JsValue::from).expect("deleteBackup");
    assert_eq!(number(&deleted, "removedKeyFiles"), 1.0);
    assert_eq!(js_sys::Array::from(&icloud_records(&user).await).length(), 0);
    assert_eq!(failure(&recover(opts(&user, ICLOUD)).await.unwrap_err()).0, "BACKUP_NOT_FOUND");

    // No iCloud options: a clear input error before anything is sent.
    let error = recover(opts_with(&user, ICLOUD, &[("icloud", JsValue::UNDEFINED)])).await.unwrap_err();
    assert_eq!(failure(&error).0, "INVALID_INPUT");
}

#[wasm_bindgen_test]
async fn drive_recovery_is_one_round_trip_and_reads_key_files_from_before_app_properties() {
    let user = new_user("gdrive-app-properties").await;
    let plaintext = client_backup(&user, "first");
    let result = backup(&user, GDRIVE, &plaintext).await.expect("backup");
    let files = key_files(&user).await;
    let key = get(&get(&files[0], "appProperties"), "key").as_string().expect("the key in appProperties");
    assert_eq!(key, text(&files[0], "content").trim(), "the same key in the content");

    // The listing carries the key: no download.
    clear_sent();
    let recovered = recover(opts(&user, GDRIVE)).await.expect("recovery");
    assert_eq!(text(&recovered, "clientBackup"), plaintext);
    assert_eq!(sent_to("drive", "GET", "/drive/v3/files", false), ["200"], "one Drive request: the list");

    // A key file as earlier versions wrote it (no appProperties): downloaded.
    strip_key_property(&user, &text(&result, "keyFileId")).await;
    clear_sent();
    let recovered = recover(opts(&user, GDRIVE)).await.expect("recovery of an older key file");
    assert_eq!(text(&recovered, "clientBackup"), plaintext);
    assert_eq!(sent_to("drive", "GET", "/drive/v3/files", false).len(), 2, "the list, then the download");
}

#[wasm_bindgen_test]
async fn gdrive_backup_then_recovery_gives_back_the_same_bytes() {
    let user = new_user("gdrive").await;
    let plaintext = client_backup(&user, "first");
    let result = backup(&user, GDRIVE, &plaintext).await.expect("backup");
    assert!(flag(&result, "portalNotified"));
    assert_eq!(number(&result, "removedKeyFiles"), 0.0);
    let client_id = text(&user, "clientId");
    let pair_ids = strings(&get(&result, "backupSharePairIds"));
    assert_eq!(pair_ids.len(), 2);
    assert!(pair_ids.iter().all(|id| id.starts_with(&format!("bsp-{client_id}-"))));

    // One key file, hidden in appDataFolder, named without the ids.
    let files = key_files(&user).await;
    assert_eq!(files.len(), 1);
    let file = &files[0];
    assert_eq!(text(file, "id"), text(&result, "keyFileId"));
    assert_eq!(strings(&get(file, "parents")), ["appDataFolder"]);
    let name = text(file, "name");
    assert!(name.ends_with(".txt") && !name.contains(&client_id) && !name.contains("custodian"));
    assert_eq!(text(file, "content").len(), 43, "the key as base64url");

    finished_as_a_cloud_backup(&user).await;

    let recovered = recover(opts(&user, GDRIVE)).await.expect("recovery");
    assert_eq!(text(&recovered, "clientBackup"), plaintext);
    let bytes = js_sys::Uint8Array::new(&get(&recovered, "clientBackupBytes")).to_vec();
    assert_eq!(bytes, plaintext.as_bytes());
    assert_eq!(text(&recovered, "version"), "current");
    assert!(!flag(&recovered, "fellBack"));
    assert_eq!(text(&recovered, "backupId"), text(&result, "backupId"));
    assert_eq!(strings(&get(&recovered, "backupSharePairIds")), pair_ids);
}

#[wasm_bindgen_test]
async fn a_bytes_backup_recovers_to_the_same_bytes() {
    let user = new_user("bytes").await;
    let plaintext = client_backup(&user, "bytes");
    let options = opts(&user, GDRIVE);
    let bytes = js_sys::Uint8Array::from(plaintext.as_bytes());
    Reflect::set(&options, &"clientBackup".into(), &bytes).unwrap();
    backup_wallet(options.unchecked_into::<BackupOptions>()).await.expect("backup");
    let recovered = recover(opts(&user, GDRIVE)).await.expect("recovery");
    assert_eq!(js_sys::Uint8Array::new(&get(&recovered, "clientBackupBytes")).to_vec(), plaintext.as_bytes());
}

#[wasm_bindgen_test]
async fn two_backups_in_a_row_leave_exactly_one_key_file() {
    let user = new_user("twice").await;
    backup(&user, GDRIVE, &client_backup(&user, "first")).await.expect("first backup");
    let second_plaintext = client_backup(&user, "second");
    let second = backup(&user, GDRIVE, &second_plaintext).await.expect("second backup");
    assert_eq!(number(&second, "removedKeyFiles"), 1.0);

    let files = key_files(&user).await;
    assert_eq!(files.len(), 1, "Drive: {}", json(&drive_files(&user).await));
    assert_eq!(text(&files[0], "id"), text(&second, "keyFileId"));

    let recovered = recover(opts(&user, GDRIVE)).await.expect("recovery");
    assert_eq!(text(&recovered, "clientBackup"), second_plaintext);
    assert!(!flag(&recovered, "fellBack"));
    // The server dropped the first version once the second was confirmed.
    let list = list_backups(opts(&user, GDRIVE).unchecked_into::<ServerOptions>()).await.expect("list");
    let list: JsValue = list.into();
    let summaries: Vec<JsValue> = js_sys::Array::from(&list).iter().collect();
    assert_eq!(summaries.len(), 1);
    assert!(flag(&summaries[0], "confirmed"));
    assert_eq!(text(&summaries[0], "backupId"), text(&second, "backupId"));
}

#[wasm_bindgen_test]
async fn password_backup_then_recovery_and_a_wrong_password() {
    let user = new_user("password").await;
    let plaintext = client_backup(&user, "password");
    let result = backup(&user, PASSWORD, &plaintext).await.expect("backup");
    assert!(flag(&result, "portalNotified"));
    assert!(get(&result, "keyFileId").is_undefined());
    assert!(key_files(&user).await.is_empty(), "PASSWORD must not touch Drive");

    let recovered = recover(opts(&user, PASSWORD)).await.expect("recovery");
    assert_eq!(text(&recovered, "clientBackup"), plaintext);

    let wrong = opts_with(&user, PASSWORD, &[("password", "not the password".into())]);
    let error = recover(wrong).await.unwrap_err();
    assert_eq!(failure(&error), ("WRONG_PASSWORD".into(), "decrypt".into()));
    assert!(!text(&error, "message").contains("not the password"));
}

#[wasm_bindgen_test]
async fn an_expired_drive_token_is_refreshed_once() {
    let user = new_user("expired").await;
    rotate_drive_token(&user).await;
    let plaintext = client_backup(&user, "expired");
    backup(&user, GDRIVE, &plaintext).await.expect("backup with a token refresh");
    assert_eq!(number(&user, "tokenCalls"), 2.0, "one token, then one refresh");
    assert_eq!(key_files(&user).await.len(), 1);

    // A token that stays refused: one refresh, then a typed error.
    let refused = opts_with(&user, GDRIVE, &[("getDriveToken", js_sys::Function::new_no_args("return 'drive-token-nobody'").into())]);
    let error = recover(refused).await.unwrap_err();
    assert_eq!(failure(&error), ("DRIVE_UNAUTHENTICATED".into(), "fetchKey".into()));
    assert_eq!(number(&error, "status"), 401.0);
}

#[wasm_bindgen_test]
async fn drive_rate_limited_twice_then_the_backup_succeeds() {
    let user = new_user("ratelimit").await;
    // The log is the whole run's: other tests' 429s are not this one's.
    drive_control("log/clear", obj(&[])).await;
    drive_control("fail", obj(&[("count", 2.into()), ("status", 429.into())])).await;
    let plaintext = client_backup(&user, "ratelimit");
    backup(&user, GDRIVE, &plaintext).await.expect("backup after two 429s");
    let log: Vec<JsValue> = js_sys::Array::from(&drive_log().await).iter().collect();
    let limited = log.iter().filter(|entry| get(entry, "status").as_f64() == Some(429.0)).count();
    assert_eq!(limited, 2);
    let recovered = recover(opts(&user, GDRIVE)).await.expect("recovery");
    assert_eq!(text(&recovered, "clientBackup"), plaintext);
}

#[wasm_bindgen_test]
async fn a_drive_too_slow_to_answer_fails_in_bounded_time_and_the_previous_backup_stays() {
    let user = new_user("slow").await;
    let first = client_backup(&user, "first");
    backup(&user, GDRIVE, &first).await.expect("first backup");

    let impatient = [
        ("timeoutMs", 300.into()),
        ("retry", obj(&[("maxAttempts", 2.into()), ("baseDelayMs", 5.into()), ("maxDelayMs", 10.into()), ("maxTotalMs", 2000.into())])),
    ];
    drive_control("slow", obj(&[("ms", 3000.into())])).await;
    let started = js_sys::Date::now();
    let error = backup_with(&user, opts_with(&user, GDRIVE, &impatient), &client_backup(&user, "second")).await.unwrap_err();
    let waited = js_sys::Date::now() - started;
    drive_control("slow", obj(&[("ms", 0.into())])).await;
    assert_eq!(failure(&error), ("NETWORK".into(), "storeKey".into()));
    // Two attempts of 300 ms, not the stand-in's 3 s: the user is not left waiting.
    assert!(waited < 2500.0, "gave up after {waited} ms");

    let recovered = recover(opts(&user, GDRIVE)).await.expect("recovery");
    assert_eq!(text(&recovered, "clientBackup"), first);
}

#[wasm_bindgen_test]
async fn server_store_failing_after_the_key_write_keeps_the_previous_backup() {
    let user = new_user("storefail").await;
    let first = client_backup(&user, "first");
    backup(&user, GDRIVE, &first).await.expect("first backup");

    // A token the Worker has not resolved yet, while Portal is failing: the
    // Worker cannot authenticate the PUT and answers 503.
    let fresh_token = add_portal_token(&user).await;
    portal_control("fail", obj(&[("count", 20.into()), ("status", 503.into()), ("path", "/clients/me".into())])).await;
    let options = opts_with(&user, GDRIVE, &[("portalToken", fresh_token)]);
    let error = backup_with(&user, options, &client_backup(&user, "second")).await.unwrap_err();
    portal_reset(&user).await;
    assert_eq!(failure(&error), ("PORTAL_UNAVAILABLE".into(), "storeShare".into()));
    assert_eq!(number(&error, "status"), 503.0);
    assert_eq!(key_files(&user).await.len(), 1, "the unused new key file is removed");

    let recovered = recover(opts(&user, GDRIVE)).await.expect("recovery");
    assert_eq!(text(&recovered, "clientBackup"), first);
}

#[wasm_bindgen_test]
async fn portal_not_told_then_told_on_retry() {
    let user = new_user("notify").await;
    portal_control("fail", obj(&[("count", 50.into()), ("status", 503.into()), ("path", "backup-share-pairs".into())])).await;
    let plaintext = client_backup(&user, "notify");
    let result = backup(&user, GDRIVE, &plaintext).await.expect("the backup itself succeeds");
    assert!(!flag(&result, "portalNotified"));
    assert!(strings(&steps(&user, "error")).contains(&"notifyPortal".to_string()));
    portal_reset(&user).await;
    assert!(strings(&portal_calls(&user).await).is_empty());

    // Storage is complete and confirmed: recovery works before Portal knows.
    let recovered = recover(opts(&user, GDRIVE)).await.expect("recovery");
    assert_eq!(text(&recovered, "clientBackup"), plaintext);

    let notified = notify_portal(opts(&user, GDRIVE).unchecked_into::<MethodOptions>()).await.expect("notify");
    let notified: JsValue = notified.into();
    assert!(flag(&notified, "portalNotified"));
    assert_eq!(strings(&get(&notified, "backupSharePairIds")), strings(&get(&result, "backupSharePairIds")));
    assert_eq!(
        strings(&portal_calls(&user).await),
        ["STORED_CLIENT_BACKUP_SHARE_KEY", "STORED_CLIENT_BACKUP_SHARE"],
        "Portal hears the key first, as from its own SDK"
    );
}

#[wasm_bindgen_test]
async fn a_tampered_ciphertext_does_not_decrypt() {
    let user = new_user("tamper").await;
    backup(&user, GDRIVE, &client_backup(&user, "tamper")).await.expect("backup");
    tamper_stored_ciphertext(&user, GDRIVE).await;
    let error = recover(opts(&user, GDRIVE)).await.unwrap_err();
    assert_eq!(failure(&error), ("CANNOT_DECRYPT".into(), "decrypt".into()));
}

#[wasm_bindgen_test]
async fn client_a_backup_never_recovers_as_client_b() {
    let alice = new_user("alice").await;
    backup(&alice, GDRIVE, &client_backup(&alice, "alice")).await.expect("backup");

    // Bob, even signed in to Alice's Google account, has nothing to recover.
    let bob = new_user("bob").await;
    let bob_in_alices_drive = opts_with(&bob, GDRIVE, &[("getDriveToken", get(&opts(&alice, GDRIVE), "getDriveToken"))]);
    let error = recover(bob_in_alices_drive).await.unwrap_err();
    let (code, _) = failure(&error);
    assert!(code == "KEY_NOT_FOUND" || code == "BACKUP_NOT_FOUND", "{code}");

    // Alice's token with Bob's clientId: the server answers for Alice, and
    // the module refuses to go on.
    let mixed = opts_with(&alice, GDRIVE, &[("clientId", get(&bob, "clientId"))]);
    let error = recover(mixed).await.unwrap_err();
    assert_eq!(text(&error, "code"), "CLIENT_MISMATCH");
}

#[wasm_bindgen_test]
async fn delete_backup_removes_the_key_files_and_the_server_copy() {
    let user = new_user("delete").await;
    backup(&user, GDRIVE, &client_backup(&user, "delete")).await.expect("backup");
    let deleted = delete_backup(opts(&user, GDRIVE).unchecked_into::<MethodOptions>()).await.expect("delete");
    let deleted: JsValue = deleted.into();
    assert_eq!(number(&deleted, "removedKeyFiles"), 1.0);
    assert!(key_files(&user).await.is_empty());
    let error = recover(opts(&user, GDRIVE)).await.unwrap_err();
    let (code, _) = failure(&error);
    assert!(code == "KEY_NOT_FOUND" || code == "BACKUP_NOT_FOUND", "{code}");
}
