//! The fault matrix: every step of a Drive, an iCloud and a password backup,
//! of their recoveries and of their `changeBackupKey`s, and every request of
//! a Drive, an iCloud and a password `checkBackup` (`ROWS`) × every failure
//! kind the stand-ins and the edge in front of the Worker can inject
//! (`FAULTS`), in headless Chromium against the real Worker (workerd).
//! `plan` derives each cell from the documented retry policy (docs/BROWSER.md,
//! "Retries", and for CloudKit its ICLOUD section); each cell then checks
//! what a user would notice:
//! - the call fails at that step with a stable code and status after exactly
//!   the attempts the policy allows, or resolves where the flow absorbs the
//!   fault (Portal not told, an old key file left) or a new token cures it
//!   (Drive's one refresh, iCloud's one sign-in); a check resolves, not
//!   recoverable, with that code as its one problem;
//! - a recovery right after returns the last confirmed backup, byte for byte
//!   (after a check: a check of the same wallet is green, opening to it;
//!   after a key change: with the old key or password if the change did not
//!   confirm, with the new one if it did);
//! - a backup that fails never had Portal told STORED_CLIENT_BACKUP_SHARE
//!   (no `/notify` went out: SHARE follows a successful `confirm`); a key
//!   change never calls Portal at all;
//! - a retry of the backup or key change succeeds, and Drive or iCloud ends
//!   with exactly one key file or record.
//!
//! Cells where the fault cannot happen at that step are n/a, with the reason.
//! Each flow prints its block of the matrix (`-- --nocapture` shows it when
//! every cell held); docs/RELIABILITY.md §4 holds the last run.
#![cfg(all(target_arch = "wasm32", feature = "browser"))]

use std::collections::BTreeMap;
use std::future::Future;

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
/// CloudKit × timeout: the first attempt is handled ICLOUD_LATE_MS late, past
/// the timeout, and spends the web auth token there; the retry, with that
/// token, is handled ICLOUD_REFUSED_MS late, after the first (so it finds the
/// token spent) and within its own timeout (so the module reads the refusal).
const ICLOUD_LATE_MS: u32 = 1_300;
const ICLOUD_REFUSED_MS: u32 = 700;
/// CloudKit's THROTTLED `retryAfter`, seconds: the module waits at least this.
const ICLOUD_RETRY_AFTER_S: f64 = 0.25;
/// The passwords of a PASSWORD key change: the backup's (options' own), the
/// new one, and a third for a retry after a change that confirmed.
const OLD_PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a brand new passphrase";
const THIRD_PASSWORD: &str = "and yet another passphrase";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    DriveBackup,
    PasswordBackup,
    DriveRecovery,
    PasswordRecovery,
    /// `checkBackup` after a good confirmed backup.
    DriveCheck,
    PasswordCheck,
    ICloudBackup,
    ICloudRecovery,
    ICloudCheck,
    /// `changeBackupKey` after a good confirmed backup.
    DriveChange,
    ICloudChange,
    PasswordChange,
}

impl Flow {
    fn method(self) -> &'static str {
        match self {
            Flow::DriveBackup | Flow::DriveRecovery | Flow::DriveCheck | Flow::DriveChange => GDRIVE,
            Flow::PasswordBackup | Flow::PasswordRecovery | Flow::PasswordCheck | Flow::PasswordChange => PASSWORD,
            Flow::ICloudBackup | Flow::ICloudRecovery | Flow::ICloudCheck | Flow::ICloudChange => ICLOUD,
        }
    }
    fn is_backup(self) -> bool {
        matches!(self, Flow::DriveBackup | Flow::PasswordBackup | Flow::ICloudBackup)
    }
    fn is_check(self) -> bool {
        matches!(self, Flow::DriveCheck | Flow::PasswordCheck | Flow::ICloudCheck)
    }
    fn is_change(self) -> bool {
        matches!(self, Flow::DriveChange | Flow::ICloudChange | Flow::PasswordChange)
    }
    /// Whether the flow stores a new version (and may confirm it).
    fn writes(self) -> bool {
        self.is_backup() || self.is_change()
    }
    fn title(self) -> &'static str {
        match self {
            Flow::DriveBackup => "Drive backup",
            Flow::PasswordBackup => "password backup",
            Flow::DriveRecovery => "Drive recovery",
            Flow::PasswordRecovery => "password recovery",
            Flow::DriveCheck => "Drive check",
            Flow::PasswordCheck => "password check",
            Flow::ICloudBackup => "iCloud backup",
            Flow::ICloudRecovery => "iCloud recovery",
            Flow::ICloudCheck => "iCloud check",
            Flow::DriveChange => "Drive key change",
            Flow::ICloudChange => "iCloud key change",
            Flow::PasswordChange => "password key change",
        }
    }
    /// The plaintext a cell backs up: the first six flows' with the GDRIVE
    /// pairs they always had, the others' with their method's pairs (Portal
    /// names its deliveries by them).
    fn plaintext(self, user: &JsValue, label: &str) -> String {
        match self {
            Flow::DriveBackup | Flow::PasswordBackup | Flow::DriveRecovery | Flow::PasswordRecovery => client_backup(user, label),
            _ => method_backup(user, label, self.method()),
        }
    }
    /// The page's token functions a flow calls when nothing fails: once,
    /// also where two requests need the token at once (Drive's key change
    /// sends its list and its create together: they share the one call).
    fn token_asks(self) -> f64 {
        1.0
    }
}

