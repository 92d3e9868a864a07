//! What the browser tests share: the services' addresses, a fresh Portal
//! client and Drive account per test, the stand-ins' and the edge's
//! `/__control/` API, and the module's calls with test options. Each test
//! file uses a part of it.
#![allow(dead_code)]

use js_sys::Reflect;
use portal_backup::browser::{BackupOptions, ChangeKeyOptions, MethodOptions, backup_wallet, change_backup_key, recover_wallet};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
const PORTAL = 'http://127.0.0.1:8790';
const DRIVE = 'http://127.0.0.1:8791';
const ICLOUD = 'http://127.0.0.1:8792';
// The iCloud stand-in's defaults (tests/standins/icloud.mjs).
const ICLOUD_CONTAINER = 'iCloud.com.example.portalbackup';
const ICLOUD_ENVIRONMENT = 'development';
const ICLOUD_API_TOKEN = 'icloud-api-token-demo';
// The edge in front of the Worker (tests/standins/edge.mjs): the Worker's address.
const WORKER = 'http://127.0.0.1:8787';
const SERVICES = { drive: DRIVE, icloud: ICLOUD, portal: PORTAL, edge: WORKER };

// Every request the page hands to fetch, as the module's retry policy counts
// them. A service's own log may see more: Chromium resends a request once by
// itself when a reused keep-alive connection dies before any answer.
const sent = [];
const pageFetch = globalThis.fetch;
globalThis.fetch = function (input, init) {
  const request = input instanceof Request ? input : null;
  const entry = { method: request?.method ?? init?.method ?? 'GET', url: request?.url ?? String(input), status: null };
  sent.push(entry);
  return pageFetch.call(this, input, init).then(
    (response) => {
      entry.status = response.status;
      return response;
    },
    (error) => {
      entry.status = 'no answer';
      throw error;
    },
  );
};

/** The answers (status, or 'no answer') to requests sent to `service` with `method` whose path contains `path` (is `path`, if `exact`). */
export function sentTo(service, method, path, exact) {
  return sent.filter((r) => {
    const url = new URL(r.url);
    const onPath = exact ? url.pathname === path : url.pathname.includes(path);
    return url.origin === SERVICES[service] && r.method === method && onPath && !url.pathname.startsWith('/__control/');
  }).map((r) => String(r.status));
}

export function clearSent() {
  sent.length = 0;
}

