//! `changeBackupKey` in headless Chromium, against the real Worker in
//! workerd and the stand-ins: a new password, a new Drive key file or iCloud
//! record, for the same backup, with Portal asked nothing. What a user
//! notices: the new key opens the backup, the old one no longer opens
//! anything the server holds, the check stays green, and a wrong old
//! password changes nothing. Every step × fault is in the fault matrix.
#![cfg(all(target_arch = "wasm32", feature = "browser"))]

use portal_backup::browser::{CheckOptions, check_backup};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[path = "common/browser.rs"]
mod support;
use support::*;

async fn green(user: &JsValue, method: &str, plaintext: &str, extra: &[(&str, JsValue)]) -> bool {
    let mut options = vec![("clientBackup", JsValue::from(plaintext))];
    options.extend(extra.iter().cloned());
    let check = check_backup(opts_with(user, method, &options).unchecked_into::<CheckOptions>()).await.map(JsValue::from).expect("checkBackup resolves");
    flag(&check, "recoverable") && strings(&get(&check, "problems")).is_empty()
}

#[wasm_bindgen_test]
async fn a_new_password_opens_the_same_backup_and_the_old_one_nothing() {
    let user = new_user("change-password").await;
    let plaintext = method_backup(&user, "before", PASSWORD);
    let before = backup(&user, PASSWORD, &plaintext).await.expect("backup");
    portal_deliveries(&text(&user, "clientId")).await;
    let portal_before = strings(&portal_calls(&user).await);

    // A wrong current password: WRONG_PASSWORD, and nothing is written.
    let wrong = change_key(opts_with(&user, PASSWORD, &[("password", "not it".into()), ("newPassword", "new one".into())]))
        .await
        .unwrap_err();
    assert_eq!(failure(&wrong), ("WRONG_PASSWORD".into(), "decrypt".into()));
    let unchanged = recover(opts(&user, PASSWORD)).await.expect("the old password still opens it");
    assert_eq!(text(&unchanged, "backupId"), text(&before, "backupId"), "nothing was stored");

    clear_sent();
    let changed = change_key(opts_with(&user, PASSWORD, &[("newPassword", "a brand new passphrase".into())]))
        .await
        .expect("changeBackupKey");
    assert_ne!(text(&changed, "backupId"), text(&before, "backupId"), "a new version");
    assert_eq!(strings(&get(&changed, "backupSharePairIds")), strings(&get(&before, "backupSharePairIds")));
    assert!(flag(&changed, "portalNotified"), "the pairs Portal holds as stored are the same");
    // Three round trips, none to Portal.
    assert_eq!(sent_to("edge", "GET", "/v1/client-backups/PASSWORD", false).len(), 1);
    assert_eq!(sent_to("edge", "PUT", "/v1/client-backups/PASSWORD", false).len(), 1);
    assert_eq!(sent_to("edge", "POST", "/confirm", false).len(), 1);
    assert!(sent_to("portal", "PATCH", "/backup-share-pairs", false).is_empty(), "Portal is asked nothing");
    assert!(sent_to("edge", "POST", "/notify", false).is_empty());
    assert_eq!(strings(&portal_calls(&user).await), portal_before, "Portal heard nothing new");

    let new_options = || opts_with(&user, PASSWORD, &[("password", "a brand new passphrase".into())]);
    let recovered = recover(new_options()).await.expect("the new password opens it");
    assert_eq!(text(&recovered, "clientBackup"), plaintext);
    assert!(!flag(&recovered, "fellBack"));
    let old = recover(opts(&user, PASSWORD)).await.unwrap_err();
    assert_eq!(failure(&old).0, "WRONG_PASSWORD", "the old password opens nothing the server holds");
    assert!(green(&user, PASSWORD, &plaintext, &[("password", "a brand new passphrase".into())]).await);

    // The new password is needed: an empty one is refused before anything is sent.
    let empty = change_key(opts_with(&user, PASSWORD, &[("password", "a brand new passphrase".into())])).await.unwrap_err();
    assert_eq!(failure(&empty).0, "INVALID_INPUT");
}

