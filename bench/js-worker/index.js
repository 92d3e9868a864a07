// The comparison Worker for BENCHMARKS.md part 5: the Rust Worker's routes
// (both webhooks, the client backup routes, both lists, the CORS preflight)
// written in plain JavaScript, doing the same work and the same I/O as the
// storage design of issue 14 (KV holds only write-once blobs; everything that
// changes lives in the client's Durable Object):
// - Portal token check with the same cache (SHA-256 of the token, 60 s, 1024
//   entries); SHA-256 + constant-time webhook secret check;
// - the same abuse limits on the same Rate Limiting bindings
//   (WEBHOOK_AUTH_FAILURES on failed webhook auth, with the per-isolate
//   blocklist; CLIENT_WRITES on client writes), Retry-After on 429 and 503;
// - the same input validation; client routes take only GDRIVE / PASSWORD /
//   PASSKEY;
// - AES-256-GCM at rest through crypto.subtle with the same associated data,
//   the keyring parsed once per isolate;
// - one BackupDirectory Durable Object per client (binding BACKUP_DIRECTORY,
//   idFromName(clientId); same class name, same requests and answers, same
//   storage keys "directory", "client" and "trash"):
//   - custodian shares: the object writes each delivery's sealed record once
//     under a fresh KV key custodian/{clientId}/{method}/{version}, names it
//     in "directory" (at most 32 methods) and reads the named keys together;
//   - client backups: the Worker writes the envelope text once under a fresh
//     KV key envelope/{clientId}/{method}/{backupId}, the object names it in
//     "client" (current / previous, confirmed, portalNotified); GET asks the
//     object, then gets the named envelopes together (a missing one: re-ask
//     briefly, then 503); the list is the object's answer alone;
//   - KV keys no longer named go to "trash", deleted by the object's alarm
//     1.5 s later (KV allows one write per key per second);
//   - the pre-issue-14 records (client/{c}/{m} + client-notified/{c}/{m} in
//     KV) are copied into envelope/ keys and "client" on the object's first
//     client request, then trashed;
// - the same PATCH to Portal after a PUT, and one JSON log line per request.
// Not used by the product.
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
const UNAUTHENTICATED = () => new HttpError(401, 'UNAUTHENTICATED', 'missing or rejected bearer token');
const PORTAL_UNAVAILABLE = () => new HttpError(503, 'PORTAL_UNAVAILABLE', 'Portal is unavailable; try again');
const STORAGE = () => new HttpError(503, 'STORAGE_UNAVAILABLE', 'storage is unavailable; try again');
const UNREADABLE = () => new HttpError(500, 'STORED_RECORD_UNREADABLE', 'a stored record cannot be read');
const INTERNAL = (what) => new HttpError(500, 'INTERNAL', `internal error: ${what}`);
const RATE_LIMITED = () => new HttpError(429, 'RATE_LIMITED', 'too many requests; retry after Retry-After seconds');
const MALFORMED_KEYS = () => new HttpError(500, 'MISCONFIGURED', 'server misconfigured: SHARE_ENCRYPTION_KEYS must be kid:base64-32-byte-key[,kid:key...] with unique kids');
const NO_KV = () => new HttpError(500, 'MISCONFIGURED', 'server misconfigured: KV binding SHARES is missing');
const METHOD_NOT_ALLOWED = (allow) => Object.assign(new HttpError(405, 'METHOD_NOT_ALLOWED', `method not allowed; allowed: ${allow}`), { allow });
// Seconds for Retry-After (worker/src/error.rs retry_after).
const retryAfter = (e) => (e.status === 429 ? 60 : e.status === 503 ? 1 : null);


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
const ROUTES = {
  webhookBackup: { template: '/{webhooksRoot}/backup', allow: 'POST', serves: ['POST'] },
  webhookFetch: { template: '/{webhooksRoot}/backup/fetch', allow: 'POST', serves: ['POST'] },
  list: { template: '/v1/client-backups', allow: 'GET, OPTIONS', serves: ['GET'] },
  backup: { template: '/v1/client-backups/{backupMethod}', allow: 'GET, PUT, DELETE, OPTIONS', serves: ['GET', 'PUT', 'DELETE'] },
  confirm: { template: '/v1/client-backups/{backupMethod}/confirm', allow: 'POST, OPTIONS', serves: ['POST'] },
  notify: { template: '/v1/client-backups/{backupMethod}/notify', allow: 'POST, OPTIONS', serves: ['POST'] },
  custodianList: { template: '/v1/custodian-backups', allow: 'GET, OPTIONS', serves: ['GET'] },
};
const isWebhook = (target) => target.kind === 'webhookBackup' || target.kind === 'webhookFetch';

