// The comparison Worker for BENCHMARKS.md part 5: the Rust Worker's four
// benchmarked routes written in plain JavaScript, doing the same work —
// Portal token check with the same cache (SHA-256 of the token, 60 s, 1024
// entries), SHA-256 + constant-time webhook secret check, the same input
// validation, AES-256-GCM at rest through crypto.subtle with the same
// associated data, the same KV keys, records and index writes, the same
// PATCH to Portal after a PUT, the same versioned method index (list() only
// for a pre-v2 index), the same KV calls issued together where the Rust
// Worker joins them, the keyring parsed once per isolate. Not used by the
// product.

const enc = new TextEncoder();
const dec = new TextDecoder();
const MAX_ID_LEN = 128;
const MAX_WEBHOOK_BODY = 64 * 1024;
const MAX_CLIENT_BACKUP_BODY = 256 * 1024;
const TOKEN_TTL_MS = 60_000;
const TOKEN_CACHE_MAX = 1024;
const PORTAL_TIMEOUT_MS = 5_000;
const AAD_LABEL = enc.encode('portal-backup-worker/custodian-share/v1');

class HttpError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}
const invalid = (code, message) => new HttpError(400, code, message);
const UNAUTHENTICATED = () => new HttpError(401, 'UNAUTHENTICATED', 'the bearer token was not accepted by Portal');
const PORTAL_UNAVAILABLE = () => new HttpError(503, 'PORTAL_UNAVAILABLE', 'Portal could not be reached');
const STORAGE = () => new HttpError(503, 'STORAGE_UNAVAILABLE', 'storage is unavailable');
const UNREADABLE = () => new HttpError(500, 'STORED_RECORD_UNREADABLE', 'a stored record could not be read');

const isSafeId = (s) => typeof s === 'string' && s.length >= 1 && s.length <= MAX_ID_LEN && /^[A-Za-z0-9_-]+$/.test(s);

// ---- base64 (standard and url-safe, unpadded out)
function b64urlEncode(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
function b64Decode(text, url) {
  if (url ? !/^[A-Za-z0-9_-]*$/.test(text) : !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  let s = url ? text.replace(/-/g, '+').replace(/_/g, '/') : text;
  if (url) { if (s.length % 4 === 1) return null; s += '='.repeat((4 - (s.length % 4)) % 4); }
  try {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch { return null; }
}

// ---- routing (same table as worker/src/http.rs)
function route(path, root) {
  root = root.replace(/^\/+|\/+$/g, '');
  const prefix = root ? `/${root}/` : '/';
  if (path.startsWith(prefix)) {
    const rest = path.slice(prefix.length);
    if (rest === 'backup') return { kind: 'webhookBackup' };
    if (rest === 'backup/fetch') return { kind: 'webhookFetch' };
  }
  if (!path.startsWith('/v1/client-backups')) return null;
  const rest = path.slice('/v1/client-backups'.length);
  if (rest === '' || rest === '/') return { kind: 'list' };
  if (!rest.startsWith('/')) return null;
  const segments = rest.slice(1).split('/');
  if (segments.length === 1) return { kind: 'backup', method: segments[0] };
  if (segments.length === 2 && segments[1] === 'confirm') return { kind: 'confirm', method: segments[0] };
  if (segments.length === 2 && segments[1] === 'notify') return { kind: 'notify', method: segments[0] };
  return null;
}

async function sha256(bytes) { return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)); }

async function webhookSecretMatches(presented, configured) {
  if (presented === null) return false;
  const [a, b] = await Promise.all([sha256(enc.encode(presented)), sha256(enc.encode(configured))]);
  return crypto.subtle.timingSafeEqual(a, b);
}

async function readBody(request, limit) {
  const length = request.headers.get('Content-Length');
  if (length !== null) {
    const n = Number(length.trim());
    if (!Number.isInteger(n)) throw invalid('INVALID_CONTENT_LENGTH', 'Content-Length is not a number');
    if (n > limit) throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body is larger than ${limit} bytes`);
  }
  if (!request.body) return new Uint8Array();
  if (length !== null) {
    // Declared within the limit: one arrayBuffer() call, as the Rust Worker.
    const body = new Uint8Array(await request.arrayBuffer());
    if (body.length > limit) throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body is larger than ${limit} bytes`);
    return body;
  }
  const chunks = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) { body.set(c, at); at += c.length; }
  return body;
}

