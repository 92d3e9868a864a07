// The comparison Worker for BENCHMARKS.md part 5: the Rust Worker's routes
// (webhook backup and fetch, client backup GET/PUT and the list) written in
// plain JavaScript, doing the same work and the same I/O:
// - Portal token check with the same cache (SHA-256 of the token, 60 s, 1024
//   entries); SHA-256 + constant-time webhook secret check;
// - the same abuse limits on the same Rate Limiting bindings
//   (WEBHOOK_AUTH_FAILURES on failed webhook auth, with the per-isolate
//   blocklist; CLIENT_WRITES on client writes), Retry-After on 429 and 503;
// - the same input validation; client routes take only GDRIVE / PASSWORD;
// - AES-256-GCM at rest through crypto.subtle with the same associated data,
//   the keyring parsed once per isolate;
// - custodian shares through a CustodianDirectory Durable Object per client
//   (same class name, same binding, same requests and answers, same storage
//   record, same KV keys custodian/{clientId}/{method}/{version}: write
//   once, name, delete the replaced key; read the named keys together);
// - client records as one KV value per (client, method) with the notified
//   marker, the two gets issued together, the list with one get per method;
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
const UNAUTHENTICATED = () => new HttpError(401, 'UNAUTHENTICATED', 'the bearer token was not accepted by Portal');
const PORTAL_UNAVAILABLE = () => new HttpError(503, 'PORTAL_UNAVAILABLE', 'Portal is unavailable; try again');
const STORAGE = () => new HttpError(503, 'STORAGE_UNAVAILABLE', 'storage is unavailable; try again');
const UNREADABLE = () => new HttpError(500, 'STORED_RECORD_UNREADABLE', 'a stored record cannot be read');
const INTERNAL = (what) => new HttpError(500, 'INTERNAL', `internal error: ${what}`);
const RATE_LIMITED = () => new HttpError(429, 'RATE_LIMITED', 'too many requests; retry after Retry-After seconds');
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
async function kvDelete(kv, key) { try { await kv.delete(key); } catch { throw STORAGE(); } }
const custodianShareKey = (clientId, method, version) => `custodian/${clientId}/${method}/${version}`;

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
function errorResponse(e) {
  const response = json(e.status, { error: { code: e.code, message: e.message } });
  if (e.allow) response.headers.set('Allow', e.allow);
  const seconds = retryAfter(e);
  if (seconds !== null) response.headers.set('Retry-After', String(seconds));
  return response;
}
const asHttpError = (e) => (e instanceof HttpError ? e : INTERNAL('internal'));

// ---- the custodian directory (worker/src/custodian_directory.rs, store/custodian.rs)
const MAX_METHODS = 32;
const VERSION_LEN = 32;
const DIRECTORY_KEY = 'directory';
const isVersion = (s) => typeof s === 'string' && s.length === VERSION_LEN && /^[0-9a-f]+$/.test(s);
const newVersion = () => hex(crypto.getRandomValues(new Uint8Array(VERSION_LEN / 2)));

function parseDirectory(text) {
  if (text === undefined || text === null) return new Map();
  let record;
  try { record = JSON.parse(text); } catch { throw UNREADABLE(); }
  const entries = record?.v === 1 && record.methods && typeof record.methods === 'object' && !Array.isArray(record.methods) ? Object.entries(record.methods) : null;
  if (!entries || entries.length > MAX_METHODS || !entries.every(([m, n]) => isSafeId(m) && isVersion(n?.version) && typeof n.receivedAt === 'string' && n.receivedAt.length >= 1 && n.receivedAt.length <= 32)) throw UNREADABLE();
  return new Map(entries);
}
// Sorted by method, as the Rust BTreeMap writes and reads it.
const sortedEntries = (directory) => [...directory].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
const directoryText = (directory) => JSON.stringify({ v: 1, methods: Object.fromEntries(sortedEntries(directory)) });

export class CustodianDirectory {
  constructor(state, env) {
    this.state = state;
    this.env = env;
    this.directory = null; // loaded on first use; null again after a failed write
    this.pendingNew = new Map(); // new methods admitted and being written -> count
  }

  async fetch(request) {
    try {
      const path = new URL(request.url).pathname;
      if (path === '/commit') return await this.commit(request);
      if (path === '/read') return await this.read(request);
      throw new HttpError(404, 'ROUTE_NOT_FOUND', 'no such route');
    } catch (e) {
      return errorResponse(asHttpError(e));
    }
  }