async function call(base, path, method = 'GET', body, token) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${base}${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function register(user) {
  for (const token of user.portalTokens) await call(PORTAL, '/__control/clients', 'POST', { token, clientId: user.clientId });
}

export async function newUser(label) {
  const id = `${label}-${Math.random().toString(36).slice(2, 10)}`;
  const user = {
    clientId: `client-${id}`,
    portalTokens: [`portal-token-${id}`],
    driveUser: `drive-${id}`,
    driveToken: `drive-token-${id}`,
    // getDriveToken hands these out first, then driveToken.
    tokenQueue: [],
    tokenCalls: 0,
    icloudUser: `icloud-${id}`,
    // The newest CloudKit web auth token the page knows, and whether the
    // package was handed it since CloudKit last gave a new one.
    icloudToken: null,
    icloudTokenGiven: false,
    icloudTokenCalls: 0,
    icloudSignIns: 0,
    events: [],
  };
  await register(user);
  await call(DRIVE, '/__control/tokens', 'POST', { token: user.driveToken, user: user.driveUser });
  await signInToICloud(user);
  return user;
}

/** The user signs in to iCloud (again): a fresh web auth token. */
export async function signInToICloud(user) {
  user.icloudToken = (await call(ICLOUD, '/__control/tokens', 'POST', { user: user.icloudUser })).token;
  user.icloudTokenGiven = false;
  user.icloudSignIns += 1;
}

/** The key records in the user's iCloud private database. */
export async function icloudRecords(user) {
  return call(ICLOUD, `/__control/records?user=${encodeURIComponent(user.icloudUser)}`);
}

/** The CORS preflights (OPTIONS) the iCloud stand-in has answered since its log was cleared. */
export async function icloudPreflights() {
  return (await call(ICLOUD, '/__control/log')).filter((entry) => entry.method === 'OPTIONS').length;
}

/** Another Portal token for the same client (the Worker caches resolved tokens). */
export async function addPortalToken(user) {
  const token = `portal-token-${user.clientId}-${user.portalTokens.length}`;
  user.portalTokens.push(token);
  await register(user);
  return token;
}

/** A fresh Drive token for the same account; the old one expires. */
export async function rotateDriveToken(user) {
  const old = user.driveToken;
  user.driveToken = `${old}-next`;
  await call(DRIVE, '/__control/tokens', 'POST', { token: user.driveToken, user: user.driveUser });
  await call(DRIVE, '/__control/expire', 'POST', { token: old });
  user.tokenQueue.push(old);
}

export function options(user, method, extra) {
  return Object.assign({
    method,
    clientId: user.clientId,
    custodianId: 'custodian-demo',
    portalToken: user.portalTokens[0],
    serverUrl: WORKER,
    portalApiUrl: PORTAL,
    driveApiUrl: DRIVE,
    password: 'correct horse battery staple',
    getDriveToken: async () => {
      user.tokenCalls += 1;
      return user.tokenQueue.shift() ?? user.driveToken;
    },
    icloud: {
      apiUrl: ICLOUD,
      container: ICLOUD_CONTAINER,
      environment: ICLOUD_ENVIRONMENT,
      apiToken: ICLOUD_API_TOKEN,
      // As an app would: the newest token it was told of; asked to sign in
      // again (CloudKit refused the last token), the user signs in again.
      getWebAuthToken: async (request) => {
        user.icloudTokenCalls += 1;
        if (request?.signInAgain) await signInToICloud(user);
        user.icloudTokenGiven = true;
        return user.icloudToken;
      },
      onWebAuthToken: (token) => {
        user.icloudToken = token;
        user.icloudTokenGiven = false;
      },
    },
    onProgress: (event) => user.events.push(event),
    // Fast backoff: tests wait milliseconds, not seconds.
    retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20, maxTotalMs: 5000 },
    timeoutMs: 5000,
  }, extra ?? {});
}

/** The plaintext Portal's SDK builds for a GDRIVE backup, with the stand-in's pair ids. */
export function clientBackup(user, label) {
  return methodBackup(user, label, 'GDRIVE');
}

/**
 * The plaintext Portal's SDK builds for a backup with `method`: its pairs'
 * ids, so Portal's custodian deliveries are named for that method.
 */
export function methodBackup(user, label, method) {
  const pair = (curve) => `bsp-${user.clientId}-${curve}-${method.toLowerCase()}`;
  const share = (curve) => JSON.stringify({ curve, label, share: String(Math.random()).slice(2) });
  return JSON.stringify({
    SECP256K1: { id: pair('secp256k1'), share: share('SECP256K1') },
    ED25519: { id: pair('ed25519'), share: share('ED25519') },
  });
}

/** Resolves once every custodian delivery Portal has started is answered: the `backupMethod`s delivered for the client. */
export async function portalDeliveries(clientId) {
  const all = await call(PORTAL, '/__control/webhooks');
  return all.filter((d) => d.clientId === clientId).map((d) => d.backupMethod);
}

export async function driveFiles(user) {
  return call(DRIVE, `/__control/files?user=${encodeURIComponent(user.driveUser)}`);
}

export async function driveControl(path, body) {
  return call(DRIVE, `/__control/${path}`, 'POST', body);
}

/** Clears a key file's appProperties.key through Drive's own files.update, as key files were before it held the key. */
export async function stripKeyProperty(user, fileId) {
  const res = await fetch(`${DRIVE}/drive/v3/files/${fileId}`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${user.driveToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ appProperties: { key: null } }),
  });
  if (!res.ok) throw new Error(`files.update: ${res.status}`);
}

export async function driveLog() {
  return call(DRIVE, '/__control/log');
}

export async function portalControl(path, body) {
  return call(PORTAL, `/__control/${path}`, 'POST', body);
}

/** Forget injected Portal failures (reset also forgets registered clients). */
export async function portalReset(user) {
  await call(PORTAL, '/__control/reset', 'POST', {});
  await register(user);
}