function jsonContentType(value, required) {
  if (value === null) { if (required) throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json'); return; }
  if (value.split(';')[0].trim().toLowerCase() !== 'application/json') throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json');
}

function jsonObject(body) {
  let value;
  try { value = JSON.parse(dec.decode(body)); } catch { throw invalid('INVALID_JSON', 'body is not valid JSON'); }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('INVALID_JSON', 'body must be a JSON object');
  return value;
}

function stringField(map, name) {
  const v = map[name];
  if (v === undefined || v === null) throw invalid('MISSING_FIELD', `${name} is required`);
  if (typeof v !== 'string') throw invalid('INVALID_FIELD_TYPE', `${name} must be a string`);
  return v;
}
const clientIdOk = (s) => { if (!isSafeId(s)) throw invalid('INVALID_CLIENT_ID', 'clientId must be 1-128 characters of A-Z a-z 0-9 _ -'); return s; };
const methodOk = (s) => { if (!isSafeId(s)) throw invalid('INVALID_BACKUP_METHOD', 'backupMethod must be 1-128 characters of A-Z a-z 0-9 _ -'); return s; };

// The envelope header check the Rust Worker does with Envelope::parse.
function envelopeHeaderOk(bytes) {
  if (bytes.length < 6 || dec.decode(bytes.subarray(0, 4)) !== 'PBAK' || bytes[4] !== 1) return false;
  let at = 6;
  if (bytes[5] === 2) {
    if (bytes.length < at + 9 + 16) return false;
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const m = view.getUint32(at), t = view.getUint32(at + 4), p = bytes[at + 8];
    if (!(p >= 1 && p <= 16 && m >= 8 * p && m <= 1024 * 1024 && t >= 1 && t <= 64)) return false;
    at += 9 + 16;
  } else if (bytes[5] !== 1) return false;
  return bytes.length >= at + 12 + 16;
}

// ---- at-rest sealing (worker/src/store/at_rest.rs)
let keyringCache = null; // [secret text, parsed keyring], once per isolate
function keyringFor(secret) {
  if (keyringCache && keyringCache[0] === secret) return keyringCache[1];
  const keyring = parseKeyring(secret);
  keyringCache = [secret, keyring];
  return keyring;
}

function parseKeyring(secret) {
  const keys = [];
  for (const entry of (secret ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const i = entry.indexOf(':');
    if (i < 0) throw new HttpError(500, 'MISCONFIGURED', 'SHARE_ENCRYPTION_KEYS is malformed');
    const kid = entry.slice(0, i).trim();
    const encoded = entry.slice(i + 1).trim();
    const key = b64Decode(encoded, false) ?? b64Decode(encoded, true);
    if (!isSafeId(kid) || kid.length > 32 || !key || key.length !== 32 || keys.some((k) => k.kid === kid)) {
      throw new HttpError(500, 'MISCONFIGURED', 'SHARE_ENCRYPTION_KEYS is malformed');
    }
    keys.push({ kid, key });
  }
  if (keys.length === 0) throw new HttpError(500, 'MISCONFIGURED', 'SHARE_ENCRYPTION_KEYS is malformed');
  return keys;
}

function atRestAad(clientId, method) {
  const parts = [enc.encode(clientId), enc.encode(method)];
  const out = new Uint8Array(AAD_LABEL.length + 8 + parts[0].length + parts[1].length);
  out.set(AAD_LABEL);
  let at = AAD_LABEL.length;
  const view = new DataView(out.buffer);
  for (const part of parts) { view.setUint32(at, part.length); out.set(part, at + 4); at += 4 + part.length; }
  return out;
}

const importAes = (raw) => crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);

async function seal(keyring, clientId, method, share) {
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const key = await importAes(keyring[0].key);
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: atRestAad(clientId, method) }, key, enc.encode(share));
  return { v: 1, kid: keyring[0].kid, nonce: b64urlEncode(nonce), ciphertext: b64urlEncode(new Uint8Array(ct)) };
}

async function open(keyring, clientId, method, record) {
  const k = record?.v === 1 && keyring.find((k) => k.kid === record.kid);
  const nonce = k && b64Decode(record.nonce, true);
  const sealed = k && b64Decode(record.ciphertext, true);
  if (!k || !nonce || nonce.length !== 12 || !sealed) throw UNREADABLE();
  try {
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: atRestAad(clientId, method) }, await importAes(k.key), sealed);
    return new TextDecoder('utf-8', { fatal: true }).decode(plain);
  } catch { throw UNREADABLE(); }
}