/// The service a step's requests go to, as the browser sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    Drive,
    /// CloudKit Web Services (the iCloud stand-in).
    ICloud,
    Worker,
    Portal,
}

impl Service {
    /// Whose `/__control/` API injects its faults: the Worker's is the edge's.
    fn control(self) -> &'static str {
        match self {
            Service::Drive => "drive",
            Service::ICloud => "icloud",
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
    /// Requests to the same method and path the flow sends before this
    /// step's (iCloud's create before its delete, both records/modify): a
    /// rule lets them through, and they are not the step's attempts.
    before: u32,
    /// And after it, when the call goes on past the step.
    later: u32,
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
    Row { flow, step, label, target: Some(Target { service, method, path, exact: false, requests, at_once, before: 0, later: 0 }) }
}

/// `row`, aimed at requests whose path is all of its `path`: the Worker's
/// list `/v1/client-backups`, not the versions below it.
const fn exact(mut row: Row) -> Row {
    if let Some(target) = &mut row.target {
        target.exact = true;
    }
    row
}

/// `row`, whose requests come after `before` others of the flow to the same
/// method and path, and before `later` others.
const fn among(before: u32, later: u32, mut row: Row) -> Row {
    if let Some(target) = &mut row.target {
        target.before = before;
        target.later = later;
    }
    row
}

use Flow::*;
use Service::*;

/// Every step of the flows (src/flow.rs), in the order they run; every
/// request of a check: the recovery's beside the Worker's two lists, all in
/// the first round trip; then iCloud's (one CloudKit request at a time, all
/// `POST .../private/records/{modify,query}`) and the key changes'.
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
    local(ICloudBackup, "encrypt"),
    among(0, 1, remote(ICloudBackup, "storeKey", "storeKey: modify create", ICloud, "POST", "/records/modify", (1, 1))),
    remote(ICloudBackup, "storeShare", "storeShare", Worker, "PUT", "/v1/client-backups/ICLOUD", (1, 1)),
    // The query lists the records with their keys: the read-back and the listing.
    remote(ICloudBackup, "checkStorage", "checkStorage: query", ICloud, "POST", "/records/query", (1, 1)),
    remote(ICloudBackup, "notifyPortal", "notifyPortal: Portal PATCH", Portal, "PATCH", "/backup-share-pairs", (1, 1)),
    remote(ICloudBackup, "notifyPortal", "notifyPortal: Worker /notify", Worker, "POST", "/notify", (1, 1)),
    remote(ICloudBackup, "confirm", "confirm", Worker, "POST", "/confirm", (1, 1)),
    // The one record of the first backup, after the create.
    among(1, 0, remote(ICloudBackup, "removeOldKeys", "removeOldKeys: modify forceDelete", ICloud, "POST", "/records/modify", (1, 1))),
    remote(ICloudRecovery, "fetchKey", "fetchKey: query", ICloud, "POST", "/records/query", (1, 1)),
    remote(ICloudRecovery, "fetchShare", "fetchShare", Worker, "GET", "/v1/client-backups/ICLOUD", (1, 1)),
    local(ICloudRecovery, "decrypt"),
    remote(ICloudCheck, "fetchKey", "fetchKey: query", ICloud, "POST", "/records/query", (1, 1)),
    remote(ICloudCheck, "fetchShare", "fetchShare: Worker GET versions", Worker, "GET", "/v1/client-backups/ICLOUD", (1, 1)),
    exact(remote(ICloudCheck, "listBackups", "Worker GET list", Worker, "GET", "/v1/client-backups", (1, 1))),
    remote(ICloudCheck, "listCustodianBackups", "Worker GET custodian list", Worker, "GET", "/v1/custodian-backups", (1, 1)),
    // changeBackupKey with Drive: list ‖ GET versions ‖ create the new key
    // file; PUT ‖ read it back and list; confirm; delete the old file.
    among(0, 2, remote(DriveChange, "fetchKey", "fetchKey: Drive list", Drive, "GET", "/drive/v3/files", (1, 1))),
    remote(DriveChange, "fetchShare", "fetchShare: Worker GET versions", Worker, "GET", "/v1/client-backups/GDRIVE", (1, 1)),
    remote(DriveChange, "storeKey", "storeKey", Drive, "POST", "/upload/drive/v3/files", (1, 1)),
    local(DriveChange, "decrypt"),
    local(DriveChange, "encrypt"),
    remote(DriveChange, "storeShare", "storeShare: Worker PUT", Worker, "PUT", "/v1/client-backups/GDRIVE", (1, 1)),
    // Read the new key back ‖ list the key files, after fetchKey's list.
    among(1, 0, remote(DriveChange, "checkStorage", "checkStorage: Drive read ‖ list", Drive, "GET", "/drive/v3/files", (2, 2))),
    remote(DriveChange, "confirm", "confirm", Worker, "POST", "/confirm", (1, 1)),
    remote(DriveChange, "removeOldKeys", "removeOldKeys", Drive, "DELETE", "/drive/v3/files/", (1, 1)),
    // With iCloud: query ‖ GET versions; create (after the query: one
    // CloudKit request at a time); PUT ‖ query; confirm; delete.
    among(0, 1, remote(ICloudChange, "fetchKey", "fetchKey: query", ICloud, "POST", "/records/query", (1, 1))),
    remote(ICloudChange, "fetchShare", "fetchShare: Worker GET versions", Worker, "GET", "/v1/client-backups/ICLOUD", (1, 1)),
    among(0, 1, remote(ICloudChange, "storeKey", "storeKey: modify create", ICloud, "POST", "/records/modify", (1, 1))),
    local(ICloudChange, "decrypt"),
    local(ICloudChange, "encrypt"),
    remote(ICloudChange, "storeShare", "storeShare: Worker PUT", Worker, "PUT", "/v1/client-backups/ICLOUD", (1, 1)),
    among(1, 0, remote(ICloudChange, "checkStorage", "checkStorage: query", ICloud, "POST", "/records/query", (1, 1))),
    remote(ICloudChange, "confirm", "confirm", Worker, "POST", "/confirm", (1, 1)),
    among(1, 0, remote(ICloudChange, "removeOldKeys", "removeOldKeys: modify forceDelete", ICloud, "POST", "/records/modify", (1, 1))),
    // With a password: GET versions; PUT; confirm.
    remote(PasswordChange, "fetchShare", "fetchShare: Worker GET versions", Worker, "GET", "/v1/client-backups/PASSWORD", (1, 1)),
    local(PasswordChange, "decrypt"),
    local(PasswordChange, "encrypt"),
    remote(PasswordChange, "storeShare", "storeShare: Worker PUT", Worker, "PUT", "/v1/client-backups/PASSWORD", (1, 1)),
    remote(PasswordChange, "confirm", "confirm", Worker, "POST", "/confirm", (1, 1)),
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
    /// Resolves after the one new token a Drive 401 gets (a refresh) or a
    /// CloudKit AUTHENTICATION_REQUIRED (a sign-in).
    Refreshed,
    /// A check resolves, not recoverable, with the code as its one problem.
    Reported,
}