  async load() {
    if (this.directory) return;
    let text;
    try { text = await this.state.storage.get(DIRECTORY_KEY); } catch { throw STORAGE(); }
    const record = parseDirectory(text);
    this.directory ??= record;
  }

  admit(method) {
    if (this.directory.has(method)) return false;
    if (!this.pendingNew.has(method) && this.directory.size + this.pendingNew.size >= MAX_METHODS) {
      throw new HttpError(409, 'TOO_MANY_BACKUP_METHODS', 'this client already has the most backup methods allowed; nothing was stored');
    }
    this.pendingNew.set(method, (this.pendingNew.get(method) ?? 0) + 1);
    return true;
  }

  settle(method) {
    const count = this.pendingNew.get(method);
    if (count === undefined) return;
    if (count <= 1) this.pendingNew.delete(method);
    else this.pendingNew.set(method, count - 1);
  }

  async commit(request) {
    let clientId, backupMethod, sealed;
    try { ({ clientId, backupMethod, sealed } = await request.json()); } catch { throw INTERNAL('custodian directory request'); }
    await this.load();
    const isNew = this.admit(backupMethod);
    const kv = this.env.SHARES;
    const version = newVersion();
    try {
      if (!kv) throw new HttpError(500, 'MISCONFIGURED', 'server misconfigured: KV binding SHARES is missing');
      await kvPut(kv, custodianShareKey(clientId, backupMethod, version), JSON.stringify(sealed));
    } finally {
      if (isNew) this.settle(backupMethod);
    }
    const directory = this.directory ?? (this.directory = new Map());
    const replaced = directory.get(backupMethod)?.version;
    directory.set(backupMethod, { version, receivedAt: new Date().toISOString() });
    try {
      await this.state.storage.put(DIRECTORY_KEY, directoryText(directory));
    } catch {
      // Not named, so never read: drop it, and reload the directory.
      this.directory = null;
      await kv.delete(custodianShareKey(clientId, backupMethod, version)).catch(() => {});
      throw STORAGE();
    }
    if (replaced !== undefined) await kv.delete(custodianShareKey(clientId, backupMethod, replaced)).catch(() => {});
    return json(200, {});
  }

  async read(request) {
    let clientId;
    try { ({ clientId } = await request.json()); } catch { throw INTERNAL('custodian directory request'); }
    await this.load();
    const named = this.directory ? sortedEntries(this.directory).map(([method, { version }]) => [method, version]) : [];
    const kv = this.env.SHARES;
    if (!kv) throw new HttpError(500, 'MISCONFIGURED', 'server misconfigured: KV binding SHARES is missing');
    const records = await Promise.all(named.map(([method, version]) => kvGetJson(kv, custodianShareKey(clientId, method, version))));
    const shares = [];
    for (let i = 0; i < named.length; i++) {
      const [backupMethod, version] = named[i];
      shares.push({ backupMethod, sealed: records[i] ?? (await this.reread(kv, clientId, backupMethod, version)) });
    }
    return json(200, { shares });
  }

  // A named share whose key was gone: a delivery replaced it meanwhile.
  async reread(kv, clientId, method, seen) {
    for (let n = 0; n < 3; n++) {
      const version = this.directory?.get(method)?.version;
      if (version === undefined || version === seen) break;
      const sealed = await kvGetJson(kv, custodianShareKey(clientId, method, version));
      if (sealed) return sealed;
      seen = version;
    }
    throw STORAGE();
  }
}

// What the Worker asks the client's object, over its stub.
const DIRECTORY_ERRORS = {
  TOO_MANY_BACKUP_METHODS: () => new HttpError(409, 'TOO_MANY_BACKUP_METHODS', 'this client already has the most backup methods allowed; nothing was stored'),
  STORED_RECORD_UNREADABLE: UNREADABLE,
  STORAGE_UNAVAILABLE: STORAGE,
  MISCONFIGURED: () => new HttpError(500, 'MISCONFIGURED', 'server misconfigured: KV binding SHARES is missing'),
};
async function callDirectory(env, clientId, path, body) {
  const namespace = env.CUSTODIAN_DIRECTORY;
  if (!namespace) throw new HttpError(500, 'MISCONFIGURED', 'server misconfigured: Durable Object binding CUSTODIAN_DIRECTORY is missing');
  let stub;
  try { stub = namespace.get(namespace.idFromName(clientId)); } catch { throw STORAGE(); }
  const request = new Request(`https://custodian-directory${path}`, { method: 'POST', body: JSON.stringify(body) });
  let response;
  try { response = await stub.fetch(request); } catch { throw STORAGE(); }
  if (response.status === 200) return response;
  const code = await response.json().then((b) => b?.error?.code, () => undefined);
  throw (DIRECTORY_ERRORS[code] ?? (() => INTERNAL('custodian directory')))();
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
  await callDirectory(env, clientId, '/commit', { clientId, backupMethod: method, sealed });
  return json(200, { stored: true });
}