function route(path, root) {
  root = root.replace(/^\/+|\/+$/g, '');
  const prefix = root ? `/${root}/` : '/';
  if (path.startsWith(prefix)) {
    const rest = path.slice(prefix.length);
    if (rest === 'backup') return { kind: 'webhookBackup' };
    if (rest === 'backup/fetch') return { kind: 'webhookFetch' };
  }
  if (path === '/v1/custodian-backups' || path === '/v1/custodian-backups/') return { kind: 'custodianList' };
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
    if (n > limit) throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `body larger than ${limit} bytes`);
  }
  if (!request.body) return new Uint8Array();
  if (length !== null) {
    // Declared within the limit: one arrayBuffer() call, as the Rust Worker.
    const body = new Uint8Array(await request.arrayBuffer());
    if (body.length > limit) throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `body larger than ${limit} bytes`);
    return body;
  }
  const chunks = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `body larger than ${limit} bytes`);
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
// worker/src/validate.rs CLIENT_BACKUP_METHODS: the only methods the client routes store.
const CLIENT_BACKUP_METHODS = ['GDRIVE', 'PASSWORD', 'PASSKEY'];
const clientMethodOk = (s) => {
  if (!CLIENT_BACKUP_METHODS.includes(methodOk(s))) throw invalid('UNSUPPORTED_BACKUP_METHOD', 'backupMethod must be one the browser module supports: GDRIVE, PASSWORD or PASSKEY');
  return s;
};

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
  } else if (bytes[5] === 3) {
    // Passkey: u16 credential id length (1 to 1023), the id, the PRF salt.
    if (bytes.length < at + 2) return false;
    const length = (bytes[at] << 8) | bytes[at + 1];
    if (length < 1 || length > 1023) return false;
    at += 2 + length + 32;
  } else if (bytes[5] !== 1) return false;
  return bytes.length >= at + 12 + 16;
}

// ---- at-rest sealing (worker/src/store/at_rest.rs)
let keyringCache = null; // [secret text, parsed keyring], once per isolate
function keyringFor(secret) {
  if (secret === undefined || secret === null) throw new HttpError(500, 'MISCONFIGURED', 'server misconfigured: SHARE_ENCRYPTION_KEYS is not set');
  if (keyringCache && keyringCache[0] === secret) return keyringCache[1];
  const keyring = parseKeyring(secret);
  keyringCache = [secret, keyring];
  return keyring;
}

