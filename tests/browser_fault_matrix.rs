//! The fault matrix: every step of a Drive backup, a password backup and
//! both recoveries, and every request of a Drive and a password
//! `checkBackup` (`ROWS`) × every failure kind the stand-ins and the edge in
//! front of the Worker can inject (`FAULTS`), in headless Chromium against
//! the real Worker (workerd). `plan` derives each cell from the documented
//! retry policy (docs/BROWSER.md, "Retries"); each cell then checks what a
//! user would notice:
//! - the call fails at that step with a stable code and status after exactly
//!   the attempts the policy allows, or resolves where the flow absorbs the
//!   fault (Portal not told, an old key file left) or a token refresh cures it;
//!   a check resolves, not recoverable, with that code as its one problem;
//! - a recovery right after returns the last confirmed backup, byte for byte
//!   (after a check: a check of the same wallet is green, opening to it);
//! - a backup that fails never had Portal told STORED_CLIENT_BACKUP_SHARE
//!   (no `/notify` went out: SHARE follows a successful `confirm`);
//! - a retry of the backup succeeds, and Drive ends with exactly one key file.
//!
//! Cells where the fault cannot happen at that step are n/a, with the reason.
//! Each flow prints its block of the matrix (`-- --nocapture` shows it when
//! every cell held); docs/RELIABILITY.md §4 holds the last run.
#![cfg(all(target_arch = "wasm32", feature = "browser"))]

use std::collections::BTreeMap;

use portal_backup::browser::{CheckOptions, check_backup};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[path = "common/browser.rs"]
mod support;
use support::*;

/// Attempts per request in the matrix's retry policy; backoff of a few ms, so
/// cells do not sit through production waits.
const MAX_ATTEMPTS: u32 = 3;
/// The module gives up on a request after TIMEOUT_MS; a delayed one is
/// handled DELAY_MS late, past it.
const TIMEOUT_MS: u32 = 1_000;
const DELAY_MS: u32 = 1_500;
/// "Until healed": more than any cell sends.
const PERSISTENT: u32 = 100;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    DriveBackup,
    PasswordBackup,
    DriveRecovery,
    PasswordRecovery,
    /// `checkBackup` after a good confirmed backup.
    DriveCheck,
    PasswordCheck,
}

impl Flow {
    fn method(self) -> &'static str {
        match self {
            Flow::DriveBackup | Flow::DriveRecovery | Flow::DriveCheck => GDRIVE,
            Flow::PasswordBackup | Flow::PasswordRecovery | Flow::PasswordCheck => PASSWORD,
        }
    }
    fn is_backup(self) -> bool {
        matches!(self, Flow::DriveBackup | Flow::PasswordBackup)
    }
    fn is_check(self) -> bool {
        matches!(self, Flow::DriveCheck | Flow::PasswordCheck)
    }
    fn title(self) -> &'static str {
        match self {
            Flow::DriveBackup => "Drive backup",
            Flow::PasswordBackup => "password backup",
            Flow::DriveRecovery => "Drive recovery",
            Flow::PasswordRecovery => "password recovery",
            Flow::DriveCheck => "Drive check",
            Flow::PasswordCheck => "password check",
        }
    }
}

/// The service a step's requests go to, as the browser sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    Drive,
    Worker,
    Portal,
}

impl Service {
    /// Whose `/__control/` API injects its faults: the Worker's is the edge's.
    fn control(self) -> &'static str {
        match self {
            Service::Drive => "drive",
            Service::Worker => "edge",
            Service::Portal => "portal",
        }
    }
}

/// The requests a step sends, which a fault rule aims at.
#[derive(Clone, Copy)]
struct Target {
    service: Service,
    method: &'static str,
    /// A substring of the request path, or all of it when `exact`.
    path: &'static str,
    exact: bool,
    /// Requests the step sends when nothing fails.
    requests: u32,
    /// Of those, the ones sent before any answer: all that go out when every
    /// answer fails.
    at_once: u32,
}

