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
//   idFromName(clientId); same class name), the only code that reads and
//   writes KV (the Worker side uses no KV binding):
//   - the same messages: POST https://backup-directory/{clientId}/{verb}
//     [/{method}[/{backupId}]] (client-store, client-confirm,
//     client-notified, client-get, client-read, client-list, client-delete,
//     custodian-commit, custodian-read, custodian-methods), a JSON body only
//     for client-store ({version, cipherText}) and custodian-commit (the
//     sealed record); 200 with the answer's bytes (the route's own body for
//     client-list, client-confirm, client-read and custodian-methods, which
//     the Worker passes on unread), else the Worker's error body, mapped back
//     by code;
//   - its whole state in one storage key "backups" = {"v":1,"custodian":
//     {METHOD:{version,receivedAt}},"client":{METHOD:{current,previous}},
//     "trash":{"keys":[{key,due}]}} ("client" absent until the earlier
//     layout was moved), one put per transaction; the older "directory" key
//     is read only when "backups" is absent;
//   - custodian shares: written once under a fresh KV key
//     custodian/{clientId}/{method}/{version}, then named (at most 32
//     methods); read together;
//   - client backups: a PUT's envelope is written once under a fresh KV key
//     envelope/{clientId}/{method}/{backupId}, then named as current
//     (current / previous, confirmed, portalNotified); a GET's named
//     envelopes are read together (a missing one: names read again after
//     50 ms and 200 ms, then 503) and the object answers the route's body;
//   - KV keys no longer named go to the trash, deleted by the object's alarm
//     1.5 s later, at most 64 per run (KV allows one write per key per
//     second);
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
const CLIENT_BACKUP_METHODS = ['GDRIVE', 'ICLOUD', 'PASSWORD', 'PASSKEY'];
const clientMethodOk = (s) => {
  if (!CLIENT_BACKUP_METHODS.includes(methodOk(s))) throw invalid('UNSUPPORTED_BACKUP_METHOD', 'backupMethod must be one the browser module supports: GDRIVE, ICLOUD, PASSWORD or PASSKEY');
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

// ---- KV (worker/src/store/kv.rs), used by the Durable Object only
async function kvGetText(kv, key) { try { return await kv.get(key); } catch { throw STORAGE(); } }
async function kvGetJson(kv, key) {
  const text = await kvGetText(kv, key);
  if (text === null) return null;
  try { return JSON.parse(text); } catch { throw UNREADABLE(); }
}
async function kvPut(kv, key, text) { try { await kv.put(key, text); } catch { throw STORAGE(); } }
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

// ---- the client's Durable Object (worker/src/store/directory.rs, object.rs, state.rs, client.rs, custodian.rs, trash.rs)
const MAX_METHODS = 32;
const VERSION_LEN = 32;
const MAX_RECEIVED_AT_LEN = 32;
// The object's one storage key; "directory" is where it kept its custodian
// directory before it held the client half too, read only when "backups"
// is absent.
const STATE_KEY = 'backups';
const DIRECTORY_KEY = 'directory';
// A blob's delete is due this long after it stops being named: more than
// KV's one second between writes of a key (the blob was written before).
const TRASH_DELAY_MS = 1_500;
// Deletes one alarm run makes at most; the rest wait for the next run.
const DELETES_PER_ALARM = 64;
// Waits before a client read asks again for an envelope the records name
// but KV did not serve (0: the last try); then 503, never an older version.
const REREAD_AFTER_MS = [50, 200, 0];
const isVersion = (s) => typeof s === 'string' && s.length === VERSION_LEN && /^[0-9a-f]+$/.test(s);
const newVersion = () => hex(crypto.getRandomValues(new Uint8Array(VERSION_LEN / 2)));
const newBackupId = () => b64urlEncode(crypto.getRandomValues(new Uint8Array(16)));
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const hasOnly = (o, fields) => Object.keys(o).every((k) => fields.includes(k));
const isCount = (n) => Number.isSafeInteger(n) && n >= 0;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const NOT_FOUND = () => new HttpError(404, 'NOT_FOUND', 'no backup stored for this method');
const NOT_CURRENT = () => new HttpError(409, 'NOT_CURRENT', 'backupId is not the current version');
const TOO_MANY = () => new HttpError(409, 'TOO_MANY_BACKUP_METHODS', 'this client already has the most backup methods allowed; nothing was stored');
// Sorted by method, as the Rust BTreeMap writes and reads it.
const sortedEntries = (map) => [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

// The custodian directory: method -> {version, receivedAt}, or null if unsound.
function custodianMap(methods) {
  if (!isObject(methods)) return null;
  const entries = Object.entries(methods);
  const sound = entries.length <= MAX_METHODS && entries.every(([m, n]) => isSafeId(m) && isObject(n) && hasOnly(n, ['version', 'receivedAt'])
    && isVersion(n.version) && typeof n.receivedAt === 'string' && n.receivedAt.length >= 1 && n.receivedAt.length <= MAX_RECEIVED_AT_LEN);
  return sound ? new Map(entries.map(([m, n]) => [m, { version: n.version, receivedAt: n.receivedAt }])) : null;
}
// The earlier "directory" key: {"v":1,"methods":{...}}; absent is empty.
function parseDirectory(text) {
  if (text === undefined) return new Map();
  let record;
  try { record = JSON.parse(text); } catch { throw UNREADABLE(); }
  const directory = isObject(record) && record.v === 1 ? custodianMap(record.methods) : null;
  if (!directory) throw UNREADABLE();
  return directory;
}
// One client version without its ciphertext (client.rs StoredVersion, fields
// in its order), or null if it is not one.
function storedVersion(v) {
  const sound = isObject(v) && hasOnly(v, ['backupId', 'backupSharePairIds', 'createdAt', 'size', 'portalNotified', 'confirmed'])
    && typeof v.backupId === 'string' && Array.isArray(v.backupSharePairIds) && v.backupSharePairIds.every((id) => typeof id === 'string')
    && typeof v.createdAt === 'string' && isCount(v.size) && typeof v.portalNotified === 'boolean' && typeof v.confirmed === 'boolean';
  return sound ? { backupId: v.backupId, backupSharePairIds: v.backupSharePairIds, createdAt: v.createdAt, size: v.size, portalNotified: v.portalNotified, confirmed: v.confirmed } : null;
}
// "client": {METHOD: {current, previous}} for the three client methods only.
function clientMap(records) {
  if (!isObject(records) || !hasOnly(records, CLIENT_BACKUP_METHODS)) throw UNREADABLE();
  const client = new Map();
  for (const m of CLIENT_BACKUP_METHODS) {
    const r = records[m];
    if (r === undefined || r === null) continue;
    if (!isObject(r) || !hasOnly(r, ['current', 'previous'])) throw UNREADABLE();
    const current = storedVersion(r.current);
    const previous = r.previous === undefined || r.previous === null ? null : storedVersion(r.previous);
    if (!current || previous === null && r.previous !== undefined && r.previous !== null) throw UNREADABLE();
    if (!isSafeId(current.backupId) || (previous && !isSafeId(previous.backupId))) throw UNREADABLE();
    client.set(m, { current, previous });
  }
  return client;
}
// "trash": {"keys":[{key, due}]}, due in ms since the epoch.
function trashKeys(trash) {
  const keys = isObject(trash) && hasOnly(trash, ['keys']) ? trash.keys : null;
  if (!Array.isArray(keys) || !keys.every((t) => isObject(t) && hasOnly(t, ['key', 'due']) && typeof t.key === 'string' && isCount(t.due))) throw UNREADABLE();
  return keys.map(({ key, due }) => ({ key, due }));
}
// "backups" (state.rs BackupState): {v, custodian, client?, trash}. In memory
// {custodian: Map, client: Map | undefined, trash: [{key, due}]}; client
// undefined until the earlier layout was looked for.
function parseState(text) {
  let s;
  try { s = JSON.parse(text); } catch { throw UNREADABLE(); }
  if (!isObject(s) || !hasOnly(s, ['v', 'custodian', 'client', 'trash']) || s.v !== 1) throw UNREADABLE();
  const custodian = custodianMap(s.custodian);
  if (!custodian) throw UNREADABLE();
  const client = s.client === undefined || s.client === null ? undefined : clientMap(s.client);
  return { custodian, client, trash: trashKeys(s.trash) };
}
function stateText(held) {
  const client = held.client && Object.fromEntries(CLIENT_BACKUP_METHODS.filter((m) => held.client.has(m)).map((m) => [m, held.client.get(m)]));
  return JSON.stringify({ v: 1, custodian: Object.fromEntries(sortedEntries(held.custodian)), ...(client ? { client } : {}), trash: { keys: held.trash } });
}
const toTrash = (trash, key, now) => trash.push({ key, due: now + TRASH_DELAY_MS });
// Takes at most `limit` of the keys whose delete is due at `now`.
function takeDue(held, now, limit) {
  const taken = [];
  held.trash = held.trash.filter((t) => {
    const take = t.due <= now && taken.length < limit;
    if (take) taken.push(t.key);
    return !take;
  });
  return taken;
}

// The answers' summary (wire.rs ClientBackupSummary, fields in this order).
const summary = (v, backupMethod) => ({ backupMethod, backupId: v.backupId, backupSharePairIds: v.backupSharePairIds,
  size: v.size, createdAt: v.createdAt, portalNotified: v.portalNotified, confirmed: v.confirmed });
// A sealed custodian record (at_rest.rs SealedShare, fields in its order), or null.
const sealedShare = (s) => (isObject(s) && Number.isInteger(s.v) && s.v >= 0 && s.v <= 255 && typeof s.kid === 'string' && typeof s.nonce === 'string' && typeof s.ciphertext === 'string'
  ? { v: s.v, kid: s.kid, nonce: s.nonce, ciphertext: s.ciphertext } : null);

// The message a request to the object carries (object.rs Ask::decode):
// POST /{clientId}/{verb}[/{method}[/{backupId}]], a JSON body only for
// client-store ({version, cipherText}) and custodian-commit (the sealed record).
function decodeAsk(path, body) {
  const unknown = () => INTERNAL('backup directory request');
  const [clientId, verb, ...rest] = path.split('/').slice(1);
  if (verb === undefined) throw unknown();
  const [method, backupId] = rest;
  const parsed = () => { try { return JSON.parse(dec.decode(body)); } catch { throw unknown(); } };
  switch (`${verb}/${rest.length}`) {
    case 'client-store/1': {
      const b = parsed();
      const version = isObject(b) ? storedVersion(b.version) : null;
      if (!version || typeof b.cipherText !== 'string') throw unknown();
      if (b.rekeyOf !== undefined && b.rekeyOf !== null && typeof b.rekeyOf !== 'string') throw unknown();
      return { clientId, verb, method, version, cipherText: b.cipherText, rekeyOf: b.rekeyOf ?? null };
    }
    case 'custodian-commit/1': {
      const sealed = sealedShare(parsed());
      if (!sealed) throw unknown();
      return { clientId, verb, method, sealed };
    }
    case 'client-confirm/2': case 'client-notified/2': return { clientId, verb, method, backupId };
    case 'client-get/1': case 'client-read/1': case 'client-delete/1': return { clientId, verb, method };
    case 'client-list/0': case 'custodian-read/0': case 'custodian-methods/0': return { clientId, verb };
    default: throw unknown();
  }
}

// One client message as a transaction on the loaded state, with no await:
// its answer, and whether the state changed (then it is saved before the
// answer leaves). Blobs a change stops naming go to the trash.
function change(state, clientId, ask, now) {
  const records = state.client;
  if (records === undefined) throw INTERNAL('client records not loaded');
  const { method } = ask;
  const unnamed = (backupId) => toTrash(state.trash, envelopeKey(clientId, method, backupId), now);
  const record = () => records.get(method) ?? (() => { throw NOT_FOUND(); })();
  switch (ask.verb) {
    case 'client-store': {
      // A confirmed current becomes previous; an unconfirmed one is dropped
      // and previous (the last confirmed) stays.
      if (!CLIENT_BACKUP_METHODS.includes(method)) return ['', true];
      const old = records.get(method);
      const current = ask.version;
      // A re-key of the confirmed version Portal was told of counts as told (client.rs reseals).
      if (ask.rekeyOf !== null) {
        const confirmed = !old ? null : old.current.confirmed ? old.current : old.previous;
        current.portalNotified = !!confirmed && confirmed.backupId === ask.rekeyOf && confirmed.portalNotified
          && confirmed.backupSharePairIds.length === current.backupSharePairIds.length
          && confirmed.backupSharePairIds.every((id, i) => id === current.backupSharePairIds[i]);
      }
      const [previous, dropped] = !old ? [null, null] : old.current.confirmed ? [old.current, old.previous?.backupId] : [old.previous, old.current.backupId];
      records.set(method, { current, previous });
      if (dropped) unnamed(dropped);
      return [JSON.stringify(current), true];
    }
    case 'client-confirm': {
      const r = record();
      if (r.current.backupId !== ask.backupId) throw NOT_CURRENT();
      r.current.confirmed = true;
      if (r.previous) unnamed(r.previous.backupId);
      r.previous = null;
      return [JSON.stringify({ clientId, backup: summary(r.current, method) }), true];
    }
    case 'client-notified': {
      const r = record();
      for (const v of [r.current, r.previous]) if (v?.backupId === ask.backupId) v.portalNotified = true;
      return ['', true];
    }
    case 'client-get':
      return [JSON.stringify(record()), false];
    case 'client-delete': {
      const r = record();
      records.delete(method);
      for (const v of [r.current, r.previous]) if (v) unnamed(v.backupId);
      return ['', true];
    }
    case 'client-list':
      return [JSON.stringify({ clientId, backups: CLIENT_BACKUP_METHODS.filter((m) => records.has(m)).map((m) => summary(records.get(m).current, m)) }), false];
    case 'custodian-methods':
      return [JSON.stringify({ clientId, backups: sortedEntries(state.custodian).map(([backupMethod, { receivedAt }]) => ({ backupMethod, receivedAt })) }), false];
    default:
      throw INTERNAL('not a client message');
  }
}

// The client's records in the layout before the object held them, moved:
// each version's ciphertext written to its own envelope blob, and the old
// keys to delete once the records are held by the object.
function legacyVersion(v, marker) {
  const sound = isObject(v) && typeof v.backupId === 'string' && typeof v.cipherText === 'string' && Array.isArray(v.backupSharePairIds)
    && v.backupSharePairIds.every((id) => typeof id === 'string') && typeof v.createdAt === 'string' && typeof v.portalNotified === 'boolean' && typeof v.confirmed === 'boolean';
  if (!sound) throw UNREADABLE();
  return { backupId: v.backupId, backupSharePairIds: v.backupSharePairIds, createdAt: v.createdAt, size: v.cipherText.length,
    portalNotified: v.portalNotified || v.backupId === marker, confirmed: v.confirmed };
}
async function moveEarlierLayout(kv, clientId) {
  const found = await Promise.all(CLIENT_BACKUP_METHODS.map((m) => Promise.allSettled([kvGetJson(kv, `client/${clientId}/${m}`), kvGetText(kv, `client-notified/${clientId}/${m}`)])));
  const client = new Map();
  const oldKeys = [];
  const blobs = [];
  CLIENT_BACKUP_METHODS.forEach((m, i) => {
    const [record, marker] = found[i].map((r) => { if (r.status === 'rejected') throw r.reason; return r.value; });
    if (marker !== null) oldKeys.push(`client-notified/${clientId}/${m}`);
    if (record === null) return;
    if (!isObject(record) || record.v !== 1 || !isObject(record.current)) throw UNREADABLE();
    const versions = [record.current, ...(record.previous === null || record.previous === undefined ? [] : [record.previous])];
    const [current, previous = null] = versions.map((v) => {
      const version = legacyVersion(v, marker);
      blobs.push([envelopeKey(clientId, m, version.backupId), v.cipherText]);
      return version;
    });
    client.set(m, { current, previous });
    oldKeys.push(`client/${clientId}/${m}`);
  });
  for (const written of await Promise.allSettled(blobs.map(([key, text]) => kvPut(kv, key, text)))) if (written.status === 'rejected') throw written.reason;
  return { client, oldKeys };
}

export class BackupDirectory {
  constructor(state, env) {
    this.state = state;
    this.env = env;
    // What the object holds, loaded from storage on first use; null again
    // after a failed write, so the next request reloads storage.
    this.held = null;
    this.pendingNew = new Map(); // new custodian methods admitted and being written -> count
  }

  async fetch(request) {
    let answer;
    try {
      let body;
      try { body = new Uint8Array(await request.arrayBuffer()); } catch { throw INTERNAL('backup directory request'); }
      answer = await this.answer(decodeAsk(new URL(request.url).pathname, body));
    } catch (e) {
      return errorResponse(asHttpError(e));
    }
    return new Response(answer);
  }

  // Deletes the blobs whose delete is due (at most 64 a run); a delete KV
  // refuses goes back to the trash for a later run.
  async alarm() {
    try { await this.load(); } catch { return; }
    const kv = this.env.SHARES;
    if (!kv || !this.held) return;
    const now = Date.now();
    const due = takeDue(this.held, now, DELETES_PER_ALARM);
    const deleted = await Promise.allSettled(due.map(async (key) => kv.delete(key)));
    if (this.held) due.forEach((key, i) => { if (deleted[i].status === 'rejected') toTrash(this.held.trash, key, now); });
    await this.save().catch(() => {});
  }

  shares() {
    return this.env.SHARES ?? (() => { throw NO_KV(); })();
  }

  heldState() {
    if (!this.held) throw INTERNAL('backup directory not loaded');
    return this.held;
  }

  async storedText(key) {
    let value;
    try { value = await this.state.storage.get(key); } catch { throw STORAGE(); }
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') throw STORAGE();
    return value;
  }

  async load() {
    if (this.held) return;
    const text = await this.storedText(STATE_KEY);
    const state = text !== undefined ? parseState(text)
      : { custodian: parseDirectory(await this.storedText(DIRECTORY_KEY)), client: undefined, trash: [] };
    this.held ??= state;
  }

  // Loads, and on the client's first request moves its records from the
  // earlier layout. Other events wait meanwhile, so the move runs once.
  async loadClient(clientId) {
    await this.load();
    if (this.heldState().client !== undefined) return;
    const kv = this.shares();
    let moved;
    // Resolves with the error: a throw inside blockConcurrencyWhile would reset the object.
    try { moved = await this.state.blockConcurrencyWhile(() => moveEarlierLayout(kv, clientId).catch((e) => e)); } catch { throw STORAGE(); }
    if (moved instanceof Error) throw moved;
    const held = this.heldState();
    if (held.client === undefined) {
      held.client = moved.client;
      const now = Date.now();
      for (const key of moved.oldKeys) toTrash(held.trash, key, now);
    }
    await this.save();
  }

  // Writes the state (one storage put of "backups"), then sets the alarm
  // for the trash. A failed write drops what is held.
  async save() {
    const held = this.heldState();
    const text = stateText(held);
    const nextDue = held.trash.reduce((min, t) => Math.min(min, t.due), Infinity);
    try { await this.state.storage.put(STATE_KEY, text); } catch { this.held = null; throw STORAGE(); }
    if (nextDue !== Infinity) {
      try { await this.state.storage.setAlarm(Date.now() + Math.max(0, nextDue - Date.now())); } catch { /* the next save sets it */ }
    }
  }

  async answer(ask) {
    const { clientId, verb } = ask;
    if (verb === 'custodian-commit') return this.commit(clientId, ask.method, ask.sealed);
    if (verb === 'custodian-read') return this.read(clientId);
    await this.loadClient(clientId);
    if (verb === 'client-read') return this.readClient(clientId, ask.method);
    // The envelope goes to its fresh key before it is named.
    if (verb === 'client-store') await kvPut(this.shares(), envelopeKey(clientId, ask.method, ask.version.backupId), ask.cipherText);
    const [answer, changed] = change(this.heldState(), clientId, ask, Date.now());
    if (changed) await this.save();
    return answer;
  }

  // The route's answer to GET /v1/client-backups/{method}: the versions the
  // records name, with their envelopes read together. A named envelope KV
  // does not serve is asked for again, names first, after a short wait; then 503.
  async readClient(clientId, method) {
    const kv = this.shares();
    for (const wait of REREAD_AFTER_MS) {
      const named = this.heldState().client?.get(method);
      if (!named) throw NOT_FOUND();
      const current = { ...named.current };
      const previous = named.previous && { ...named.previous };
      const [text, previousText] = await Promise.all([kvGetText(kv, envelopeKey(clientId, method, current.backupId)),
        previous ? kvGetText(kv, envelopeKey(clientId, method, previous.backupId)) : null]);
      if (text !== null && (!previous || previousText !== null)) {
        return JSON.stringify({ clientId, current: { ...summary(current, method), cipherText: text },
          previous: previous ? { ...summary(previous, method), cipherText: previousText } : null });
      }
      if (wait > 0) await sleep(wait);
    }
    throw STORAGE();
  }

  // -- custodian shares
  admit(method) {
    const directory = this.heldState().custodian;
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
  async commit(clientId, method, sealed) {
    await this.load();
    const isNew = this.admit(method);
    const version = newVersion();
    try {
      await kvPut(this.shares(), custodianShareKey(clientId, method, version), JSON.stringify(sealed));
    } finally {
      if (isNew) this.settle(method);
    }
    // A failed write above or below leaves an unnamed blob (never read).
    const held = this.heldState();
    const replaced = held.custodian.get(method)?.version;
    held.custodian.set(method, { version, receivedAt: new Date().toISOString() });
    if (replaced !== undefined) toTrash(held.trash, custodianShareKey(clientId, method, replaced), Date.now());
    await this.save();
    return '';
  }

  // Every method's sealed share, sorted by method: {shares:[{backupMethod, sealed}]}.
  async read(clientId) {
    await this.load();
    const named = sortedEntries(this.heldState().custodian).map(([method, { version }]) => [method, version]);
    const kv = this.shares();
    const records = await Promise.allSettled(named.map(([method, version]) => kvGetJson(kv, custodianShareKey(clientId, method, version))));
    const shares = [];
    for (let i = 0; i < named.length; i++) {
      const [backupMethod, version] = named[i];
      if (records[i].status === 'rejected') throw records[i].reason;
      const record = records[i].value ?? (await this.reread(kv, clientId, backupMethod, version));
      const sealed = sealedShare(record);
      if (!sealed) throw UNREADABLE();
      shares.push({ backupMethod, sealed });
    }
    return JSON.stringify({ shares });
  }

  // A named share whose key was not readable: if a delivery replaced it
  // meanwhile, read the key named now; else 503.
  async reread(kv, clientId, method, seen) {
    for (let n = 0; n < 3; n++) {
      const version = this.heldState().custodian.get(method)?.version;
      if (version === undefined || version === seen) break;
      const sealed = await kvGetJson(kv, custodianShareKey(clientId, method, version));
      if (sealed) return sealed;
      seen = version;
    }
    throw STORAGE();
  }
}

// ---- what the Worker asks the client's object (worker/src/store/object.rs)
// POST https://backup-directory/{clientId}/{verb}[/{method}[/{backupId}]],
// a JSON body only where it carries a record. The answer's bytes on 200;
// else the error its code stands for (error_from: fixed messages).
const DIRECTORY_ERRORS = { NOT_FOUND, NOT_CURRENT, TOO_MANY_BACKUP_METHODS: TOO_MANY, STORED_RECORD_UNREADABLE: UNREADABLE, STORAGE_UNAVAILABLE: STORAGE, MISCONFIGURED: NO_KV };
function directoryStub(env, clientId) {
  const namespace = env.BACKUP_DIRECTORY;
  if (!namespace) throw new HttpError(500, 'MISCONFIGURED', 'server misconfigured: Durable Object binding BACKUP_DIRECTORY is missing');
  try { return { stub: namespace.get(namespace.idFromName(clientId)), clientId }; } catch { throw STORAGE(); }
}
async function callDirectory(directory, verb, method, backupId, body) {
  let path = `/${directory.clientId}/${verb}`;
  for (const segment of [method, backupId]) if (segment !== undefined) path += `/${segment}`;
  const request = new Request(`https://backup-directory${path}`, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) });
  let response, answer;
  try { response = await directory.stub.fetch(request); answer = await response.arrayBuffer(); } catch { throw STORAGE(); }
  if (response.status === 200) return answer;
  let code;
  try { code = JSON.parse(dec.decode(answer))?.error?.code; } catch { code = undefined; }
  throw (typeof code === 'string' && Object.hasOwn(DIRECTORY_ERRORS, code) ? DIRECTORY_ERRORS[code] : () => INTERNAL('backup directory'))();
}
// An answer the Worker reads (the others pass through as the route's body).
function decodeAnswer(answer) {
  try { return JSON.parse(dec.decode(answer)); } catch { throw INTERNAL('backup directory answer'); }
}
// A JSON body the object wrote, passed on unread.
function passThrough(answer) {
  return new Response(answer, { status: 200, headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' } });
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
  await callDirectory(directoryStub(env, clientId), 'custodian-commit', method, undefined, sealed);
  return json(200, { stored: true });
}

async function fetchCustodianShares(request, env) {
  const map = jsonObject(await authenticatedBody(request, env));
  const clientId = clientIdOk(stringField(map, 'clientId'));
  const keyring = keyringFor(env.SHARE_ENCRYPTION_KEYS);
  const { shares: stored } = decodeAnswer(await callDirectory(directoryStub(env, clientId), 'custodian-read'));
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
  if (Object.keys(map).some((k) => k !== 'cipherText' && k !== 'backupSharePairIds' && k !== 'notifyPortal' && k !== 'rekeyOf')) throw invalid('UNKNOWN_FIELD', 'only cipherText, backupSharePairIds, notifyPortal and rekeyOf are accepted');
  const notify = map.notifyPortal;
  if (notify !== undefined && notify !== null && typeof notify !== 'boolean') throw invalid('INVALID_FIELD_TYPE', 'notifyPortal must be a boolean');
  const rekeyOf = map.rekeyOf ?? null;
  if (rekeyOf !== null && typeof rekeyOf !== 'string') throw invalid('INVALID_FIELD_TYPE', 'rekeyOf must be a string');
  if (rekeyOf !== null && !isSafeId(rekeyOf)) throw invalid('INVALID_BACKUP_ID', 'rekeyOf must be 1-128 characters of A-Z a-z 0-9 _ -');
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
  return { cipherText, backupSharePairIds: ids, notifyPortal: notify ?? true, rekeyOf };
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
async function tellPortal(directory, config, token, method, version) {
  version.portalNotified = config.notifyPortal && (await reportStored(config.portalApiBase, token, version.backupSharePairIds))
    && (await callDirectory(directory, 'client-notified', method, version.backupId).then(() => true, () => false));
  return version;
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
    // The object writes these answers; they pass through unread.
    case 'list GET':
      return passThrough(await callDirectory(directory, 'client-list'));
    case 'custodianList GET':
      return passThrough(await callDirectory(directory, 'custodian-methods'));
    case 'backup GET':
      return passThrough(await callDirectory(directory, 'client-read', method));
    case 'backup PUT': {
      jsonContentType(request.headers.get('Content-Type'), true);
      const upload = validateUpload(await readBody(request, MAX_CLIENT_BACKUP_BODY));
      const version = { backupId: newBackupId(), backupSharePairIds: upload.backupSharePairIds, createdAt: new Date().toISOString(),
        size: upload.cipherText.length, portalNotified: false, confirmed: false };
      // The object writes the envelope to a fresh KV key, then names it.
      const storeBody = { version, cipherText: upload.cipherText };
      if (upload.rekeyOf !== null) storeBody.rekeyOf = upload.rekeyOf;
      const stored = await callDirectory(directory, 'client-store', method, undefined, storeBody);
      const kept = stored.byteLength ? decodeAnswer(stored) : version;
      // Stored first, then Portal told: a failure leaves portalNotified false.
      const current = upload.notifyPortal && !kept.portalNotified ? await tellPortal(directory, config, token, method, kept) : kept;
      return json(201, { clientId, backup: summary(current, method) });
    }
    case 'backup DELETE':
      await callDirectory(directory, 'client-delete', method);
      return empty(204);
    case 'confirm POST': {
      jsonContentType(request.headers.get('Content-Type'), true);
      const backupId = validateConfirm(await readBody(request, MAX_WEBHOOK_BODY));
      return passThrough(await callDirectory(directory, 'client-confirm', method, backupId));
    }
    case 'notify POST': {
      let { current } = decodeAnswer(await callDirectory(directory, 'client-get', method));
      if (!current.portalNotified) current = await tellPortal(directory, config, token, method, current);
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