export async function portalCalls(user) {
  const calls = await call(PORTAL, '/__control/calls');
  // In the order Portal received them.
  return calls.filter((c) => c.clientId === user.clientId).map((c) => c.status);
}

/** Replaces the stored ciphertext with one whose middle character changed, and confirms it. */
export async function tamperStoredCiphertext(user, method) {
  const token = user.portalTokens[0];
  const versions = await call(WORKER, `/v1/client-backups/${method}`, 'GET', undefined, token);
  const text = versions.current.cipherText;
  const at = Math.floor(text.length / 2);
  const flipped = text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
  const stored = await call(WORKER, `/v1/client-backups/${method}`, 'PUT',
    { cipherText: flipped, backupSharePairIds: versions.current.backupSharePairIds }, token);
  await call(WORKER, `/v1/client-backups/${method}/confirm`, 'POST', { backupId: stored.backup.backupId }, token);
}

/** POST /__control/{path} of 'drive', 'portal' or 'edge' (the Worker's). */
export async function control(service, path, body) {
  return call(SERVICES[service], `/__control/${path}`, 'POST', body ?? {});
}

export async function serviceLog(service) {
  return call(SERVICES[service], '/__control/log');
}

export async function clearLogs() {
  await Promise.all(Object.values(SERVICES).map((base) => call(base, '/__control/log/clear', 'POST', {})));
}

/** Every injected fault gone, and every delayed request handled. */
export async function healAll() {
  await Promise.all(Object.values(SERVICES).map((base) => call(base, '/__control/heal', 'POST', {})));
}

/**
 * `options` with an iCloud token function that does what docs/BROWSER.md
 * asks of an app: asked once in a call it gives the newest token; asked
 * again in the same call (CloudKit answered AUTHENTICATION_REQUIRED), the
 * user signs in again. `options`' own function cannot tell a second ask in
 * one call from the first ask of the next call when the package took the
 * token it gives back from an answer (`onWebAuthToken`) and spent it. Its
 * count is per options object: build one per call.
 */
export function signInWhenAskedAgain(user, options) {
  let asked = 0;
  options.icloud = Object.assign({}, options.icloud, {
    getWebAuthToken: async () => {
      user.icloudTokenCalls += 1;
      asked += 1;
      if (asked > 1) await signInToICloud(user);
      user.icloudTokenGiven = true;
      return user.icloudToken;
    },
  });
  return options;
}

export function steps(user, phase) {
  return user.events.filter((e) => e.phase === phase).map((e) => e.step);
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = newUser)]
    pub async fn new_user(label: &str) -> JsValue;
    #[wasm_bindgen(js_name = addPortalToken)]
    pub async fn add_portal_token(user: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = rotateDriveToken)]
    pub async fn rotate_drive_token(user: &JsValue);
    pub fn options(user: &JsValue, method: &str, extra: JsValue) -> JsValue;
    #[wasm_bindgen(js_name = clientBackup)]
    pub fn client_backup(user: &JsValue, label: &str) -> String;
    #[wasm_bindgen(js_name = methodBackup)]
    pub fn method_backup(user: &JsValue, label: &str, method: &str) -> String;
    #[wasm_bindgen(js_name = portalDeliveries)]
    pub async fn portal_deliveries(client_id: &str) -> JsValue;
    #[wasm_bindgen(js_name = driveFiles)]
    pub async fn drive_files(user: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = icloudRecords)]
    pub async fn icloud_records(user: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = icloudPreflights)]
    pub async fn icloud_preflights() -> JsValue;
    #[wasm_bindgen(js_name = signInToICloud)]
    pub async fn sign_in_to_icloud(user: &JsValue);
    #[wasm_bindgen(js_name = driveControl)]
    pub async fn drive_control(path: &str, body: JsValue) -> JsValue;
    #[wasm_bindgen(js_name = stripKeyProperty)]
    pub async fn strip_key_property(user: &JsValue, file_id: &str);
    #[wasm_bindgen(js_name = driveLog)]
    pub async fn drive_log() -> JsValue;
    #[wasm_bindgen(js_name = portalControl)]
    pub async fn portal_control(path: &str, body: JsValue) -> JsValue;
    #[wasm_bindgen(js_name = portalReset)]
    pub async fn portal_reset(user: &JsValue);
    #[wasm_bindgen(js_name = portalCalls)]
    pub async fn portal_calls(user: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = tamperStoredCiphertext)]
    pub async fn tamper_stored_ciphertext(user: &JsValue, method: &str);
    #[wasm_bindgen(js_name = signInWhenAskedAgain)]
    pub fn sign_in_when_asked_again(user: &JsValue, options: JsValue) -> JsValue;
    pub fn steps(user: &JsValue, phase: &str) -> JsValue;
    pub async fn control(service: &str, path: &str, body: JsValue) -> JsValue;
    #[wasm_bindgen(js_name = serviceLog)]
    pub async fn service_log(service: &str) -> JsValue;
    #[wasm_bindgen(js_name = clearLogs)]
    pub async fn clear_logs();
    #[wasm_bindgen(js_name = sentTo)]
    pub fn sent_to(service: &str, method: &str, path: &str, exact: bool) -> Vec<String>;
    #[wasm_bindgen(js_name = clearSent)]
    pub fn clear_sent();
    #[wasm_bindgen(js_name = healAll)]
    pub async fn heal_all();
}