struct Row {
    flow: Flow,
    /// The `step` errors and `onProgress` report.
    step: &'static str,
    /// The step, plus which of its two services when it talks to two.
    label: &'static str,
    target: Option<Target>,
}

const fn local(flow: Flow, step: &'static str) -> Row {
    Row { flow, step, label: step, target: None }
}

const fn remote(
    flow: Flow,
    step: &'static str,
    label: &'static str,
    service: Service,
    method: &'static str,
    path: &'static str,
    (requests, at_once): (u32, u32),
) -> Row {
    Row { flow, step, label, target: Some(Target { service, method, path, exact: false, requests, at_once }) }
}

/// `row`, aimed at requests whose path is all of its `path`: the Worker's
/// list `/v1/client-backups`, not the versions below it.
const fn exact(mut row: Row) -> Row {
    if let Some(target) = &mut row.target {
        target.exact = true;
    }
    row
}

use Flow::*;
use Service::*;

/// Every step of the four flows (src/flow.rs), in the order they run, then
/// every request of a check: the recovery's beside the Worker's two lists,
/// all in the first round trip.
const ROWS: &[Row] = &[
    local(DriveBackup, "encrypt"),
    remote(DriveBackup, "storeKey", "storeKey", Drive, "POST", "/upload/drive/v3/files", (1, 1)),
    remote(DriveBackup, "storeShare", "storeShare", Worker, "PUT", "/v1/client-backups/GDRIVE", (1, 1)),
    // Read the new key back ‖ list the key files.
    remote(DriveBackup, "checkStorage", "checkStorage", Drive, "GET", "/drive/v3/files", (2, 2)),
    remote(DriveBackup, "notifyPortal", "notifyPortal: Portal PATCH", Portal, "PATCH", "/backup-share-pairs", (1, 1)),
    remote(DriveBackup, "notifyPortal", "notifyPortal: Worker /notify", Worker, "POST", "/notify", (1, 1)),
    remote(DriveBackup, "confirm", "confirm", Worker, "POST", "/confirm", (1, 1)),
    // The one key file of the first backup.
    remote(DriveBackup, "removeOldKeys", "removeOldKeys", Drive, "DELETE", "/drive/v3/files/", (1, 1)),
    local(PasswordBackup, "encrypt"),
    remote(PasswordBackup, "storeShare", "storeShare", Worker, "PUT", "/v1/client-backups/PASSWORD", (1, 1)),
    remote(PasswordBackup, "notifyPortal", "notifyPortal: Portal PATCH", Portal, "PATCH", "/backup-share-pairs", (1, 1)),
    remote(PasswordBackup, "notifyPortal", "notifyPortal: Worker /notify", Worker, "POST", "/notify", (1, 1)),
    remote(PasswordBackup, "confirm", "confirm", Worker, "POST", "/confirm", (1, 1)),
    // List the key files: their keys come in their appProperties.
    remote(DriveRecovery, "fetchKey", "fetchKey", Drive, "GET", "/drive/v3/files", (1, 1)),
    remote(DriveRecovery, "fetchShare", "fetchShare", Worker, "GET", "/v1/client-backups/GDRIVE", (1, 1)),
    local(DriveRecovery, "decrypt"),
    remote(PasswordRecovery, "fetchShare", "fetchShare", Worker, "GET", "/v1/client-backups/PASSWORD", (1, 1)),
    local(PasswordRecovery, "decrypt"),
    remote(DriveCheck, "fetchKey", "fetchKey: Drive list", Drive, "GET", "/drive/v3/files", (1, 1)),
    remote(DriveCheck, "fetchShare", "fetchShare: Worker GET versions", Worker, "GET", "/v1/client-backups/GDRIVE", (1, 1)),
    exact(remote(DriveCheck, "listBackups", "Worker GET list", Worker, "GET", "/v1/client-backups", (1, 1))),
    remote(DriveCheck, "listCustodianBackups", "Worker GET custodian list", Worker, "GET", "/v1/custodian-backups", (1, 1)),
    remote(PasswordCheck, "fetchShare", "fetchShare: Worker GET versions", Worker, "GET", "/v1/client-backups/PASSWORD", (1, 1)),
    exact(remote(PasswordCheck, "listBackups", "Worker GET list", Worker, "GET", "/v1/client-backups", (1, 1))),
    remote(PasswordCheck, "listCustodianBackups", "Worker GET custodian list", Worker, "GET", "/v1/custodian-backups", (1, 1)),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    Dropped,
    ServerError,
    Timeout,
    Unauthorized,
    Forbidden,
    RateLimited,
    QuotaFull,
    PortalDown,
}

