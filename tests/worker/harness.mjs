// Runs the built Worker (worker/build) in workerd through Miniflare, next to
// the Portal stand-in, and gives tests small helpers to call it.
import { randomBytes } from 'node:crypto';
import { Miniflare } from 'miniflare';
import { fileURLToPath } from 'node:url';
import { COMPATIBILITY_DATE, workerOptions } from '../support/worker.mjs';
import { startPortal, custodianShare, backupSharePairId } from '../standins/portal.mjs';
import { checkedFetch } from './contract.mjs';

export { startPortal, custodianShare, backupSharePairId };


const EVENTUAL_KV_PATH = fileURLToPath(new URL('./eventual-kv.js', import.meta.url));

// The model runs as an RPC service; a wrapped binding makes it look like a
// KV namespace (methods called with the namespace as `this`, as the Worker
// calls them; an RPC stub refuses that).
const EVENTUAL_KV_WORKERS = [
  {
    name: 'eventual-kv-binding',
    modules: [{
      type: 'ESModule',
      path: 'eventual-kv-binding.js',
      contents: `export default function ({ MODEL }) {
        return { get: (...a) => MODEL.get(...a), put: (...a) => MODEL.put(...a), delete: (...a) => MODEL.delete(...a), list: (...a) => MODEL.list(...a) };
      }`,
    }],
    serviceBindings: { MODEL: { name: 'eventual-kv', entrypoint: 'EventualKv' } },
  },
  { name: 'eventual-kv', modules: true, scriptPath: EVENTUAL_KV_PATH, compatibilityDate: COMPATIBILITY_DATE },
];

export const WEBHOOK_SECRET = 'whsec-test-3b9f0c7e2d1a4b58';
// kid:base64(32 bytes). Distinct, recognisable only by their kid.
export const KEY_1 = `k1:${Buffer.alloc(32, 0x11).toString('base64')}`;
export const KEY_2 = `k2:${Buffer.alloc(32, 0x22).toString('base64')}`;
export const ALLOWED_ORIGIN = 'https://wallet.example';
export const ALICE = { token: 'test-token-alice', clientId: 'client-alice' };
export const BOB = { token: 'test-token-bob', clientId: 'client-bob' };

/**
 * Starts the Worker. `logs` collects every line workerd prints (the
 * Worker's console output included).
 */
export async function startWorker({
  portalUrl = 'http://127.0.0.1:9',
  keys = KEY_1,
  webhookSecret = WEBHOOK_SECRET,
  notifyPortal = 'true',
  kvPersist = false,
  port,
  rateLimits = {},
  eventualKv = false,
} = {}) {
  const logs = [];
  const collect = (stream) => {
    let pending = '';
    stream.on('data', (chunk) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop();
      logs.push(...lines.filter(Boolean));
    });
  };
  const secrets = {};
  // null leaves the secret unset.
  if (webhookSecret !== null) secrets.WEBHOOK_SECRET = webhookSecret;
  if (keys !== null) secrets.SHARE_ENCRYPTION_KEYS = keys;
  const mf = new Miniflare({
    cf: false,
    kvPersist,
    // The custodian directory lives in Durable Objects: kept with KV.
    durableObjectsPersist: kvPersist,
    ...(port === undefined ? {} : { host: '127.0.0.1', port }),
    handleRuntimeStdio(stdout, stderr) {
      collect(stdout);
      collect(stderr);
    },
    workers: [
      {
        ...workerOptions({
          rateLimits,
          ...(eventualKv ? { kvNamespaces: [] } : {}),
          bindings: {
            WEBHOOKS_ROOT: 'webhooks',
            PORTAL_API_BASE: portalUrl,
            ALLOWED_ORIGINS: `${ALLOWED_ORIGIN}, http://localhost:8787`,
            NOTIFY_PORTAL: notifyPortal,
            ...secrets,
          },
        }),
        // SHARES as Cloudflare's KV behaves (tests/worker/eventual-kv.js).
        ...(eventualKv ? { wrappedBindings: { SHARES: { scriptName: 'eventual-kv-binding' } } } : {}),
      },
      ...(eventualKv ? EVENTUAL_KV_WORKERS : []),
    ],
  });
  const url = await mf.ready;
  const kv = eventualKv ? null : await mf.getKVNamespace('SHARES');
  return {
    mf,
    kv,
    logs,
    url: url.href.replace(/\/$/, ''),
    // Every answer is checked against docs/openapi.yaml (tests/worker/contract.mjs).
    fetch: checkedFetch((path, init) => mf.dispatchFetch(`http://worker.test${path}`, init)),
    close: () => mf.dispose(),
  };
}