/// Which backup is the last confirmed one once the fault is healed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Confirmed {
    /// The backup made before the fault.
    Before,
    /// The one the faulty call made (a key change: the new key's version).
    New,
}

/// A `/__control/` call: service, route, JSON body. iCloud's `quota` gets
/// the cell's iCloud user when it is sent.
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
    /// The call takes at least this long (ms): the waits a service asked for.
    at_least_ms: f64,
}

enum Cell {
    NotApplicable(&'static str),
    Applicable(Case),
}

/// The cell of `row` × `fault`: the injection, and what the documented retry
/// policy says happens. Retried (docs/BROWSER.md): no answer, 5xx, 429, Drive
/// 403 rate limits, CloudKit THROTTLED and TRY_AGAIN_LATER (waiting its
/// `retryAfter`), up to `retry.maxAttempts`; Drive 401: one new token;
/// CloudKit AUTHENTICATION_REQUIRED: one more `getWebAuthToken()`, where the
/// page signs in again. Everything else fails at once.
fn plan(row: &Row, fault: Fault) -> Cell {
    use Fault::*;
    let Some(target) = row.target else {
        return Cell::NotApplicable("a local step (WebCrypto, Argon2id): no request to fail");
    };
    // A rule on the requests of this step, at the service the browser calls,
    // letting `skip` of the flow's earlier ones to the same path through.
    let rule_skipping = |route: &'static str, count: u32, skip: u32, extra: &[(&'static str, JsValue)]| {
        let mut body = vec![
            ("count", count.into()),
            ("method", target.method.into()),
            ("path", target.path.into()),
            ("exact", target.exact.into()),
        ];
        if skip > 0 {
            body.push(("skip", skip.into()));
        }
        body.extend(extra.iter().cloned());
        Injection(target.service.control(), route, body)
    };
    let rule = |route: &'static str, count: u32, extra: &[(&'static str, JsValue)]| rule_skipping(route, count, target.before, extra);
    // CloudKit's error answer (tests/standins/icloud.mjs's own `fail`): its
    // serverErrorCode, with the status Apple's reference gives it.
    let cloudkit = |code: &'static str, count: u32, extra: &[(&'static str, JsValue)]| {
        let mut body = vec![("serverErrorCode", code.into())];
        body.extend(extra.iter().cloned());
        rule("fail", count, &body)
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
    // Portal down fails all three, and each row counts its own attempts. A
    // key change's first is its GET of the versions.
    let first_worker_call = match row.step {
        "fetchShare" => true,
        "storeShare" => !row.flow.is_change(),
        _ => row.flow.is_check(),
    };
    let confirm_needs_no_portal = "confirm does not reach Portal: the Worker verified the token at storeShare \
                          moments before and keeps it 60 s (docs/SERVER-API.md)";
    let change_needs_no_portal = "a key change's PUT and confirm do not reach Portal: the Worker verified the token \
                          at fetchShare moments before and keeps it 60 s (docs/SERVER-API.md)";
    let with_fresh_token = |injection: Injection| (vec![injection], true);
    let mut at_least_ms = 0.0;

    let ((injections, fresh_token), code, status, attempts) = match (target.service, fault) {
        (_, QuotaFull) if !(matches!(target.service, Drive | ICloud) && row.step == "storeKey") => {
            return Cell::NotApplicable(match target.service {
                Drive => "Drive reports a full quota on writes only; this step reads or deletes",
                ICloud => "CloudKit reports a full iCloud on a record it writes only; this step reads or deletes",
                _ => "only Drive and iCloud have a storage quota",
            });
        }
        (Drive, PortalDown) => return Cell::NotApplicable("a Drive step does not reach Portal"),
        (ICloud, PortalDown) => return Cell::NotApplicable("a CloudKit step does not reach Portal"),
        (Worker, Forbidden) => {
            return Cell::NotApplicable(
                "the Worker answers 403 only to a CORS preflight from an origin it does not allow: \
                 a deployment error, the same at every step",
            );
        }
        (Worker, Unauthorized | PortalDown) if row.flow.is_change() && !first_worker_call => {
            return Cell::NotApplicable(change_needs_no_portal);
        }
        (Worker, Unauthorized | PortalDown) if row.step == "confirm" => return Cell::NotApplicable(confirm_needs_no_portal),

        // CloudKit, one request at a time, each with the web auth token the
        // last answer gave. The first attempt takes effect and spends the
        // token, but its answer comes after the timeout; the retry brings the
        // spent token and is refused (AUTHENTICATION_REQUIRED); the page signs
        // in again and the third attempt goes through.
        (ICloud, Timeout) => {
            let late = rule("delay", 1, &[("ms", ICLOUD_LATE_MS.into())]);
            // The late one's rule let the earlier requests through already.
            let refused = rule_skipping("delay", 1, 0, &[("ms", ICLOUD_REFUSED_MS.into())]);
            ((vec![late, refused], false), "", None, target.requests + 2)
        }
        // The token is refused at this step (spent, expired, or the user
        // signed out): one sign-in and it goes on.
        (ICloud, Unauthorized) => ((vec![cloudkit("AUTHENTICATION_REQUIRED", 1, &[])], false), "", None, target.requests + 1),
        // No retryAfter: the policy's own backoff, so cells wait milliseconds.
        (ICloud, ServerError) => {
            let busy = cloudkit("TRY_AGAIN_LATER", PERSISTENT, &[("retryAfter", JsValue::NULL)]);
            ((vec![busy], false), "ICLOUD_UNAVAILABLE", Some(503), retried)
        }
        (ICloud, Forbidden) => ((vec![cloudkit("ACCESS_DENIED", PERSISTENT, &[])], false), "ICLOUD_ERROR", Some(403), once),
        (ICloud, RateLimited) => {
            at_least_ms = f64::from(MAX_ATTEMPTS - 1) * ICLOUD_RETRY_AFTER_S * 1000.0;
            let throttled = cloudkit("THROTTLED", PERSISTENT, &[("retryAfter", ICLOUD_RETRY_AFTER_S.into())]);
            ((vec![throttled], false), "ICLOUD_RATE_LIMITED", Some(429), retried)
        }
        // The user's iCloud is full: the create's record fails inside a 200.
        (ICloud, QuotaFull) => {
            ((vec![Injection("icloud", "quota", vec![("bytes", 0.into())])], false), "ICLOUD_QUOTA_EXCEEDED", None, once)
        }

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
        (Drive, Unauthorized) | (ICloud, Unauthorized | Timeout) => Outcome::Refreshed,
        _ if row.flow.is_check() => Outcome::Reported,
        _ if matches!(row.step, "notifyPortal" | "removeOldKeys") => Outcome::Absorbed,
        _ => Outcome::Fails,
    };
    // A timed-out request still takes effect (the server got all of it): at
    // confirm, that effect is the new backup confirmed.
    let confirmed = match outcome {
        _ if !row.flow.writes() => Confirmed::Before,
        Outcome::Absorbed | Outcome::Refreshed => Confirmed::New,
        Outcome::Fails if row.step == "confirm" && fault == Timeout => Confirmed::New,
        Outcome::Fails | Outcome::Reported => Confirmed::Before,
    };
    Cell::Applicable(Case { injections, fresh_token, outcome, code, status, attempts, confirmed, at_least_ms })
}