const FAULTS: [Fault; 8] = [
    Fault::Dropped,
    Fault::ServerError,
    Fault::Timeout,
    Fault::Unauthorized,
    Fault::Forbidden,
    Fault::RateLimited,
    Fault::QuotaFull,
    Fault::PortalDown,
];

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Dropped => "dropped",
            Fault::ServerError => "5xx",
            Fault::Timeout => "timeout",
            Fault::Unauthorized => "401",
            Fault::Forbidden => "403",
            Fault::RateLimited => "429",
            Fault::QuotaFull => "quota",
            Fault::PortalDown => "Portal down",
        }
    }
}

/// How the call ends, per the documented policy.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Rejects with `{code, step, status}`.
    Fails,
    /// Resolves; the step's failure shows only as an `onProgress` error
    /// (notifyPortal: `portalNotified: false`; removeOldKeys: a key file left).
    Absorbed,
    /// Resolves after the one token refresh a Drive 401 gets.
    Refreshed,
    /// A check resolves, not recoverable, with the code as its one problem.
    Reported,
}

/// Which backup is the last confirmed one once the fault is healed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Confirmed {
    /// The backup made before the fault.
    Before,
    /// The one the faulty call made.
    New,
}

/// A `/__control/` call: service, route, JSON body.
struct Injection(&'static str, &'static str, Vec<(&'static str, JsValue)>);

struct Case {
    injections: Vec<Injection>,
    /// Use a Portal token the Worker has not verified yet, so it asks Portal.
    fresh_token: bool,
    outcome: Outcome,
    code: &'static str,
    status: Option<u16>,
    /// Requests the module sends to the target during the call.
    attempts: u32,
    confirmed: Confirmed,
}

enum Cell {
    NotApplicable(&'static str),
    Applicable(Case),
}

/// The cell of `row` × `fault`: the injection, and what the documented retry
/// policy says happens. Retried (docs/BROWSER.md): no answer, 5xx, 429, Drive
/// 403 rate limits, up to `retry.maxAttempts`; Drive 401: one new token.
/// Everything else fails at once.
fn plan(row: &Row, fault: Fault) -> Cell {
    use Fault::*;
    let Some(target) = row.target else {
        return Cell::NotApplicable("a local step (WebCrypto, Argon2id): no request to fail");
    };
    // A rule on the requests of this step, at the service the browser calls.
    let rule = |route: &'static str, count: u32, extra: &[(&'static str, JsValue)]| {
        let mut body = vec![
            ("count", count.into()),
            ("method", target.method.into()),
            ("path", target.path.into()),
            ("exact", target.exact.into()),
        ];
        body.extend(extra.iter().cloned());
        Injection(target.service.control(), route, body)
    };
    let fail = |status: u16, reason: Option<&'static str>| {
        let mut extra = vec![("status", status.into())];
        extra.extend(reason.map(|r| ("reason", r.into())));
        rule("fail", PERSISTENT, &extra)
    };
    let retried = MAX_ATTEMPTS * target.at_once;
    let once = target.at_once;
    // The first Worker request of a flow makes the Worker ask Portal who the
    // token belongs to; later ones use its 60 s memory of the answer. A
    // check sends its three at once: each is a first, so a refused token or
    // Portal down fails all three, and each row counts its own attempts.
    let first_worker_call = matches!(row.step, "storeShare" | "fetchShare") || row.flow.is_check();
    let confirm_needs_no_portal = "confirm does not reach Portal: the Worker verified the token at storeShare \
                          moments before and keeps it 60 s (docs/SERVER-API.md)";
    let with_fresh_token = |injection: Injection| (vec![injection], true);

    let ((injections, fresh_token), code, status, attempts) = match (target.service, fault) {
        (_, QuotaFull) if !(target.service == Drive && row.step == "storeKey") => {
            return Cell::NotApplicable(if target.service == Drive {
                "Drive reports a full quota on writes only; this step reads or deletes"
            } else {
                "only Drive has a storage quota"
            });
        }
        (Drive, PortalDown) => return Cell::NotApplicable("a Drive step does not reach Portal"),
        (Worker, Forbidden) => {
            return Cell::NotApplicable(
                "the Worker answers 403 only to a CORS preflight from an origin it does not allow: \
                 a deployment error, the same at every step",
            );
        }
        (Worker, Unauthorized | PortalDown) if row.step == "confirm" => return Cell::NotApplicable(confirm_needs_no_portal),

        (_, Dropped) => ((vec![rule("drop", PERSISTENT, &[])], false), "NETWORK", None, retried),
        (_, Timeout) => ((vec![rule("delay", PERSISTENT, &[("ms", DELAY_MS.into())])], false), "NETWORK", None, retried),

        (Drive, ServerError) => ((vec![fail(503, None)], false), "DRIVE_UNAVAILABLE", Some(503), retried),
        // The access token expires at this step: one refresh and it goes on.
        (Drive, Unauthorized) => {
            let expired = rule("fail", 1, &[("status", 401.into())]);
            ((vec![expired], false), "", None, target.requests + 1)
        }
        (Drive, Forbidden) => {
            ((vec![fail(403, Some("insufficientFilePermissions"))], false), "DRIVE_PERMISSION_DENIED", Some(403), once)
        }
        (Drive, RateLimited) => ((vec![fail(429, None)], false), "DRIVE_RATE_LIMITED", Some(429), retried),
        (Drive, QuotaFull) => {
            ((vec![fail(403, Some("storageQuotaExceeded"))], false), "DRIVE_QUOTA_EXCEEDED", Some(403), once)
        }

        (Worker, ServerError) => ((vec![fail(503, None)], false), "SERVER_UNAVAILABLE", Some(503), retried),
        (Worker, RateLimited) => ((vec![fail(429, None)], false), "SERVER_RATE_LIMITED", Some(429), retried),
        // Portal refuses the token the Worker asks about: the Worker's 401.
        (Worker, Unauthorized) if first_worker_call => {
            let refused = Injection(
                "portal",
                "fail",
                vec![("count", PERSISTENT.into()), ("status", 401.into()), ("method", "GET".into()), ("path", "/clients/me".into())],
            );
            (with_fresh_token(refused), "UNAUTHENTICATED", Some(401), once)
        }
        // The Worker cannot ask Portal about the token: its 503, retried.
        (Worker, PortalDown) if first_worker_call => {
            (with_fresh_token(Injection("portal", "down", vec![("down", true.into())])), "PORTAL_UNAVAILABLE", Some(503), retried)
        }
        // /notify: the browser's PATCH (KEY) got through; the Worker's (SHARE),
        // with the same token, is refused or lost. The Worker still answers
        // 200, with portalNotified false.
        (Worker, Unauthorized | PortalDown) => {
            let mut share_patch =
                vec![("count", PERSISTENT.into()), ("skip", 1.into()), ("method", "PATCH".into()), ("path", "/backup-share-pairs".into())];
            let route = if fault == Unauthorized {
                share_patch.push(("status", 401.into()));
                "fail"
            } else {
                "drop"
            };
            ((vec![Injection("portal", route, share_patch)], false), "PORTAL_UNAVAILABLE", None, once)
        }

        (Portal, ServerError) => ((vec![fail(503, None)], false), "PORTAL_UNAVAILABLE", Some(503), retried),
        (Portal, Unauthorized) => ((vec![fail(401, None)], false), "PORTAL_UNAUTHENTICATED", Some(401), once),
        (Portal, Forbidden) => ((vec![fail(403, None)], false), "PORTAL_UNAUTHENTICATED", Some(403), once),
        (Portal, RateLimited) => ((vec![fail(429, None)], false), "PORTAL_RATE_LIMITED", Some(429), retried),
        (Portal, PortalDown) => ((vec![Injection("portal", "down", vec![("down", true.into())])], false), "NETWORK", None, retried),
        (Portal | Worker, QuotaFull) => unreachable!("n/a above"),
    };

    let outcome = match (target.service, fault) {
        (Drive, Unauthorized) => Outcome::Refreshed,
        _ if row.flow.is_check() => Outcome::Reported,
        _ if matches!(row.step, "notifyPortal" | "removeOldKeys") => Outcome::Absorbed,
        _ => Outcome::Fails,
    };
    // A timed-out request still takes effect (the server got all of it): at
    // confirm, that effect is the new backup confirmed.
    let confirmed = match outcome {
        _ if !row.flow.is_backup() => Confirmed::Before,
        Outcome::Absorbed | Outcome::Refreshed => Confirmed::New,
        Outcome::Fails if row.step == "confirm" && fault == Timeout => Confirmed::New,
        Outcome::Fails | Outcome::Reported => Confirmed::Before,
    };
    Cell::Applicable(Case { injections, fresh_token, outcome, code, status, attempts, confirmed })
}