// ---- KV (worker/src/store/kv.rs)
async function kvGetText(kv, key) { try { return await kv.get(key); } catch { throw STORAGE(); } }
async function kvGetJson(kv, key) {
  const text = await kvGetText(kv, key);
  if (text === null) return null;
  try { return JSON.parse(text); } catch { throw UNREADABLE(); }
}
async function kvPut(kv, key, text) { try { await kv.put(key, text); } catch { throw STORAGE(); } }
async function listKeys(kv, prefix) {
  const names = [];
  let cursor;
  for (;;) {
    let page;
    try { page = await kv.list({ prefix, cursor }); } catch { throw STORAGE(); }
    names.push(...page.keys.map((k) => k.name));
    if (page.list_complete || !page.cursor) return names;
    cursor = page.cursor;
  }
}
// The method index (worker/src/store/mod.rs MethodIndex): {"v":2,"methods"}
// is complete and read alone; a pre-v2 array or no index is partial, and
// readers add list().
async function readIndex(kv, indexKey, prefix) {
  const text = await kvGetText(kv, indexKey);
  let complete = false, methods = [];
  if (text !== null) {
    let value;
    try { value = JSON.parse(text); } catch { throw UNREADABLE(); }
    if (Array.isArray(value)) methods = value;
    else if (value?.v === 2 && Array.isArray(value.methods)) { complete = true; methods = value.methods; }
    else throw UNREADABLE();
  }
  const listed = complete ? [] : await listKeys(kv, prefix);
  return { complete, methods, listed };
}
function indexMethods(index, prefix) {
  const all = [...index.methods, ...index.listed.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length))].filter(isSafeId);
  return [...new Set(all)].sort();
}
async function methods(kv, indexKey, prefix) {
  return indexMethods(await readIndex(kv, indexKey, prefix), prefix);
}
async function rememberMethod(kv, index, indexKey, prefix, method) {
  if (index.complete && index.methods.includes(method)) return;
  const next = indexMethods(index, prefix);
  if (!next.includes(method)) { next.push(method); next.sort(); }
  await kvPut(kv, indexKey, JSON.stringify({ v: 2, methods: next }));
}

// ---- Portal (worker/src/portal.rs)
const tokenCache = new Map(); // hex(SHA-256(token)) -> [clientId, expiresMs]
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

async function portalSend(url, method, token, body) {
  const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), PORTAL_TIMEOUT_MS);
  try { return await fetch(url, { method, headers, body, signal: controller.signal }); }
  catch { throw PORTAL_UNAVAILABLE(); }
  finally { clearTimeout(timer); }
}
const portalUrl = (base, path) => base.replace(/\/+$/, '') + path;

async function clientIdFor(base, token) {
  const digest = hex(await sha256(enc.encode(token)));
  const now = Date.now();
  const cached = tokenCache.get(digest);
  if (cached && cached[1] > now) return cached[0];
  const response = await portalSend(portalUrl(base, '/api/v3/clients/me'), 'GET', token);
  if (response.status === 401 || response.status === 403) throw UNAUTHENTICATED();
  if (response.status !== 200) throw PORTAL_UNAVAILABLE();
  let client;
  try { client = await response.json(); } catch { throw PORTAL_UNAVAILABLE(); }
  if (!isSafeId(client?.id)) throw PORTAL_UNAVAILABLE();
  if (tokenCache.size >= TOKEN_CACHE_MAX) {
    for (const [k, [, exp]] of tokenCache) if (exp <= now) tokenCache.delete(k);
    if (tokenCache.size >= TOKEN_CACHE_MAX) tokenCache.clear();
  }
  tokenCache.set(digest, [client.id, now + TOKEN_TTL_MS]);
  return client.id;
}

async function reportStored(base, token, ids) {
  const body = JSON.stringify({ status: 'STORED_CLIENT_BACKUP_SHARE', backupSharePairIds: ids });
  try {
    const r = await portalSend(portalUrl(base, '/api/v3/clients/me/backup-share-pairs'), 'PATCH', token, body);
    return r.status >= 200 && r.status < 300;
  } catch { return false; }
}

// ---- responses
function json(status, body) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' } });
}
const errorResponse = (e) => json(e.status, { error: { code: e.code, message: e.message } });

// ---- webhooks (worker/src/webhooks.rs)
async function checkSecret(request, env) {
  if (!env.WEBHOOK_SECRET) throw new HttpError(500, 'MISCONFIGURED', 'WEBHOOK_SECRET is not set');
  if (!(await webhookSecretMatches(request.headers.get('X-Webhook-Secret'), env.WEBHOOK_SECRET))) {
    throw new HttpError(401, 'BAD_WEBHOOK_SECRET', 'X-Webhook-Secret does not match');
  }
}