macro_rules! hold {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
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
    let options = opts_with(user, method, &extra);
    // One call's asks: a second one signs in again.
    if method == ICLOUD { sign_in_when_asked_again(user, options) } else { options }
}

/// The page's token functions, counted: Drive's `getDriveToken` calls,
/// iCloud's `getWebAuthToken` calls and sign-ins.
struct Tokens {
    drive: f64,
    icloud: f64,
    sign_ins: f64,
}

impl Tokens {
    fn of(user: &JsValue) -> Tokens {
        Tokens { drive: number(user, "tokenCalls"), icloud: number(user, "icloudTokenCalls"), sign_ins: number(user, "icloudSignIns") }
    }

    /// Exactly one new token since `self`, beyond the asks `flow` makes when
    /// nothing fails: Drive's one refresh, or iCloud's one more ask, where
    /// the user signed in again once.
    fn one_more(&self, user: &JsValue, flow: Flow) -> Result<(), String> {
        let now = Tokens::of(user);
        if flow.method() == ICLOUD {
            let asks = now.icloud - self.icloud - flow.token_asks();
            let sign_ins = now.sign_ins - self.sign_ins;
            hold!(asks == 1.0 && sign_ins == 1.0, "{asks} more getWebAuthToken calls and {sign_ins} sign-ins, expected 1 and 1");
        } else {
            let refreshes = now.drive - self.drive - flow.token_asks();
            hold!(refreshes == 1.0, "{refreshes} token refreshes, expected 1");
        }
        Ok(())
    }
}