/** Every key in KV with its raw value: what an operator (or attacker) sees. */
export async function dumpKv(worker) {
  const out = {};
  let cursor;
  do {
    const page = await worker.kv.list({ cursor });
    for (const { name } of page.keys) out[name] = await worker.kv.get(name);
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return out;
}

export function shareText(clientId, backupMethod, counter = 1) {
  return JSON.stringify(custodianShare(clientId, backupMethod, counter));
}

export function postBackup(worker, body, { secret = WEBHOOK_SECRET, contentType = 'application/json', headers = {} } = {}) {
  const h = { ...headers };
  if (secret !== null) h['X-Webhook-Secret'] = secret;
  if (contentType !== null) h['Content-Type'] = contentType;
  return worker.fetch('/webhooks/backup', {
    method: 'POST',
    headers: h,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export async function fetchShares(worker, clientId, { secret = WEBHOOK_SECRET } = {}) {
  const response = await worker.fetch('/webhooks/backup/fetch', {
    method: 'POST',
    headers: { 'X-Webhook-Secret': secret, 'Content-Type': 'application/json' },
    body: JSON.stringify({ clientId }),
  });
  return { status: response.status, body: await response.json() };
}

/**
 * A structurally valid share envelope ("PBAK", v1, random-key kind, nonce,
 * ciphertext+tag) in base64url. The Worker checks only the header: it never
 * holds the key.
 */
export function envelopeText(ciphertextBytes = 64) {
  return Buffer.concat([Buffer.from('PBAK'), Buffer.from([1, 1]), randomBytes(12), randomBytes(ciphertextBytes + 16)]).toString('base64url');
}

export function clientApi(worker, { token } = {}) {
  const call = async (method, path, body, extraHeaders = {}) => {
    const headers = { ...extraHeaders };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] ??= 'application/json';
    const response = await worker.fetch(`/v1/client-backups${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, body: text ? JSON.parse(text) : null };
  };
  return {
    call,
    put: (method, cipherText, backupSharePairIds, extra = {}) =>
      call('PUT', `/${method}`, { cipherText, backupSharePairIds, ...extra }),
    get: (method) => call('GET', `/${method}`),
    list: () => call('GET', ''),
    remove: (method) => call('DELETE', `/${method}`),
    confirm: (method, backupId) => call('POST', `/${method}/confirm`, { backupId }),
    notify: (method) => call('POST', `/${method}/notify`),
  };
}

export async function control(portal, path, body) {
  const response = await fetch(`${portal.url}/__control/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response.json();
}

/** Substrings of a share long enough to be unmistakable if they leaked. */
export function shareFragments(share) {
  const parsed = JSON.parse(share);
  return Object.values(parsed).filter((v) => typeof v === 'string' && v.length >= 40).map((v) => v.slice(5, 35));
}

/**
 * The status of a request the Worker may refuse before reading its body.
 * workerd then answers and closes the connection while the client is still
 * uploading (as HTTP allows), which undici reports as a reset: that counts
 * as refused too. Any other failure is rethrown.
 */
export async function statusOrReset(send) {
  try {
    const response = await send();
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    if (['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'].includes(error.cause?.code)) return 'reset';
    throw error;
  }
}