async function storeCustodianShare(request, env) {
  await checkSecret(request, env);
  jsonContentType(request.headers.get('Content-Type'), false);
  const map = jsonObject(await readBody(request, MAX_WEBHOOK_BODY));
  const clientId = stringField(map, 'clientId');
  const method = stringField(map, 'backupMethod');
  const share = stringField(map, 'share');
  clientIdOk(clientId); methodOk(method);
  let shareValue;
  try { shareValue = JSON.parse(share); } catch { shareValue = null; }
  if (shareValue === null || typeof shareValue !== 'object' || Array.isArray(shareValue)) throw invalid('INVALID_SHARE', 'share must be a string holding a JSON object');
  const keyring = keyringFor(env.SHARE_ENCRYPTION_KEYS);
  const record = await seal(keyring, clientId, method, share);
  const indexKey = `custodian-index/${clientId}`, prefix = `custodian/${clientId}/`;
  const index = await readIndex(env.SHARES, indexKey, prefix);
  await Promise.all([
    kvPut(env.SHARES, `custodian/${clientId}/${method}`, JSON.stringify(record)),
    rememberMethod(env.SHARES, index, indexKey, prefix, method),
  ]);
  return json(200, { stored: true });
}

async function fetchCustodianShares(request, env) {
  await checkSecret(request, env);
  jsonContentType(request.headers.get('Content-Type'), false);
  const map = jsonObject(await readBody(request, MAX_WEBHOOK_BODY));
  const clientId = clientIdOk(stringField(map, 'clientId'));
  const keyring = keyringFor(env.SHARE_ENCRYPTION_KEYS);
  const stored = await methods(env.SHARES, `custodian-index/${clientId}`, `custodian/${clientId}/`);
  const records = await Promise.all(stored.map((method) => kvGetJson(env.SHARES, `custodian/${clientId}/${method}`)));
  const backupShares = [];
  for (let i = 0; i < stored.length; i++) if (records[i]) backupShares.push(await open(keyring, clientId, stored[i], records[i]));
  return json(200, { backupShares });
}

// ---- client backups (worker/src/client_backups.rs)
function bearerToken(value) {
  if (value === null) return null;
  const v = value.trim();
  const i = v.indexOf(' ');
  if (i < 0) return null;
  const token = v.slice(i + 1).trim();
  return v.slice(0, i).toLowerCase() === 'bearer' && token && !/\s/.test(token) ? token : null;
}

function summary(version, method) {
  return { backupMethod: method, backupId: version.backupId, backupSharePairIds: version.backupSharePairIds,
    size: version.cipherText.length, createdAt: version.createdAt, portalNotified: version.portalNotified, confirmed: version.confirmed };
}

async function loadRecord(kv, clientId, method) {
  const [record, notified] = await Promise.all([kvGetJson(kv, `client/${clientId}/${method}`), kvGetText(kv, `client-notified/${clientId}/${method}`)]);
  if (!record) return null;
  if (notified !== null) for (const v of [record.current, record.previous]) if (v && v.backupId === notified) v.portalNotified = true;
  return record;
}

function validateUpload(body) {
  const map = jsonObject(body);
  if (Object.keys(map).some((k) => k !== 'cipherText' && k !== 'backupSharePairIds' && k !== 'notifyPortal')) throw invalid('UNKNOWN_FIELD', 'only cipherText, backupSharePairIds and notifyPortal are accepted');
  const notify = map.notifyPortal;
  if (notify !== undefined && notify !== null && typeof notify !== 'boolean') throw invalid('INVALID_FIELD_TYPE', 'notifyPortal must be a boolean');
  const cipherText = stringField(map, 'cipherText');
  const bytes = b64Decode(cipherText.trim(), true);
  if (!bytes) throw invalid('INVALID_CIPHERTEXT', 'cipherText is not base64url');
  if (!envelopeHeaderOk(bytes)) throw invalid('INVALID_CIPHERTEXT', 'cipherText is not a portal-backup envelope');
  const ids = map.backupSharePairIds;
  if (ids === undefined || ids === null) throw invalid('MISSING_FIELD', 'backupSharePairIds is required');
  if (!Array.isArray(ids)) throw invalid('INVALID_FIELD_TYPE', 'backupSharePairIds must be an array');
  if (ids.length === 0 || ids.length > 16) throw invalid('INVALID_SHARE_PAIR_IDS', 'backupSharePairIds must hold 1 to 16 ids');
  if (!ids.every(isSafeId)) throw invalid('INVALID_SHARE_PAIR_IDS', 'each backupSharePairId must be 1-128 characters of A-Z a-z 0-9 _ -');
  return { cipherText: cipherText.trim(), backupSharePairIds: ids, notifyPortal: notify ?? true };
}

