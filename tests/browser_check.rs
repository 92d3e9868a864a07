//! `checkBackup` and `listCustodianBackups` in headless Chromium, against
//! the real Worker in workerd and the stand-ins: green after a backup, and
//! each fault the stand-ins can put in a backup's way named by its code.
#![cfg(all(target_arch = "wasm32", feature = "browser"))]

use js_sys::Array;
use portal_backup::browser::{CheckOptions, ServerOptions, check_backup, list_custodian_backups};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[path = "common/browser.rs"]
mod support;
use support::*;

#[wasm_bindgen(inline_js = r#"
const DRIVE = 'http://127.0.0.1:8791';
/** Deletes every file of the user's Drive, through Drive's own API. */
export async function emptyDrive(user) {
  const files = await (await fetch(`${DRIVE}/__control/files?user=${encodeURIComponent(user.driveUser)}`)).json();
  for (const { id } of files) {
    const res = await fetch(`${DRIVE}/drive/v3/files/${id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${user.driveToken}` } });
    if (res.status !== 204) throw new Error(`delete ${id}: ${res.status}`);
  }
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = emptyDrive)]
    async fn empty_drive(user: &JsValue);
}

async fn check(options: JsValue) -> JsValue {
    check_backup(options.unchecked_into::<CheckOptions>()).await.map(Into::into).expect("checkBackup resolves")
}

/// `checkBackup` with the device's current plaintext to compare.
async fn check_against(user: &JsValue, method: &str, device_backup: &str) -> JsValue {
    check(opts_with(user, method, &[("clientBackup", device_backup.into())])).await
}

fn problems(check: &JsValue) -> Vec<String> {
    strings(&get(check, "problems"))
}

/// Portal delivers its half after it is told, on its own time.
async fn wait_for_custodian(user: &JsValue) {
    portal_deliveries(&text(user, "clientId")).await;
}

#[wasm_bindgen_test]
async fn green_after_a_drive_backup_then_the_missing_key_file_is_named() {
    let user = new_user("check-gdrive").await;
    let plaintext = client_backup(&user, "check");
    let backed_up = backup(&user, GDRIVE, &plaintext).await.expect("backup");
    wait_for_custodian(&user).await;

    let green = check_against(&user, GDRIVE, &plaintext).await;
    assert_eq!(problems(&green), Vec::<String>::new(), "{}", json(&green));
    assert!(flag(&green, "recoverable"));
    assert!(flag(&green, "portalNotified"));
    assert!(flag(&green, "custodianStored"));
    assert_eq!(text(&green, "method"), GDRIVE);
    assert_eq!(text(&green, "createdAt"), text(&backed_up, "createdAt"));
    // Never the plaintext, in any field.
    assert!(!json(&green).contains("share"), "{}", json(&green));

    // The device moved on (new shares): the backup no longer matches it.
    let outdated = check_against(&user, GDRIVE, &client_backup(&user, "rotated")).await;
    assert_eq!(problems(&outdated), ["BACKUP_OUTDATED"]);
    assert!(!flag(&outdated, "recoverable"));

    empty_drive(&user).await;
    let keyless = check(opts(&user, GDRIVE)).await;
    assert_eq!(problems(&keyless), ["KEY_NOT_FOUND"]);
    assert!(!flag(&keyless, "recoverable"));
    // What the server holds is still reported.
    assert!(flag(&keyless, "portalNotified") && flag(&keyless, "custodianStored"));
}

#[wasm_bindgen_test]
async fn a_wrong_password_and_a_damaged_ciphertext_are_named() {
    let user = new_user("check-password").await;
    let plaintext = method_backup(&user, "check", PASSWORD);
    backup(&user, PASSWORD, &plaintext).await.expect("backup");
    wait_for_custodian(&user).await;
    assert!(flag(&check_against(&user, PASSWORD, &plaintext).await, "recoverable"));

    let wrong = check(opts_with(&user, PASSWORD, &[("password", "not the password".into())])).await;
    assert_eq!(problems(&wrong), ["WRONG_PASSWORD"]);
    assert!(!flag(&wrong, "recoverable"));
    assert!(!json(&wrong).contains("not the password"));

    tamper_stored_ciphertext(&user, PASSWORD).await;
    let damaged = check(opts(&user, PASSWORD)).await;
    assert_eq!(problems(&damaged), ["WRONG_PASSWORD"], "a password envelope cannot tell a wrong password from damage");
    assert!(!flag(&damaged, "recoverable"));

    let drive_user = new_user("check-damaged").await;
    backup(&drive_user, GDRIVE, &client_backup(&drive_user, "check")).await.expect("backup");
    wait_for_custodian(&drive_user).await;
    tamper_stored_ciphertext(&drive_user, GDRIVE).await;
    let damaged = check(opts(&drive_user, GDRIVE)).await;
    assert_eq!(problems(&damaged), ["CANNOT_DECRYPT"]);
    assert!(!flag(&damaged, "recoverable"));
}