async function fetchCustodianShares(request, env) {
  const map = jsonObject(await authenticatedBody(request, env));
  const clientId = clientIdOk(stringField(map, 'clientId'));
  const keyring = keyringFor(env.SHARE_ENCRYPTION_KEYS);
  const response = await callDirectory(env, clientId, '/read', { clientId });
  let stored;
  try { stored = (await response.json()).shares; } catch { throw INTERNAL('custodian directory answer'); }
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

function summary(version, method) {
  return { backupMethod: method, backupId: version.backupId, backupSharePairIds: version.backupSharePairIds,
    size: version.cipherText.length, createdAt: version.createdAt, portalNotified: version.portalNotified, confirmed: version.confirmed };
}

function clientRecord(value) {
  if (value === null) return null;
  if (value?.v !== 1 || !value.current) throw UNREADABLE();
  return value;
}

async function loadRecord(kv, clientId, method) {
  const [value, notified] = await Promise.all([kvGetJson(kv, `client/${clientId}/${method}`), kvGetText(kv, `client-notified/${clientId}/${method}`)]);
  const record = clientRecord(value);
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

async function clientBackups(target, request, env, config) {
  // The method first, as sent: 405 with Allow before Portal is asked.
  if (!ROUTES[target.kind].serves.includes(request.method)) throw METHOD_NOT_ALLOWED(ROUTES[target.kind].allow);
  const token = bearerToken(request.headers.get('Authorization'));
  if (!token) throw UNAUTHENTICATED();
  const clientId = await clientIdFor(config.portalApiBase, token);
  const method = target.kind === 'list' ? null : clientMethodOk(target.method);
  if (request.method !== 'GET') await clientWrite(env, clientId);
  const kv = env.SHARES;
  if (!kv) throw new HttpError(500, 'MISCONFIGURED', 'server misconfigured: KV binding SHARES is missing');
  if (target.kind === 'list') {
    const records = await Promise.all(CLIENT_BACKUP_METHODS.map((m) => loadRecord(kv, clientId, m)));
    const backups = [];
    CLIENT_BACKUP_METHODS.forEach((m, i) => { if (records[i]) backups.push(summary(records[i].current, m)); });
    return json(200, { clientId, backups });
  }
  if (target.kind !== 'backup' || request.method === 'DELETE') throw new HttpError(404, 'ROUTE_NOT_FOUND', 'not benchmarked in the JS comparison Worker');
  if (request.method === 'GET') {
    const record = await loadRecord(kv, clientId, method);
    if (!record) throw new HttpError(404, 'NOT_FOUND', 'no backup stored for this method');
    const withText = (v) => v && { ...summary(v, method), cipherText: v.cipherText };
    return json(200, { clientId, current: withText(record.current), previous: withText(record.previous) ?? null });
  }
  jsonContentType(request.headers.get('Content-Type'), true);
  const upload = validateUpload(await readBody(request, MAX_CLIENT_BACKUP_BODY));
  const existing = await loadRecord(kv, clientId, method);
  const version = { backupId: b64urlEncode(crypto.getRandomValues(new Uint8Array(16))), cipherText: upload.cipherText,
    backupSharePairIds: upload.backupSharePairIds, createdAt: new Date().toISOString(), portalNotified: false, confirmed: false };
  const previous = existing === null ? null : existing.current.confirmed ? existing.current : existing.previous;
  const record = { v: 1, current: version, previous: previous ?? null };
  await kvPut(kv, `client/${clientId}/${method}`, JSON.stringify(record));
  const current = { ...version };
  // Stored first, then Portal told.
  if (upload.notifyPortal && config.notifyPortal && (await reportStored(config.portalApiBase, token, version.backupSharePairIds))) {
    try { await kvPut(kv, `client-notified/${clientId}/${method}`, version.backupId); current.portalNotified = true; } catch { /* as Rust: false */ }
  }
  return json(201, { clientId, backup: summary(current, method) });
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
        if (request.method === 'OPTIONS') throw new HttpError(404, 'ROUTE_NOT_FOUND', 'not benchmarked in the JS comparison Worker');
        response = await clientBackups(target, request, env, config);
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