pub const GDRIVE: &str = "GDRIVE";
pub const ICLOUD: &str = "ICLOUD";
pub const PASSWORD: &str = "PASSWORD";

pub fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap()
}
pub fn text(value: &JsValue, key: &str) -> String {
    get(value, key).as_string().unwrap_or_else(|| panic!("{key} is not a string"))
}
pub fn flag(value: &JsValue, key: &str) -> bool {
    get(value, key).as_bool().unwrap_or_else(|| panic!("{key} is not a boolean"))
}
pub fn number(value: &JsValue, key: &str) -> f64 {
    get(value, key).as_f64().unwrap_or_else(|| panic!("{key} is not a number"))
}
pub fn strings(value: &JsValue) -> Vec<String> {
    js_sys::Array::from(value).iter().map(|v| v.as_string().unwrap()).collect()
}
pub fn json(value: &JsValue) -> String {
    js_sys::JSON::stringify(value).unwrap().as_string().unwrap()
}
pub fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o.into()
}

pub fn opts(user: &JsValue, method: &str) -> JsValue {
    options(user, method, JsValue::UNDEFINED)
}
pub fn opts_with(user: &JsValue, method: &str, extra: &[(&str, JsValue)]) -> JsValue {
    options(user, method, obj(extra))
}

pub async fn backup(user: &JsValue, method: &str, plaintext: &str) -> Result<JsValue, JsValue> {
    backup_with(user, opts(user, method), plaintext).await
}
pub async fn backup_with(_user: &JsValue, options: JsValue, plaintext: &str) -> Result<JsValue, JsValue> {
    Reflect::set(&options, &"clientBackup".into(), &plaintext.into()).unwrap();
    backup_wallet(options.unchecked_into::<BackupOptions>()).await.map(JsValue::from)
}
pub async fn recover(options: JsValue) -> Result<JsValue, JsValue> {
    recover_wallet(options.unchecked_into::<MethodOptions>()).await.map(JsValue::from)
}

pub async fn change_key(options: JsValue) -> Result<JsValue, JsValue> {
    change_backup_key(options.unchecked_into::<ChangeKeyOptions>()).await.map(JsValue::from)
}

/// (code, step) of a rejected call.
pub fn failure(error: &JsValue) -> (String, String) {
    (text(error, "code"), get(error, "step").as_string().unwrap_or_default())
}

pub async fn key_files(user: &JsValue) -> Vec<JsValue> {
    js_sys::Array::from(&drive_files(user).await).iter().collect()
}

/// The ids of the user's key files (Drive) or key records (iCloud).
pub async fn stored_keys(user: &JsValue, method: &str) -> Vec<String> {
    if method == ICLOUD {
        js_sys::Array::from(&icloud_records(user).await).iter().map(|r| text(&r, "recordName")).collect()
    } else {
        key_files(user).await.iter().map(|f| text(f, "id")).collect()
    }
}