/// Sends a case's injections; iCloud's `quota` is the cell's user's.
async fn inject(user: &JsValue, injections: &[Injection]) {
    for Injection(service, route, body) in injections {
        let body = obj(body);
        if *route == "quota" {
            js_sys::Reflect::set(&body, &"user".into(), &get(user, "icloudUser")).unwrap();
        }
        control(service, route, body).await;
    }
}

/// Every fault gone and every delayed request handled; a full iCloud has
/// room again.
async fn heal(user: &JsValue, injections: &[Injection]) {
    heal_all().await;
    if injections.iter().any(|Injection(_, route, _)| *route == "quota") {
        control("icloud", "quota", obj(&[("user", get(user, "icloudUser")), ("bytes", JsValue::NULL)])).await;
    }
}

fn status_of(error: &JsValue) -> Option<u16> {
    get(error, "status").as_f64().map(|s| s as u16)
}

fn string(value: &JsValue, key: &str) -> String {
    get(value, key).as_string().unwrap_or_default()
}


/// A flow's call with a case's faults in place: injected before it, healed
/// after it.
struct Injected<T> {
    answer: T,
    took_ms: f64,
    /// The `onProgress` errors at the row's step during the call.
    step_errors: Vec<JsValue>,
    /// The page's token asks before the call.
    tokens_before: Tokens,
}

async fn injected<T>(user: &JsValue, row: &Row, case: &Case, call: impl Future<Output = T>) -> Injected<T> {
    clear_sent();
    inject(user, &case.injections).await;
    let events_before = js_sys::Array::from(&get(user, "events")).length();
    let tokens_before = Tokens::of(user);
    let started = js_sys::Date::now();
    let answer = call.await;
    let took_ms = js_sys::Date::now() - started;
    heal(user, &case.injections).await;
    Injected { answer, took_ms, step_errors: step_errors(user, events_before, row.step), tokens_before }
}

/// The call failed at the row's step with the case's code and status.
fn failed_as_planned(row: &Row, case: &Case, error: &JsValue) -> Result<(), String> {
    let seen = (string(error, "step"), string(error, "code"), status_of(error));
    hold!(
        seen == (row.step.to_string(), case.code.to_string(), case.status),
        "failed with {seen:?}, expected ({}, {}, {:?})",
        row.step,
        case.code,
        case.status
    );
    Ok(())
}

impl<T> Injected<T> {
    /// The call went on past the fault, which `onProgress` reported at the
    /// row's step with the case's code and status.
    fn absorbed_as_planned(&self, row: &Row, case: &Case) -> Result<(), String> {
        let seen: Vec<_> = self.step_errors.iter().map(|e| (string(e, "code"), status_of(e))).collect();
        hold!(
            seen.iter().any(|s| *s == (case.code.to_string(), case.status)),
            "onProgress errors at {}: {seen:?}, expected ({}, {:?})",
            row.step,
            case.code,
            case.status
        );
        Ok(())
    }