/// A confirmed `method` backup whose custodian half Portal delivered, then
/// its key changed (the requests sent from the change on): the plaintext,
/// the backup's result and the change's.
async fn change_a_cloud_key(user: &JsValue, method: &str) -> (String, JsValue, JsValue) {
    let plaintext = method_backup(user, "before", method);
    let before = backup(user, method, &plaintext).await.expect("backup");
    portal_deliveries(&text(user, "clientId")).await;
    clear_sent();
    let changed = change_key(opts(user, method)).await.expect("changeBackupKey");
    (plaintext, before, changed)
}

/// After a cloud key change: a new key file or record, the only one left,
/// Portal asked nothing, and it opens the changed version; the check is green.
async fn only_the_new_key_is_left(user: &JsValue, method: &str, plaintext: &str, before: &JsValue, changed: &JsValue) {
    assert_ne!(text(changed, "keyFileId"), text(before, "keyFileId"));
    assert_eq!(number(changed, "removedKeyFiles"), 1.0);
    assert!(flag(changed, "portalNotified"));
    assert!(sent_to("portal", "PATCH", "/backup-share-pairs", false).is_empty(), "Portal is asked nothing");
    assert_eq!(stored_keys(user, method).await, [text(changed, "keyFileId")], "only the new key file or record");
    let recovered = recover(opts(user, method)).await.expect("recovery");
    assert_eq!(text(&recovered, "clientBackup"), plaintext);
    assert_eq!(text(&recovered, "backupId"), text(changed, "backupId"));
    assert!(green(user, method, plaintext, &[]).await);
}

#[wasm_bindgen_test]
async fn a_new_drive_key_file_replaces_the_old_one_after_the_confirm() {
    let user = new_user("change-drive").await;
    let (plaintext, before, changed) = change_a_cloud_key(&user, GDRIVE).await;
    only_the_new_key_is_left(&user, GDRIVE, &plaintext, &before, &changed).await;
}

#[wasm_bindgen_test]
async fn a_new_icloud_record_replaces_the_old_one_after_the_confirm() {
    let user = new_user("change-icloud").await;
    let (plaintext, before, changed) = change_a_cloud_key(&user, ICLOUD).await;
    // The query and the create are made at once; the package sends them one
    // after the other, each with the token the answer before gave: no
    // CloudKit request is refused (421) for a spent token.
    assert_eq!(
        sent_to("icloud", "POST", "/records/", false),
        ["200"; 4],
        "query, create, read back, delete: one at a time, none refused"
    );
    only_the_new_key_is_left(&user, ICLOUD, &plaintext, &before, &changed).await;
    assert_eq!(number(&user, "icloudSignIns"), 1.0, "the token chain held across four flows");
}

#[wasm_bindgen_test]
async fn a_change_that_fails_before_the_confirm_leaves_the_old_key_working() {
    let user = new_user("change-fails").await;
    let plaintext = method_backup(&user, "before", GDRIVE);
    let before = backup(&user, GDRIVE, &plaintext).await.expect("backup");

    control("edge", "fail", obj(&[("count", 20.into()), ("status", 503.into()), ("path", "/confirm".into())])).await;
    let error = change_key(opts(&user, GDRIVE)).await.unwrap_err();
    heal_all().await;
    assert_eq!(failure(&error), ("SERVER_UNAVAILABLE".into(), "confirm".into()));
    // Both key files are there; recovery opens the last confirmed version with the old key.
    assert_eq!(key_files(&user).await.len(), 2);
    let recovered = recover(opts(&user, GDRIVE)).await.expect("recovery");
    assert_eq!(text(&recovered, "clientBackup"), plaintext);
    assert_eq!(text(&recovered, "backupId"), text(&before, "backupId"));

    // Trying again finishes the job and leaves one key file.
    change_key(opts(&user, GDRIVE)).await.expect("changeBackupKey again");
    assert_eq!(key_files(&user).await.len(), 1);
}