#[wasm_bindgen_test]
async fn an_unconfirmed_backup_keeps_the_last_confirmed_one_recoverable() {
    let user = new_user("check-unconfirmed").await;
    let first = method_backup(&user, "first", PASSWORD);
    let confirmed = backup(&user, PASSWORD, &first).await.expect("first backup");
    wait_for_custodian(&user).await;

    // The second backup stops at confirm: stored, never confirmed.
    control("edge", "fail", obj(&[("count", 20.into()), ("status", 503.into()), ("path", "/confirm".into())])).await;
    let error = backup(&user, PASSWORD, &method_backup(&user, "second", PASSWORD)).await.unwrap_err();
    heal_all().await;
    assert_eq!(failure(&error).1, "confirm");

    let check = check_against(&user, PASSWORD, &first).await;
    assert_eq!(problems(&check), ["BACKUP_UNCONFIRMED"]);
    assert!(flag(&check, "recoverable"), "the last confirmed backup is kept: {}", json(&check));
    assert_eq!(text(&check, "createdAt"), text(&confirmed, "createdAt"), "the version recovery opens");
}

#[wasm_bindgen_test]
async fn nothing_backed_up_portal_not_told_and_no_custodian_half_are_named() {
    let nobody = new_user("check-nobody").await;
    let none = check(opts(&nobody, PASSWORD)).await;
    assert_eq!(problems(&none), ["BACKUP_NOT_FOUND"]);
    assert!(!flag(&none, "recoverable") && !flag(&none, "custodianStored"));
    assert!(get(&none, "createdAt").is_null());

    // Portal never hears of the backup, so it never sends its half.
    let user = new_user("check-untold").await;
    portal_control("fail", obj(&[("count", 50.into()), ("status", 503.into()), ("path", "backup-share-pairs".into())])).await;
    let plaintext = method_backup(&user, "untold", PASSWORD);
    let result = backup(&user, PASSWORD, &plaintext).await.expect("the backup itself succeeds");
    portal_reset(&user).await;
    assert!(!flag(&result, "portalNotified"));
    let untold = check_against(&user, PASSWORD, &plaintext).await;
    assert_eq!(problems(&untold), ["PORTAL_NOT_NOTIFIED", "CUSTODIAN_BACKUP_MISSING"]);
    assert!(!flag(&untold, "recoverable"));

    // Portal told, but its deliveries to the server's webhook fail.
    let user = new_user("check-undelivered").await;
    control("edge", "fail", obj(&[("count", 100.into()), ("status", 503.into()), ("path", "/webhooks/backup".into())])).await;
    backup(&user, PASSWORD, &method_backup(&user, "undelivered", PASSWORD)).await.expect("backup");
    wait_for_custodian(&user).await;
    heal_all().await;
    let undelivered = check(opts(&user, PASSWORD)).await;
    assert_eq!(problems(&undelivered), ["CUSTODIAN_BACKUP_MISSING"]);
    assert!(!flag(&undelivered, "recoverable") && flag(&undelivered, "portalNotified"));
}

#[wasm_bindgen_test]
async fn the_custodian_list_names_portals_deliveries_and_only_this_clients() {
    let alice = new_user("custodian-alice").await;
    let bob = new_user("custodian-bob").await;
    backup(&alice, GDRIVE, &client_backup(&alice, "alice")).await.expect("backup");
    wait_for_custodian(&alice).await;

    let listed: JsValue =
        list_custodian_backups(opts(&alice, GDRIVE).unchecked_into::<ServerOptions>()).await.expect("list").into();
    let listed: Vec<JsValue> = Array::from(&listed).iter().collect();
    let methods: Vec<String> = listed.iter().map(|b| text(b, "backupMethod")).collect();
    assert_eq!(methods, ["GDRIVE-ED25519", "GDRIVE-SECP256K1"]);
    for entry in &listed {
        assert!(!text(entry, "receivedAt").is_empty());
        let keys: Vec<String> = js_sys::Object::keys(entry.unchecked_ref::<js_sys::Object>()).iter().filter_map(|k| k.as_string()).collect();
        assert_eq!(keys, ["backupMethod", "receivedAt"], "nothing else, never the share");
    }

    let bobs: JsValue =
        list_custodian_backups(opts(&bob, GDRIVE).unchecked_into::<ServerOptions>()).await.expect("list").into();
    assert_eq!(Array::from(&bobs).length(), 0);
    // Bob's token with Alice's client id: refused, not answered.
    let mixed = opts_with(&bob, GDRIVE, &[("clientId", get(&alice, "clientId"))]);
    let Err(error) = list_custodian_backups(mixed.unchecked_into::<ServerOptions>()).await else {
        panic!("an answer about another client was accepted");
    };
    assert_eq!(text(&error, "code"), "CLIENT_MISMATCH");
}