    /// A new token cured the fault: no `onProgress` error at the step, and
    /// exactly one more token from the page.
    fn refreshed_as_planned(&self, row: &Row, user: &JsValue) -> Result<(), String> {
        let errors = &self.step_errors;
        hold!(errors.is_empty(), "onProgress errors at {}: {}", row.step, errors.iter().map(json).collect::<Vec<_>>().join(", "));
        self.tokens_before.one_more(user, row.flow)
    }

    /// The step's requests as many as the policy allows, and the call no
    /// shorter than the wait the service asked for.
    fn attempts_and_wait_held(&self, target: &Target, case: &Case) -> Result<(), String> {
        attempts_held(target, case)?;
        let took_ms = self.took_ms;
        hold!(took_ms >= case.at_least_ms, "the call took {took_ms} ms, less than the {} ms the service asked to wait", case.at_least_ms);
        Ok(())
    }
}

/// Runs one cell of a backup or recovery flow; `Err` says what did not hold.
async fn run_cell(row: &Row, fault: Fault, case: &Case) -> Result<(), String> {
    let target = row.target.as_ref().expect("an applicable cell has a target");
    let method = row.flow.method();
    let user = new_user(&format!("matrix-{}-{}", row.step, fault.name().replace(' ', ""))).await;
    // Every cell starts from a confirmed backup: the one a fault must never cost.
    let before = row.flow.plaintext(&user, "before");
    backup_with(&user, matrix_options(&user, method, None), &before)
        .await
        .map_err(|e| format!("the first backup failed: {}", json(&e)))?;
    let token = if case.fresh_token { Some(add_portal_token(&user).await) } else { None };
    let options = matrix_options(&user, method, token.clone());

    let attempt = row.flow.plaintext(&user, "attempt");
    let call = async {
        if row.flow.is_backup() { backup_with(&user, options, &attempt).await } else { recover(options).await }
    };
    let injected = injected(&user, row, case, call).await;

    match (case.outcome, &injected.answer) {
        (Outcome::Fails, Err(error)) => {
            failed_as_planned(row, case, error)?;
            // Portal hears SHARE (the Worker's /notify) only after confirm
            // succeeded: a backup that failed, at confirm or before, never
            // had Portal told its share is stored.
            let share_told = sent_to(Worker.control(), "POST", "/notify", false);
            hold!(share_told.is_empty(), "failed at {}, yet asked the Worker to tell Portal SHARE ({} /notify)", row.step, share_told.len());
        }
        (Outcome::Absorbed, Ok(result)) => {
            injected.absorbed_as_planned(row, case)?;
            if row.step == "notifyPortal" {
                hold!(!flag(result, "portalNotified"), "portalNotified is true");
            } else {
                hold!(number(result, "removedKeyFiles") == 0.0, "removedKeyFiles is {}", number(result, "removedKeyFiles"));
            }
        }
        (Outcome::Refreshed, Ok(_)) => injected.refreshed_as_planned(row, &user)?,
        (_, Ok(_)) => return Err("resolved, expected to fail".into()),
        (_, Err(error)) => return Err(format!("failed: {}", json(error))),
    }
    injected.attempts_and_wait_held(target, case)?;

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
        let retried = backup_with(&user, matrix_options(&user, method, token), &row.flow.plaintext(&user, "retry"))
            .await
            .map_err(|e| format!("the retried backup failed: {}", json(&e)))?;
        hold!(flag(&retried, "portalNotified"), "the retried backup did not tell Portal");
        if method == GDRIVE || method == ICLOUD {
            let ids = stored_keys(&user, method).await;
            hold!(ids == [string(&retried, "keyFileId")], "{} holds {} keys after the retry", method, ids.len());
        }
    }
    Ok(())
}

/// The `onProgress` errors at `step` since the first `skip` events.
fn step_errors(user: &JsValue, skip: u32, step: &str) -> Vec<JsValue> {
    js_sys::Array::from(&get(user, "events"))
        .iter()
        .skip(skip as usize)
        .filter(|e| string(e, "phase") == "error" && string(e, "step") == step)
        .map(|e| get(&e, "error"))
        .collect()
}