function parseKeyring(secret) {
  const keys = [];
  for (const entry of (secret ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const i = entry.indexOf(':');
    if (i < 0) throw MALFORMED_KEYS();
    const kid = entry.slice(0, i).trim();
    const encoded = entry.slice(i + 1).trim();
    const key = b64Decode(encoded, false) ?? b64Decode(encoded, true);
    if (!isSafeId(kid) || kid.length > 32 || !key || key.length !== 32 || keys.some((k) => k.kid === kid)) {
      throw MALFORMED_KEYS();
    }
    keys.push({ kid, key });
  }
  if (keys.length === 0) throw MALFORMED_KEYS();
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
const shares = (env) => env.SHARES ?? (() => { throw NO_KV(); })();
const custodianShareKey = (clientId, method, version) => `custodian/${clientId}/${method}/${version}`;
const envelopeKey = (clientId, method, backupId) => `envelope/${clientId}/${method}/${backupId}`;

// ---- abuse limits (worker/src/limits.rs)
const PERIOD_MS = 60_000;
const BLOCKLIST_MAX = 4096;
const blocked = new Map(); // address -> blocked until (ms), this isolate only

async function within(env, binding, key) {
  const limiter = env[binding];
  if (!limiter) throw new HttpError(500, 'MISCONFIGURED', 'server misconfigured: a Rate Limiting binding is missing');
  try { return (await limiter.limit({ key })).success; } catch { throw INTERNAL('rate limiter'); }
}
function block(address, now) {
  if (blocked.size >= BLOCKLIST_MAX) {
    for (const [a, until] of blocked) if (now >= until) blocked.delete(a);
    if (blocked.size >= BLOCKLIST_MAX) {
      const ends = [...blocked.values()].sort((a, b) => a - b);
      const cut = ends[ends.length >> 1];
      for (const [a, until] of blocked) if (until <= cut) blocked.delete(a);
    }
  }
  blocked.set(address, now + PERIOD_MS);
}
async function clientWrite(env, clientId) {
  if (!(await within(env, 'CLIENT_WRITES', clientId))) throw RATE_LIMITED();
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
function empty(status) {
  return new Response(null, { status, headers: { 'Cache-Control': 'no-store' } });
}
function errorResponse(e) {
  const response = json(e.status, { error: { code: e.code, message: e.message } });
  if (e.allow) response.headers.set('Allow', e.allow);
  const seconds = retryAfter(e);
  if (seconds !== null) response.headers.set('Retry-After', String(seconds));
  return response;
}
const asHttpError = (e) => (e instanceof HttpError ? e : INTERNAL('internal'));

// ---- the client's Durable Object (worker/src/store/directory.rs, object.rs, client.rs, trash.rs)
const MAX_METHODS = 32;
const VERSION_LEN = 32;
const DIRECTORY_KEY = 'directory';
const CLIENT_KEY = 'client';
const TRASH_KEY = 'trash';
// A blob's delete is due this long after it stops being named: more than
// KV's one second between writes of a key (the blob was written before).
const TRASH_DELAY_MS = 1_500;
const isVersion = (s) => typeof s === 'string' && s.length === VERSION_LEN && /^[0-9a-f]+$/.test(s);
const newVersion = () => hex(crypto.getRandomValues(new Uint8Array(VERSION_LEN / 2)));
const newBackupId = () => b64urlEncode(crypto.getRandomValues(new Uint8Array(16)));
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const NOT_FOUND = () => new HttpError(404, 'NOT_FOUND', 'no backup stored for this method');
const NOT_CURRENT = () => new HttpError(409, 'NOT_CURRENT', 'backupId is not the current version');
const TOO_MANY = () => new HttpError(409, 'TOO_MANY_BACKUP_METHODS', 'this client already has the most backup methods allowed; nothing was stored');

function parseDirectory(text) {
  if (text === undefined || text === null) return new Map();
  let record;
  try { record = JSON.parse(text); } catch { throw UNREADABLE(); }
  const entries = record?.v === 1 && isObject(record.methods) ? Object.entries(record.methods) : null;
  if (!entries || entries.length > MAX_METHODS || !entries.every(([m, n]) => isSafeId(m) && isVersion(n?.version) && typeof n.receivedAt === 'string' && n.receivedAt.length >= 1 && n.receivedAt.length <= 32)) throw UNREADABLE();
  return new Map(entries);
}
// Sorted by method, as the Rust BTreeMap writes and reads it.
const sortedEntries = (map) => [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
const directoryText = (directory) => JSON.stringify({ v: 1, methods: Object.fromEntries(sortedEntries(directory)) });

// One client backup version as "client" holds it, fields in this order.
function versionRecord(v) {
  if (!isObject(v) || !isSafeId(v.backupId) || !Array.isArray(v.backupSharePairIds) || !v.backupSharePairIds.every(isSafeId)
    || typeof v.createdAt !== 'string' || !Number.isSafeInteger(v.size) || v.size < 0 || typeof v.confirmed !== 'boolean' || typeof v.portalNotified !== 'boolean') throw UNREADABLE();
  return { backupId: v.backupId, backupSharePairIds: v.backupSharePairIds, createdAt: v.createdAt, size: v.size, portalNotified: v.portalNotified, confirmed: v.confirmed };
}
// "client": method -> {current, previous}; undefined: not migrated yet.
function parseClient(text) {
  if (text === undefined || text === null) return undefined;
  let record;
  try { record = JSON.parse(text); } catch { throw UNREADABLE(); }
  if (record?.v !== 1 || !isObject(record.methods)) throw UNREADABLE();
  const methods = new Map();
  for (const [m, e] of Object.entries(record.methods)) {
    if (!CLIENT_BACKUP_METHODS.includes(m) || !isObject(e)) throw UNREADABLE();
    methods.set(m, { current: versionRecord(e.current), previous: e.previous === null || e.previous === undefined ? null : versionRecord(e.previous) });
  }
  return methods;
}
const clientText = (client) => JSON.stringify({ v: 1, methods: Object.fromEntries(sortedEntries(client)) });
// "trash": {"keys":[{key, due}]}, due in ms since the epoch.
function parseTrash(text) {
  if (text === undefined || text === null) return [];
  let trash;
  try { trash = JSON.parse(text)?.keys; } catch { throw UNREADABLE(); }
  if (!Array.isArray(trash) || !trash.every((t) => typeof t?.key === 'string' && Number.isSafeInteger(t.due))) throw UNREADABLE();
  return trash;
}
const toTrash = (trash, key, now) => trash.push({ key, due: now + TRASH_DELAY_MS });

// The answers' summary (wire.rs ClientBackupSummary, fields in this order).
const summary = (v, backupMethod) => ({ backupMethod, backupId: v.backupId, backupSharePairIds: v.backupSharePairIds,
  size: v.size, createdAt: v.createdAt, portalNotified: v.portalNotified, confirmed: v.confirmed });

export class BackupDirectory {
  constructor(state, env) {
    this.state = state;
    this.env = env;
    // What the object holds, loaded from storage on first use:
    // {directory, client, trash}; client undefined until the earlier
    // layout was looked for. null again after a failed write.
    this.held = null;
    this.pendingNew = new Map(); // new custodian methods admitted and being written -> count
  }

  async fetch(request) {
    try {
      const path = new URL(request.url).pathname;
      let body;
      try { body = await request.json(); } catch { throw INTERNAL('backup directory request'); }
      switch (path) {
        case '/client/store': return await this.store(body);
        case '/client/confirm': return await this.confirm(body);
        case '/client/notified': return await this.notified(body);
        case '/client/get': return await this.get(body);
        case '/client/list': return await this.list(body);
        case '/client/delete': return await this.remove(body);
        case '/custodian/commit': return await this.commit(body);
        case '/custodian/read': return await this.read(body);
        case '/custodian/methods': return await this.methods();
        default: throw new HttpError(404, 'ROUTE_NOT_FOUND', 'no such route');
      }
    } catch (e) {
      return errorResponse(asHttpError(e));
    }
  }

  // Deletes the blobs whose delete is due; a delete KV refuses stays in the
  // trash for the next alarm.
  async alarm() {
    try { await this.load(); } catch { return; }
    const kv = this.env.SHARES;
    if (!kv) return;
    const now = Date.now();
    const due = this.held.trash.filter((t) => t.due <= now);
    this.held.trash = this.held.trash.filter((t) => t.due > now);
    const deleted = await Promise.allSettled(due.map((t) => kv.delete(t.key)));
    if (this.held === null) return; // dropped by a failed write meanwhile
    due.forEach((t, i) => { if (deleted[i].status === 'rejected') toTrash(this.held.trash, t.key, now); });
    await this.save(false, false).catch(() => {});
  }

  kv() {
    const kv = this.env.SHARES;
    if (!kv) throw NO_KV();
    return kv;
  }

  async load() {
    if (this.held) return;
    let values;
    try { values = await this.state.storage.get([DIRECTORY_KEY, CLIENT_KEY, TRASH_KEY]); } catch { throw STORAGE(); }
    const client = values.get(CLIENT_KEY);
    const held = { directory: parseDirectory(values.get(DIRECTORY_KEY)), client: client === undefined ? undefined : parseClient(client), trash: parseTrash(values.get(TRASH_KEY)) };
    this.held ??= held;
  }

  // Loads, and on the client's first request moves its records from the
  // earlier layout. Other events wait meanwhile, so the move runs once.
  async loadClient(clientId) {
    await this.load();
    if (this.held.client !== undefined) return this.held.client;
    const kv = this.kv();
    // Resolves with the error: a throw inside blockConcurrencyWhile would reset the object.
    const moved = await this.state.blockConcurrencyWhile(() => moveEarlierLayout(kv, clientId).catch((e) => e));
    if (moved instanceof Error) throw moved;
    if (this.held === null) throw STORAGE();
    if (this.held.client === undefined) {
      this.held.client = moved.client;
      const now = Date.now();
      for (const key of moved.oldKeys) toTrash(this.held.trash, key, now);
    }
    await this.save(true, false);
    return this.held.client;
  }

  // Writes what changed in one storage write ("trash", "client" and
  // "directory" when asked), then sets the alarm for the trash. A failed
  // write drops what is held, so the next request reloads storage.
  async save(client, directory) {
    const held = this.held;
    if (held === null) throw STORAGE();
    const entries = { [TRASH_KEY]: JSON.stringify({ keys: held.trash }) };
    if (client) entries[CLIENT_KEY] = clientText(held.client);
    if (directory) entries[DIRECTORY_KEY] = directoryText(held.directory);
    const nextDue = held.trash.reduce((min, t) => Math.min(min, t.due), Infinity);
    try { await this.state.storage.put(entries); } catch { this.held = null; throw STORAGE(); }
    if (nextDue !== Infinity) await this.state.storage.setAlarm(Math.max(nextDue, Date.now())).catch(() => {});
  }

  // -- client backups
  // A PUT's version (its envelope already in KV) becomes current. A
  // confirmed current becomes previous; an unconfirmed one is dropped and
  // previous (the last confirmed) stays.
  async store({ clientId, backupMethod, version }) {
    const client = await this.loadClient(clientId);
    const current = versionRecord(version);
    const old = client.get(backupMethod);
    const dropped = !old ? null : old.current.confirmed ? old.previous : old.current;
    client.set(backupMethod, { current, previous: !old ? null : old.current.confirmed ? old.current : old.previous });
    if (dropped) toTrash(this.held.trash, envelopeKey(clientId, backupMethod, dropped.backupId), Date.now());
    await this.save(true, false);
    return json(200, current);
  }

  // confirm: current is the one to recover from, the fallback goes.
  // notified: Portal accepted SHARE for that version.
  async confirm(body) { return this.change(body, true); }
  async notified(body) { return this.change(body, false); }
  async change({ clientId, backupMethod, backupId }, confirm) {
    const entry = (await this.loadClient(clientId)).get(backupMethod);
    if (!entry) throw NOT_FOUND();
    if (confirm) {
      if (entry.current.backupId !== backupId) throw NOT_CURRENT();
      entry.current.confirmed = true;
      if (entry.previous) toTrash(this.held.trash, envelopeKey(clientId, backupMethod, entry.previous.backupId), Date.now());
      entry.previous = null;
    } else {
      for (const v of [entry.current, entry.previous]) if (v?.backupId === backupId) v.portalNotified = true;
    }
    await this.save(true, false);
    return json(200, entry.current);
  }

  async get({ clientId, backupMethod }) {
    const entry = (await this.loadClient(clientId)).get(backupMethod);
    if (!entry) throw NOT_FOUND();
    return json(200, entry);
  }

  async list({ clientId }) {
    const client = await this.loadClient(clientId);
    return json(200, { backups: CLIENT_BACKUP_METHODS.filter((m) => client.has(m)).map((m) => summary(client.get(m).current, m)) });
  }

  async remove({ clientId, backupMethod }) {
    const client = await this.loadClient(clientId);
    const entry = client.get(backupMethod);
    if (!entry) throw NOT_FOUND();
    client.delete(backupMethod);
    const now = Date.now();
    for (const v of [entry.current, entry.previous]) if (v) toTrash(this.held.trash, envelopeKey(clientId, backupMethod, v.backupId), now);
    await this.save(true, false);
    return json(200, {});
  }

  // -- custodian shares
  admit(method) {
    const directory = this.held.directory;
    if (directory.has(method)) return false;
    if (!this.pendingNew.has(method) && directory.size + this.pendingNew.size >= MAX_METHODS) throw TOO_MANY();
    this.pendingNew.set(method, (this.pendingNew.get(method) ?? 0) + 1);
    return true;
  }

  settle(method) {
    const count = this.pendingNew.get(method);
    if (count === undefined) return;
    if (count <= 1) this.pendingNew.delete(method);
    else this.pendingNew.set(method, count - 1);
  }

  // One delivery: admitted, written to a fresh KV key, then named; the key
  // it replaces goes to the trash.
  async commit({ clientId, backupMethod, sealed }) {
    await this.load();
    const isNew = this.admit(backupMethod);
    const version = newVersion();
    try {
      await kvPut(this.kv(), custodianShareKey(clientId, backupMethod, version), JSON.stringify(sealed));
    } finally {
      if (isNew) this.settle(backupMethod);
    }
    // A failed write above or below leaves an unnamed blob (never read).
    if (this.held === null) throw STORAGE();
    const replaced = this.held.directory.get(backupMethod)?.version;
    this.held.directory.set(backupMethod, { version, receivedAt: new Date().toISOString() });
    if (replaced !== undefined) toTrash(this.held.trash, custodianShareKey(clientId, backupMethod, replaced), Date.now());
    await this.save(false, true);
    return json(200, {});
  }

  // Every method's sealed share, sorted by method.
  async read({ clientId }) {
    await this.load();
    const named = sortedEntries(this.held.directory).map(([method, { version }]) => [method, version]);
    const kv = this.kv();
    const records = await Promise.all(named.map(([method, version]) => kvGetJson(kv, custodianShareKey(clientId, method, version))));
    const shares = [];
    for (let i = 0; i < named.length; i++) {
      const [backupMethod, version] = named[i];
      shares.push({ backupMethod, sealed: records[i] ?? (await this.reread(kv, clientId, backupMethod, version)) });
    }
    return json(200, { shares });
  }

  // A named share whose key was not readable: if a delivery replaced it
  // meanwhile, read the key named now; else 503.
  async reread(kv, clientId, method, seen) {
    for (let n = 0; n < 3; n++) {
      const version = this.held?.directory.get(method)?.version;
      if (version === undefined || version === seen) break;
      const sealed = await kvGetJson(kv, custodianShareKey(clientId, method, version));
      if (sealed) return sealed;
      seen = version;
    }
    throw STORAGE();
  }

  async methods() {
    await this.load();
    return json(200, { methods: sortedEntries(this.held.directory).map(([backupMethod, { receivedAt }]) => ({ backupMethod, receivedAt })) });
  }
}

// The client's records in the layout before the object held them, moved:
// each version's ciphertext written to its own envelope blob, and the old
// keys to delete once the records are held by the object.
async function moveEarlierLayout(kv, clientId) {
  const found = await Promise.all(CLIENT_BACKUP_METHODS.map((m) => Promise.all([kvGetJson(kv, `client/${clientId}/${m}`), kvGetText(kv, `client-notified/${clientId}/${m}`)])));
  const client = new Map();
  const oldKeys = [];
  const blobs = [];
  CLIENT_BACKUP_METHODS.forEach((m, i) => {
    const [record, marker] = found[i];
    if (marker !== null) oldKeys.push(`client-notified/${clientId}/${m}`);
    if (record === null) return;
    if (record?.v !== 1) throw UNREADABLE();
    const move = (v) => {
      if (!isObject(v) || typeof v.cipherText !== 'string') throw UNREADABLE();
      blobs.push([envelopeKey(clientId, m, v.backupId), v.cipherText]);
      return versionRecord({ ...v, size: v.cipherText.length, portalNotified: v.portalNotified === true || v.backupId === marker });
    };
    client.set(m, { current: move(record.current), previous: record.previous === null || record.previous === undefined ? null : move(record.previous) });
    oldKeys.push(`client/${clientId}/${m}`);
  });
  await Promise.all(blobs.map(([key, text]) => kvPut(kv, key, text)));
  return { client, oldKeys };
}

// What the Worker asks the client's object, over its stub: the answer's
// JSON. The object answers errors with the Worker's own error bodies.
function directoryStub(env, clientId) {
  const namespace = env.BACKUP_DIRECTORY;
  if (!namespace) throw new HttpError(500, 'MISCONFIGURED', 'server misconfigured: Durable Object binding BACKUP_DIRECTORY is missing');
  try { return namespace.get(namespace.idFromName(clientId)); } catch { throw STORAGE(); }
}
async function callDirectory(stub, path, body) {
  const request = new Request(`https://backup-directory${path}`, { method: 'POST', body: JSON.stringify(body) });
  let response, text;
  try { response = await stub.fetch(request); text = await response.text(); } catch { throw STORAGE(); }
  let answer;
  try { answer = JSON.parse(text); } catch { throw INTERNAL('backup directory answer'); }
  if (response.status === 200) return answer;
  const error = answer?.error;
  if (typeof error?.code !== 'string' || typeof error.message !== 'string') throw INTERNAL('backup directory');
  throw new HttpError(response.status, error.code, error.message);
}

// ---- webhooks (worker/src/webhooks.rs)
function checkSecret(request, env) {
  if (!env.WEBHOOK_SECRET) throw new HttpError(500, 'MISCONFIGURED', 'server misconfigured: WEBHOOK_SECRET is not set');
  return webhookSecretMatches(request.headers.get('X-Webhook-Secret'), env.WEBHOOK_SECRET);
}

// Both webhooks' body, read only once the secret matched.
async function authenticatedBody(request, env) {
  const address = request.headers.get('CF-Connecting-IP') ?? 'unknown';
  const until = blocked.get(address);
  if (until !== undefined && Date.now() < until) throw RATE_LIMITED();
  if (!(await checkSecret(request, env))) {
    if (await within(env, 'WEBHOOK_AUTH_FAILURES', address)) throw new HttpError(401, 'UNAUTHENTICATED', 'missing or wrong X-Webhook-Secret');
    block(address, Date.now());
    throw RATE_LIMITED();
  }
  jsonContentType(request.headers.get('Content-Type'), false);
  return readBody(request, MAX_WEBHOOK_BODY);
}

async function storeCustodianShare(request, env) {
  const map = jsonObject(await authenticatedBody(request, env));
  const clientId = stringField(map, 'clientId');
  const method = stringField(map, 'backupMethod');
  const share = stringField(map, 'share');
  clientIdOk(clientId); methodOk(method);
  let shareValue;
  try { shareValue = JSON.parse(share); } catch { shareValue = null; }
  if (shareValue === null || typeof shareValue !== 'object' || Array.isArray(shareValue)) throw invalid('INVALID_SHARE', 'share must be a string holding a JSON object');
  const sealed = await seal(keyringFor(env.SHARE_ENCRYPTION_KEYS), clientId, method, share);
  await callDirectory(directoryStub(env, clientId), '/custodian/commit', { clientId, backupMethod: method, sealed });
  return json(200, { stored: true });
}

async function fetchCustodianShares(request, env) {
  const map = jsonObject(await authenticatedBody(request, env));
  const clientId = clientIdOk(stringField(map, 'clientId'));
  const keyring = keyringFor(env.SHARE_ENCRYPTION_KEYS);
  const { shares: stored } = await callDirectory(directoryStub(env, clientId), '/custodian/read', { clientId });
  const backupShares = [];
  for (const { backupMethod, sealed } of stored) backupShares.push(await open(keyring, clientId, backupMethod, sealed));
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

function validateUpload(body) {
  const map = jsonObject(body);
  if (Object.keys(map).some((k) => k !== 'cipherText' && k !== 'backupSharePairIds' && k !== 'notifyPortal')) throw invalid('UNKNOWN_FIELD', 'only cipherText, backupSharePairIds and notifyPortal are accepted');
  const notify = map.notifyPortal;
  if (notify !== undefined && notify !== null && typeof notify !== 'boolean') throw invalid('INVALID_FIELD_TYPE', 'notifyPortal must be a boolean');
  const cipherText = stringField(map, 'cipherText');
  // One text form: the canonical base64url, nothing around it.
  const bytes = cipherText.trim() === cipherText ? b64Decode(cipherText, true) : null;
  if (!bytes) throw invalid('INVALID_CIPHERTEXT', 'cipherText is not base64url');
  if (!envelopeHeaderOk(bytes)) throw invalid('INVALID_CIPHERTEXT', 'cipherText is not a portal-backup envelope');
  const ids = map.backupSharePairIds;
  if (ids === undefined || ids === null) throw invalid('MISSING_FIELD', 'backupSharePairIds is required');
  if (!Array.isArray(ids)) throw invalid('INVALID_FIELD_TYPE', 'backupSharePairIds must be an array');
  if (ids.length === 0 || ids.length > 16) throw invalid('INVALID_SHARE_PAIR_IDS', 'backupSharePairIds must hold 1 to 16 ids');
  if (!ids.every(isSafeId)) throw invalid('INVALID_SHARE_PAIR_IDS', 'each backupSharePairId must be 1-128 characters of A-Z a-z 0-9 _ -');
  return { cipherText, backupSharePairIds: ids, notifyPortal: notify ?? true };
}

function validateConfirm(body) {
  const map = jsonObject(body);
  if (Object.keys(map).some((k) => k !== 'backupId')) throw invalid('UNKNOWN_FIELD', 'only backupId is accepted');
  const backupId = stringField(map, 'backupId');
  if (!isSafeId(backupId)) throw invalid('INVALID_BACKUP_ID', 'backupId is malformed');
  return backupId;
}

// Tells Portal and, when it accepted, records that in the client's object:
// portalNotified says whether both happened.
async function tellPortal(directory, config, token, clientId, method, version) {
  version.portalNotified = config.notifyPortal && (await reportStored(config.portalApiBase, token, version.backupSharePairIds))
    && (await callDirectory(directory, '/client/notified', { clientId, backupMethod: method, backupId: version.backupId }).then(() => true, () => false));
  return version;
}

// Waits before a GET asks again for a blob the object names but KV did not
// serve yet; then the answer is 503 (Retry-After), never an older version.
const REREAD_AFTER_MS = [50, 200];

async function getVersions(directory, kv, clientId, method) {
  for (let attempt = 0; attempt <= REREAD_AFTER_MS.length; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, REREAD_AFTER_MS[attempt - 1]));
    const { current, previous } = await callDirectory(directory, '/client/get', { clientId, backupMethod: method });
    const [text, previousText] = await Promise.all([kvGetText(kv, envelopeKey(clientId, method, current.backupId)), previous ? kvGetText(kv, envelopeKey(clientId, method, previous.backupId)) : null]);
    if (text !== null && (!previous || previousText !== null)) {
      return { clientId, current: { ...summary(current, method), cipherText: text }, previous: previous ? { ...summary(previous, method), cipherText: previousText } : null };
    }
  }
  throw STORAGE();
}

async function clientBackups(target, request, env, config) {
  // The method first, as sent: 405 with Allow before Portal is asked.
  if (!ROUTES[target.kind].serves.includes(request.method)) throw METHOD_NOT_ALLOWED(ROUTES[target.kind].allow);
  const token = bearerToken(request.headers.get('Authorization'));
  if (!token) throw UNAUTHENTICATED();
  const clientId = await clientIdFor(config.portalApiBase, token);
  const method = target.kind === 'list' || target.kind === 'custodianList' ? null : clientMethodOk(target.method);
  if (request.method !== 'GET') await clientWrite(env, clientId);
  const directory = directoryStub(env, clientId);
  switch (`${target.kind} ${request.method}`) {
    case 'list GET': {
      const { backups } = await callDirectory(directory, '/client/list', { clientId });
      return json(200, { clientId, backups });
    }
    case 'custodianList GET': {
      const { methods } = await callDirectory(directory, '/custodian/methods', { clientId });
      return json(200, { clientId, backups: methods });
    }
    case 'backup GET':
      return json(200, await getVersions(directory, shares(env), clientId, method));
    case 'backup PUT': {
      const kv = shares(env);
      jsonContentType(request.headers.get('Content-Type'), true);
      const upload = validateUpload(await readBody(request, MAX_CLIENT_BACKUP_BODY));
      const backupId = newBackupId();
      // The envelope under a fresh key first; the object names it after.
      await kvPut(kv, envelopeKey(clientId, method, backupId), upload.cipherText);
      const version = { backupId, backupSharePairIds: upload.backupSharePairIds, createdAt: new Date().toISOString(),
        size: upload.cipherText.length, confirmed: false, portalNotified: false };
      let current = await callDirectory(directory, '/client/store', { clientId, backupMethod: method, version });
      // Stored first, then Portal told: a failure leaves portalNotified false.
      if (upload.notifyPortal) current = await tellPortal(directory, config, token, clientId, method, current);
      return json(201, { clientId, backup: summary(current, method) });
    }
    case 'backup DELETE':
      await callDirectory(directory, '/client/delete', { clientId, backupMethod: method });
      return empty(204);
    case 'confirm POST': {
      jsonContentType(request.headers.get('Content-Type'), true);
      const backupId = validateConfirm(await readBody(request, MAX_WEBHOOK_BODY));
      const current = await callDirectory(directory, '/client/confirm', { clientId, backupMethod: method, backupId });
      return json(200, { clientId, backup: summary(current, method) });
    }
    case 'notify POST': {
      let { current } = await callDirectory(directory, '/client/get', { clientId, backupMethod: method });
      if (!current.portalNotified) current = await tellPortal(directory, config, token, clientId, method, current);
      return json(200, { clientId, backup: summary(current, method) });
    }
    default:
      throw METHOD_NOT_ALLOWED(ROUTES[target.kind].allow);
  }
}

// The CORS preflight (worker/src/entry.rs preflight).
function preflight(target, origin, config) {
  if (isWebhook(target)) throw METHOD_NOT_ALLOWED(ROUTES[target.kind].allow);
  if (!origin || !config.allowedOrigins.includes(origin)) throw new HttpError(403, 'ORIGIN_NOT_ALLOWED', 'origin not allowed');
  const response = empty(204);
  response.headers.set('Access-Control-Allow-Origin', origin);
  response.headers.set('Access-Control-Allow-Methods', ROUTES[target.kind].allow);
  response.headers.set('Access-Control-Allow-Headers', 'Authorization, Content-Type');
  response.headers.set('Access-Control-Max-Age', '600');
  return response;
}

// The vars, read once per isolate (worker/src/entry.rs Config).
let configCache = null;
function configFor(env) {
  return (configCache ??= {
    webhooksRoot: env.WEBHOOKS_ROOT ?? 'webhooks',
    portalApiBase: env.PORTAL_API_BASE ?? 'https://api.portalhq.io',
    allowedOrigins: (env.ALLOWED_ORIGINS ?? '').split(',').map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean),
    notifyPortal: (env.NOTIFY_PORTAL ?? 'true').trim().toLowerCase() !== 'false',
  });
}

function requestId(cfRay) {
  return cfRay && cfRay.length <= 64 && isSafeId(cfRay) ? cfRay : hex(crypto.getRandomValues(new Uint8Array(8)));
}

export default {
  async fetch(request, env) {
    const started = Date.now();
    const id = requestId(request.headers.get('cf-ray'));
    const config = configFor(env);
    const target = route(new URL(request.url).pathname, config.webhooksRoot);
    const origin = request.headers.get('Origin');
    let response, errorCode;
    try {
      if (!target) throw new HttpError(404, 'ROUTE_NOT_FOUND', 'no such route');
      if (isWebhook(target)) {
        if (request.method !== 'POST') throw METHOD_NOT_ALLOWED('POST');
        response = target.kind === 'webhookBackup' ? await storeCustodianShare(request, env) : await fetchCustodianShares(request, env);
      } else {
        response = request.method === 'OPTIONS' ? preflight(target, origin, config) : await clientBackups(target, request, env, config);
      }
    } catch (e) {
      const error = asHttpError(e);
      errorCode = error.code;
      response = errorResponse(error);
    }
    // CORS on the browser's routes only; Portal's webhooks get none.
    if (target && !isWebhook(target)) {
      response.headers.set('Vary', 'Origin');
      if (origin && config.allowedOrigins.includes(origin)) response.headers.set('Access-Control-Allow-Origin', origin);
    }
    console.log(JSON.stringify({ requestId: id, method: request.method, route: target ? ROUTES[target.kind].template : 'unmatched', status: response.status, durationMs: Math.max(0, Date.now() - started), ...(errorCode ? { errorCode } : {}) }));
    response.headers.set('X-Request-Id', id);
    return response;
  },
};