fn matrix_options(user: &JsValue, method: &str, portal_token: Option<JsValue>) -> JsValue {
    let retry = obj(&[
        ("maxAttempts", MAX_ATTEMPTS.into()),
        ("baseDelayMs", 5.into()),
        ("maxDelayMs", 20.into()),
        // Never the bound here: MAX_ATTEMPTS timeouts fit in it.
        ("maxTotalMs", 30_000.into()),
    ]);
    let mut extra = vec![("retry", retry), ("timeoutMs", TIMEOUT_MS.into())];
    extra.extend(portal_token.map(|token| ("portalToken", token)));
    opts_with(user, method, &extra)
}

fn status_of(error: &JsValue) -> Option<u16> {
    get(error, "status").as_f64().map(|s| s as u16)
}

fn string(value: &JsValue, key: &str) -> String {
    get(value, key).as_string().unwrap_or_default()
}

macro_rules! hold {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// Runs one cell; `Err` says what did not hold.
async fn run_cell(row: &Row, fault: Fault, case: &Case) -> Result<(), String> {
    let target = row.target.as_ref().expect("an applicable cell has a target");
    let method = row.flow.method();
    let user = new_user(&format!("matrix-{}-{}", row.step, fault.name().replace(' ', ""))).await;
    // Every cell starts from a confirmed backup: the one a fault must never cost.
    let before = client_backup(&user, "before");
    backup_with(&user, matrix_options(&user, method, None), &before)
        .await
        .map_err(|e| format!("the first backup failed: {}", json(&e)))?;
    let token = if case.fresh_token { Some(add_portal_token(&user).await) } else { None };
    let options = matrix_options(&user, method, token);

    clear_sent();
    for Injection(service, route, body) in &case.injections {
        control(service, route, obj(body)).await;
    }
    let events_before = js_sys::Array::from(&get(&user, "events")).length();
    let tokens_before = number(&user, "tokenCalls");
    let attempt = client_backup(&user, "attempt");
    let answer = if row.flow.is_backup() {
        backup_with(&user, options.clone(), &attempt).await
    } else {
        recover(options.clone()).await
    };
    heal_all().await;

    let step_errors: Vec<JsValue> = js_sys::Array::from(&get(&user, "events"))
        .iter()
        .skip(events_before as usize)
        .filter(|e| string(e, "phase") == "error" && string(e, "step") == row.step)
        .map(|e| get(&e, "error"))
        .collect();
    match (case.outcome, &answer) {
        (Outcome::Fails, Err(error)) => {
            let seen = (string(error, "step"), string(error, "code"), status_of(error));
            hold!(
                seen == (row.step.to_string(), case.code.to_string(), case.status),
                "failed with {seen:?}, expected ({}, {}, {:?})",
                row.step,
                case.code,
                case.status
            );
            // Portal hears SHARE (the Worker's /notify) only after confirm
            // succeeded: a backup that failed, at confirm or before, never
            // had Portal told its share is stored.
            let share_told = sent_to(Worker.control(), "POST", "/notify", false);
            hold!(share_told.is_empty(), "failed at {}, yet asked the Worker to tell Portal SHARE ({} /notify)", row.step, share_told.len());
        }
        (Outcome::Absorbed, Ok(result)) => {
            let seen: Vec<_> = step_errors.iter().map(|e| (string(e, "code"), status_of(e))).collect();
            hold!(
                seen.iter().any(|s| *s == (case.code.to_string(), case.status)),
                "onProgress errors at {}: {seen:?}, expected ({}, {:?})",
                row.step,
                case.code,
                case.status
            );
            if row.step == "notifyPortal" {
                hold!(!flag(result, "portalNotified"), "portalNotified is true");
            } else {
                hold!(number(result, "removedKeyFiles") == 0.0, "removedKeyFiles is {}", number(result, "removedKeyFiles"));
            }
        }
        (Outcome::Refreshed, Ok(_)) => {
            hold!(step_errors.is_empty(), "onProgress errors at {}: {}", row.step, step_errors.iter().map(json).collect::<Vec<_>>().join(", "));
            let refreshes = number(&user, "tokenCalls") - tokens_before - 1.0;
            hold!(refreshes == 1.0, "{refreshes} token refreshes, expected 1");
        }
        (_, Ok(_)) => return Err("resolved, expected to fail".into()),
        (_, Err(error)) => return Err(format!("failed: {}", json(error))),
    }
    attempts_held(target, case)?;

    let expected = match case.confirmed {
        Confirmed::Before => &before,
        Confirmed::New => &attempt,
    };
    let recovered = recover(matrix_options(&user, method, None))
        .await
        .map_err(|e| format!("the recovery right after failed: {}", json(&e)))?;
    let bytes = js_sys::Uint8Array::new(&get(&recovered, "clientBackupBytes")).to_vec();
    hold!(
        bytes == expected.as_bytes(),
        "the recovery right after returned {}, not the last confirmed backup ({})",
        if bytes == attempt.as_bytes() { "the unconfirmed attempt" } else if bytes == before.as_bytes() { "the backup before" } else { "other bytes" },
        if case.confirmed == Confirmed::New { "the attempt" } else { "the backup before" }
    );

    if row.flow.is_backup() {
        let retried = backup_with(&user, options, &client_backup(&user, "retry"))
            .await
            .map_err(|e| format!("the retried backup failed: {}", json(&e)))?;
        hold!(flag(&retried, "portalNotified"), "the retried backup did not tell Portal");
        if method == GDRIVE {
            let files = key_files(&user).await;
            let ids: Vec<String> = files.iter().map(|f| string(f, "id")).collect();
            hold!(ids == [string(&retried, "keyFileId")], "Drive holds {} key files after the retry", ids.len());
        }
    }
    Ok(())
}

/// The requests the module sent to the target since `clear_sent`, against
/// the attempts the policy allows.
fn attempts_held(target: &Target, case: &Case) -> Result<(), String> {
    let answers = sent_to(target.service.control(), target.method, target.path, target.exact);
    hold!(
        answers.len() as u32 == case.attempts,
        "{} requests to {} {} (answers {answers:?}), expected {}",
        answers.len(),
        target.method,
        target.path,
        case.attempts
    );
    Ok(())
}

/// What a check cell starts from: a good confirmed backup whose custodian
/// half Portal has delivered. The cells of a check flow share one while
/// every fault leaves it green, which is what each of them checks.
struct Wallet {
    user: JsValue,
    plaintext: String,
}

impl Wallet {
    async fn new(method: &str) -> Result<Wallet, String> {
        let user = new_user(&format!("matrix-check-{}", method.to_lowercase())).await;
        // Pair ids of this method: Portal names its deliveries by them.
        let plaintext = method_backup(&user, "before", method);
        backup_with(&user, matrix_options(&user, method, None), &plaintext)
            .await
            .map_err(|e| format!("the first backup failed: {}", json(&e)))?;
        // Portal delivers its half after it is told, on its own time.
        portal_deliveries(&text(&user, "clientId")).await;
        Ok(Wallet { user, plaintext })
    }

    /// `checkBackup` options, with the backed-up plaintext as the device's:
    /// a check that opens anything else reports BACKUP_OUTDATED.
    fn check_options(&self, method: &str, portal_token: Option<JsValue>) -> JsValue {
        let options = matrix_options(&self.user, method, portal_token);
        js_sys::Reflect::set(&options, &"clientBackup".into(), &self.plaintext.as_str().into()).unwrap();
        options
    }
}

async fn check(options: JsValue) -> Result<JsValue, String> {
    check_backup(options.unchecked_into::<CheckOptions>())
        .await
        .map(JsValue::from)
        .map_err(|e| format!("checkBackup rejected: {}", json(&e)))
}

/// Runs one cell of a check flow on `wallet` (made first if there is none).
async fn run_check_cell(row: &Row, case: &Case, wallet: &mut Option<Wallet>) -> Result<(), String> {
    let target = row.target.as_ref().expect("an applicable cell has a target");
    let method = row.flow.method();
    if wallet.is_none() {
        *wallet = Some(Wallet::new(method).await?);
    }
    let wallet = wallet.as_ref().expect("made above");
    let token = if case.fresh_token { Some(add_portal_token(&wallet.user).await) } else { None };
    let options = wallet.check_options(method, token);

    clear_sent();
    for Injection(service, route, body) in &case.injections {
        control(service, route, obj(body)).await;
    }
    let tokens_before = number(&wallet.user, "tokenCalls");
    let answer = check(options).await;
    heal_all().await;
    let report = answer?;

    let problems = strings(&get(&report, "problems"));
    match case.outcome {
        Outcome::Reported => {
            hold!(problems == [case.code], "problems {problems:?}, expected [{}]", case.code);
            hold!(!flag(&report, "recoverable"), "recoverable while {} failed", row.label);
            // What a failed list would have said is unknown, not false.
            let unknown = match row.step {
                "listBackups" => Some("portalNotified"),
                "listCustodianBackups" => Some("custodianStored"),
                _ => None,
            };
            if let Some(field) = unknown {
                hold!(get(&report, field).is_null(), "{field} is {} while its list failed, not null", json(&get(&report, field)));
            }
        }
        Outcome::Refreshed => {
            hold!(problems.is_empty() && flag(&report, "recoverable"), "not green after a token refresh: {}", json(&report));
            let refreshes = number(&wallet.user, "tokenCalls") - tokens_before - 1.0;
            hold!(refreshes == 1.0, "{refreshes} token refreshes, expected 1");
        }
        Outcome::Fails | Outcome::Absorbed => unreachable!("plan gives a check Reported or Refreshed"),
    }
    attempts_held(target, case)?;

    // The fault changed nothing stored.
    let after = check(wallet.check_options(method, None)).await?;
    hold!(
        flag(&after, "recoverable") && strings(&get(&after, "problems")).is_empty(),
        "a check after heal is not green: {}",
        json(&after)
    );
    Ok(())
}

/// Runs every cell of one flow, prints its block of the matrix, and fails if
/// any cell did not hold.
async fn matrix(flow: Flow) {
    let rows: Vec<&Row> = ROWS.iter().filter(|row| row.flow == flow).collect();
    let mut marks = Vec::new();
    let mut failed = Vec::new();
    let mut not_applicable: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let (mut held, mut na) = (0, 0);
    let mut wallet = None;
    for row in &rows {
        let mut line = Vec::new();
        for fault in FAULTS {
            let mark = match plan(row, fault) {
                Cell::NotApplicable(why) => {
                    na += 1;
                    not_applicable.entry(why).or_default().push(format!("{} × {}", row.label, fault.name()));
                    "n/a"
                }
                Cell::Applicable(case) => {
                    let result = if flow.is_check() {
                        run_check_cell(row, &case, &mut wallet).await
                    } else {
                        run_cell(row, fault, &case).await
                    };
                    match result {
                        Ok(()) => {
                            held += 1;
                            "held"
                        }
                        Err(why) => {
                            // The next check cell starts from a wallet known green.
                            wallet = None;
                            failed.push(format!("{} × {}: {why}", row.label, fault.name()));
                            "**failed**"
                        }
                    }
                }
            };
            line.push(mark);
        }
        marks.push((row.label, line));
    }

    let mut out = format!("\n{}: {held} held, {} failed, {na} n/a\n\n", flow.title(), failed.len());
    out += &format!("| {} | {} |\n", flow.title(), FAULTS.map(Fault::name).join(" | "));
    out += &format!("|---|{}\n", "---|".repeat(FAULTS.len()));
    for (label, line) in &marks {
        out += &format!("| {label} | {} |\n", line.join(" | "));
    }
    for (why, cells) in &not_applicable {
        out += &format!("\nn/a, {why}: {}.", cells.join(", "));
    }
    for failure in &failed {
        out += &format!("\nfailed: {failure}");
    }
    console_log!("{out}\n");
    assert!(failed.is_empty(), "cells that did not hold:\n{}", failed.join("\n"));
}

#[wasm_bindgen_test]
async fn fault_matrix_drive_backup() {
    matrix(Flow::DriveBackup).await;
}

#[wasm_bindgen_test]
async fn fault_matrix_password_backup() {
    matrix(Flow::PasswordBackup).await;
}

#[wasm_bindgen_test]
async fn fault_matrix_drive_recovery() {
    matrix(Flow::DriveRecovery).await;
}

#[wasm_bindgen_test]
async fn fault_matrix_password_recovery() {
    matrix(Flow::PasswordRecovery).await;
}

#[wasm_bindgen_test]
async fn fault_matrix_drive_check() {
    matrix(Flow::DriveCheck).await;
}

#[wasm_bindgen_test]
async fn fault_matrix_password_check() {
    matrix(Flow::PasswordCheck).await;
}

/// A check's rows are the requests of the recovery it runs (its local
/// steps have none) and its two lists.
#[wasm_bindgen_test]
fn every_step_of_every_flow_is_a_row() {
    use portal_backup::flow::{self, Step};
    let plans = [
        (DriveBackup, flow::GDRIVE_BACKUP),
        (PasswordBackup, flow::PASSWORD_BACKUP),
        (DriveRecovery, flow::GDRIVE_RECOVERY),
        (PasswordRecovery, flow::PASSWORD_RECOVERY),
        (DriveCheck, flow::GDRIVE_RECOVERY),
        (PasswordCheck, flow::PASSWORD_RECOVERY),
    ];
    for (flow, plan) in plans {
        let steps = plan.iter().flat_map(|round| round.iter()).filter(|s| !flow.is_check() || s.is_remote());
        for step in steps.map(|s: &Step| s.name()) {
            assert!(ROWS.iter().any(|row| row.flow == flow && row.step == step), "{} has no row for {step}", flow.title());
        }
        for list in ["listBackups", "listCustodianBackups"].into_iter().filter(|_| flow.is_check()) {
            assert!(ROWS.iter().any(|row| row.flow == flow && row.step == list), "{} has no row for {list}", flow.title());
        }
    }
}