/// The requests the module sent to the target since `clear_sent` (less the
/// flow's others to the same path), against the attempts the policy allows.
fn attempts_held(target: &Target, case: &Case) -> Result<(), String> {
    let all = sent_to(target.service.control(), target.method, target.path, target.exact);
    // Only a call that went on past the step sent the later ones.
    let later = if case.outcome == Outcome::Refreshed { target.later as usize } else { 0 };
    let from = (target.before as usize).min(all.len());
    let answers = &all[from..all.len().saturating_sub(later).max(from)];
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

/// `changeBackupKey` options: for PASSWORD, from `password` to `new_password`.
fn change_options(user: &JsValue, method: &str, token: Option<JsValue>, password: &str, new_password: &str) -> JsValue {
    let options = matrix_options(user, method, token);
    if method == PASSWORD {
        js_sys::Reflect::set(&options, &"password".into(), &password.into()).unwrap();
        js_sys::Reflect::set(&options, &"newPassword".into(), &new_password.into()).unwrap();
    }
    options
}

/// Recovery options; for PASSWORD with `password`.
fn recovery_options(user: &JsValue, method: &str, password: &str) -> JsValue {
    let options = matrix_options(user, method, None);
    if method == PASSWORD {
        js_sys::Reflect::set(&options, &"password".into(), &password.into()).unwrap();
    }
    options
}

/// Portal's record of calls about this client (PATCHes of its pairs, the
/// Worker's included, and custodian deliveries), once every delivery it
/// started is answered.
async fn portal_heard(user: &JsValue) -> u32 {
    portal_deliveries(&text(user, "clientId")).await;
    js_sys::Array::from(&portal_calls(user).await).length()
}

/// The page asked Portal nothing, and neither did the Worker for it: no
/// PATCH of the pairs, no `/notify`, nothing new in Portal's record.
async fn portal_not_called(user: &JsValue, heard_before: u32, what: &str) -> Result<(), String> {
    let patched = sent_to(Portal.control(), "PATCH", "/backup-share-pairs", false);
    let notified = sent_to(Worker.control(), "POST", "/notify", false);
    hold!(patched.is_empty() && notified.is_empty(), "{what} called Portal: {} PATCH, {} /notify", patched.len(), notified.len());
    let heard = portal_heard(user).await;
    hold!(heard == heard_before, "{what}: Portal heard {} calls about the client", heard - heard_before);
    Ok(())
}

/// Runs one cell of a key change: from a confirmed backup, inject, change,
/// heal; then the change fails at the step (or resolves where the flow
/// absorbs the fault or a new token cures it), Portal was never called, the
/// wallet recovers right after with the old key (password) if the change
/// did not confirm, with the new one if it did, and a retried change
/// succeeds and leaves one key file or record.
async fn run_change_cell(row: &Row, fault: Fault, case: &Case) -> Result<(), String> {
    let target = row.target.as_ref().expect("an applicable cell has a target");
    let (flow, method) = (row.flow, row.flow.method());
    let user = new_user(&format!("matrix-change-{}-{}", row.step, fault.name().replace(' ', ""))).await;
    let plaintext = flow.plaintext(&user, "before");
    let first = backup_with(&user, matrix_options(&user, method, None), &plaintext)
        .await
        .map_err(|e| format!("the first backup failed: {}", json(&e)))?;
    let (first_id, old_key) = (string(&first, "backupId"), string(&first, "keyFileId"));
    let heard = portal_heard(&user).await;
    let token = if case.fresh_token { Some(add_portal_token(&user).await) } else { None };
    let options = change_options(&user, method, token.clone(), OLD_PASSWORD, NEW_PASSWORD);

    let injected = injected(&user, row, case, change_key(options)).await;
    let answer = &injected.answer;

    portal_not_called(&user, heard, "the change").await?;
    match (case.outcome, answer) {
        (Outcome::Fails, Err(error)) => failed_as_planned(row, case, error)?,
        (Outcome::Absorbed, Ok(result)) => {
            injected.absorbed_as_planned(row, case)?;
            hold!(number(result, "removedKeyFiles") == 0.0, "removedKeyFiles is {}", number(result, "removedKeyFiles"));
        }
        (Outcome::Refreshed, Ok(result)) => {
            injected.refreshed_as_planned(row, &user)?;
            hold!(number(result, "removedKeyFiles") == 1.0, "removedKeyFiles is {}, expected the old key's 1", number(result, "removedKeyFiles"));
        }
        (_, Ok(_)) => return Err("resolved, expected to fail".into()),
        (_, Err(error)) => return Err(format!("failed: {}", json(error))),
    }
    injected.attempts_and_wait_held(target, case)?;

    // Right after: the old key (password) opens the backup it opened before,
    // unless the change confirmed; then the new one opens the new version.
    let (password, new_password) = match case.confirmed {
        Confirmed::Before => (OLD_PASSWORD, NEW_PASSWORD),
        Confirmed::New => (NEW_PASSWORD, THIRD_PASSWORD),
    };
    let recovered = recover(recovery_options(&user, method, password))
        .await
        .map_err(|e| format!("the recovery right after failed: {}", json(&e)))?;
    let bytes = js_sys::Uint8Array::new(&get(&recovered, "clientBackupBytes")).to_vec();
    hold!(bytes == plaintext.as_bytes(), "the recovery right after returned other bytes than the backup");
    let recovered_id = string(&recovered, "backupId");
    match case.confirmed {
        Confirmed::Before => {
            // Only the old key opens the version from before.
            hold!(recovered_id == first_id, "the recovery right after opened version {recovered_id}, not the confirmed one from before");
            if method != PASSWORD {
                let keys = stored_keys(&user, method).await;
                hold!(keys.contains(&old_key), "the old key is gone, though the change did not confirm");
            }
        }
        Confirmed::New => {
            hold!(recovered_id != first_id, "the recovery right after opened the version from before, though the change confirmed");
            if let Ok(result) = answer {
                hold!(recovered_id == string(result, "backupId"), "the recovery right after opened {recovered_id}, not the changed version");
            }
            if method == PASSWORD {
                let old = recover(recovery_options(&user, method, OLD_PASSWORD)).await;
                let code = old.as_ref().err().map(|e| string(e, "code"));
                hold!(code.as_deref() == Some("WRONG_PASSWORD"), "after the change, the old password: {}", old.map_or_else(|e| json(&e), |_| "opened a backup".into()));
            }
        }
    }

    // Trying again (from the password that now opens it) finishes the job.
    clear_sent();
    let heard = portal_heard(&user).await;
    let retried = change_key(change_options(&user, method, token, password, new_password))
        .await
        .map_err(|e| format!("the retried change failed: {}", json(&e)))?;
    portal_not_called(&user, heard, "the retried change").await?;
    if method == PASSWORD {
        let recovered = recover(recovery_options(&user, method, new_password))
            .await
            .map_err(|e| format!("the recovery after the retried change failed: {}", json(&e)))?;
        hold!(string(&recovered, "backupId") == string(&retried, "backupId"), "the new password does not open the retried change's version");
    } else {
        let keys = stored_keys(&user, method).await;
        hold!(keys == [string(&retried, "keyFileId")], "{} holds {} keys after the retried change", method, keys.len());
    }
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

    let injected = injected(&wallet.user, row, case, check(options)).await;
    let report = injected.answer.clone()?;

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
            injected.tokens_before.one_more(&wallet.user, row.flow)?;
        }
        Outcome::Fails | Outcome::Absorbed => unreachable!("plan gives a check Reported or Refreshed"),
    }
    injected.attempts_and_wait_held(target, case)?;

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
    let started = js_sys::Date::now();
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
                    } else if flow.is_change() {
                        run_change_cell(row, fault, &case).await
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

    let seconds = (js_sys::Date::now() - started) / 1000.0;
    let mut out = format!("\n{}: {held} held, {} failed, {na} n/a, in {seconds:.1} s\n\n", flow.title(), failed.len());
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

#[wasm_bindgen_test]
async fn fault_matrix_icloud_backup() {
    matrix(Flow::ICloudBackup).await;
}

#[wasm_bindgen_test]
async fn fault_matrix_icloud_recovery() {
    matrix(Flow::ICloudRecovery).await;
}

#[wasm_bindgen_test]
async fn fault_matrix_icloud_check() {
    matrix(Flow::ICloudCheck).await;
}

#[wasm_bindgen_test]
async fn fault_matrix_drive_change_key() {
    matrix(Flow::DriveChange).await;
}

#[wasm_bindgen_test]
async fn fault_matrix_icloud_change_key() {
    matrix(Flow::ICloudChange).await;
}

#[wasm_bindgen_test]
async fn fault_matrix_password_change_key() {
    matrix(Flow::PasswordChange).await;
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
        (ICloudBackup, flow::ICLOUD_BACKUP),
        (ICloudRecovery, flow::ICLOUD_RECOVERY),
        (ICloudCheck, flow::ICLOUD_RECOVERY),
        (DriveChange, flow::GDRIVE_CHANGE_KEY),
        (ICloudChange, flow::ICLOUD_CHANGE_KEY),
        (PasswordChange, flow::PASSWORD_CHANGE_KEY),
    ];
    for (flow, plan) in plans {
        let steps = plan.iter().flat_map(|round| round.iter()).filter(|s| !flow.is_check() || s.is_remote());
        for step in steps.map(|s: &Step| s.name()) {
            assert!(ROWS.iter().any(|row| row.flow == flow && row.step == step), "{} has no row for {step}", flow.title());
        }
        for list in ["listBackups", "listCustodianBackups"].into_iter().filter(|_| flow.is_check()) {
            assert!(ROWS.iter().any(|row| row.flow == flow && row.step == list), "{} has no row for {list}", flow.title());
        }
        // And no row for a step the flow does not take.
        for row in ROWS.iter().filter(|row| row.flow == flow) {
            let listed = flow.is_check() && matches!(row.step, "listBackups" | "listCustodianBackups");
            assert!(
                listed || plan.iter().flat_map(|round| round.iter()).any(|s| s.name() == row.step),
                "{}'s row {} is no step of its plan",
                flow.title(),
                row.label
            );
        }
    }
    // Every flow has its plan above.
    assert!(ROWS.iter().all(|row| plans.iter().any(|(flow, _)| *flow == row.flow)), "a flow of ROWS has no plan here");
}