async function clientBackups(target, request, env) {
  const token = bearerToken(request.headers.get('Authorization'));
  if (!token) throw UNAUTHENTICATED();
  const base = env.PORTAL_API_BASE ?? 'https://api.portalhq.io';
  const clientId = await clientIdFor(base, token);
  const kv = env.SHARES;
  if (target.kind !== 'backup') throw new HttpError(404, 'ROUTE_NOT_FOUND', 'not benchmarked in the JS comparison Worker');
  const method = methodOk(target.method);
  if (request.method === 'GET') {
    const record = await loadRecord(kv, clientId, method);
    if (!record) throw new HttpError(404, 'NOT_FOUND', 'no backup is stored for this method');
    const withText = (v) => v && { ...summary(v, method), cipherText: v.cipherText };
    return json(200, { clientId, current: withText(record.current), previous: withText(record.previous) ?? null });
  }
  if (request.method !== 'PUT') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'method not allowed');
  jsonContentType(request.headers.get('Content-Type'), true);
  const upload = validateUpload(await readBody(request, MAX_CLIENT_BACKUP_BODY));
  const indexKey = `client-index/${clientId}`, prefix = `client/${clientId}/`;
  const [existing, index] = await Promise.all([loadRecord(kv, clientId, method), readIndex(kv, indexKey, prefix)]);
  const version = { backupId: b64urlEncode(crypto.getRandomValues(new Uint8Array(16))), cipherText: upload.cipherText,
    backupSharePairIds: upload.backupSharePairIds, createdAt: new Date().toISOString(), portalNotified: false, confirmed: false };
  const previous = existing === null ? null : existing.current.confirmed ? existing.current : existing.previous;
  const record = { v: 1, current: version, previous: previous ?? null };
  await Promise.all([kvPut(kv, `client/${clientId}/${method}`, JSON.stringify(record)), rememberMethod(kv, index, indexKey, prefix, method)]);
  const current = { ...version };
  if (upload.notifyPortal && (env.NOTIFY_PORTAL ?? 'true').trim().toLowerCase() !== 'false' && (await reportStored(base, token, version.backupSharePairIds))) {
    try { await kvPut(kv, `client-notified/${clientId}/${method}`, version.backupId); current.portalNotified = true; } catch { /* as Rust: false */ }
  }
  return json(201, { clientId, backup: summary(current, method) });
}

export default {
  async fetch(request, env) {
    const started = Date.now();
    const requestId = hex(crypto.getRandomValues(new Uint8Array(8)));
    const url = new URL(request.url);
    const target = route(url.pathname, env.WEBHOOKS_ROOT ?? 'webhooks');
    let response, errorCode;
    try {
      if (!target) throw new HttpError(404, 'ROUTE_NOT_FOUND', 'no such route');
      if (target.kind === 'webhookBackup' || target.kind === 'webhookFetch') {
        if (request.method !== 'POST') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'method not allowed');
        response = target.kind === 'webhookBackup' ? await storeCustodianShare(request, env) : await fetchCustodianShares(request, env);
      } else {
        response = await clientBackups(target, request, env);
      }
    } catch (e) {
      const error = e instanceof HttpError ? e : new HttpError(500, 'INTERNAL', 'internal error');
      errorCode = error.code;
      response = errorResponse(error);
    }
    if (target && target.kind !== 'webhookBackup' && target.kind !== 'webhookFetch') {
      response.headers.set('Vary', 'Origin');
      const origin = request.headers.get('Origin');
      const allowed = (env.ALLOWED_ORIGINS ?? '').split(',').map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean);
      if (origin && allowed.includes(origin)) response.headers.set('Access-Control-Allow-Origin', origin);
    }
    console.log(JSON.stringify({ requestId, method: request.method, route: target?.kind ?? 'unmatched', status: response.status, durationMs: Date.now() - started, ...(errorCode ? { errorCode } : {}) }));
    response.headers.set('X-Request-Id', requestId);
    return response;
  },
};
