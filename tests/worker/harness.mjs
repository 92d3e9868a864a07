// Runs the built Worker (worker/build) in workerd through Miniflare, next to
// the Portal stand-in, and gives tests small helpers to call it. Test files
// set it up with `useStack` (one Portal, one Worker or two locations, fresh
// per test or per describe).
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, beforeEach } from 'node:test';
import { Miniflare } from 'miniflare';
import { DURABLE_OBJECTS, KV_WORKER, objectWorkerOptions, workerOptions } from '../support/worker.mjs';
import { startPortal, custodianShare, backupSharePairId } from '../standins/portal.mjs';
import { checkedFetch } from './contract.mjs';
import { KV_BINDING_MODULE, KvModel } from './kv-model.mjs';

export { startPortal, custodianShare, backupSharePairId, KvModel };

// The wrapped binding that puts tests/worker/kv-model.mjs behind a
// location's SHARES (its own LOCATION comes with each use).
const KV_BINDING_WORKER = 'kv-model-binding';
const kvModelWorker = (model) => ({
  name: KV_BINDING_WORKER,
  modules: [{ type: 'ESModule', path: 'kv-model-binding.js', contents: KV_BINDING_MODULE }],
  serviceBindings: { MODEL: model.handler },
});


export const WEBHOOK_SECRET = 'whsec-test-3b9f0c7e2d1a4b58';
// kid:base64(32 bytes). Distinct, recognisable only by their kid.
export const KEY_1 = `k1:${Buffer.alloc(32, 0x11).toString('base64')}`;
export const KEY_2 = `k2:${Buffer.alloc(32, 0x22).toString('base64')}`;
export const ALLOWED_ORIGIN = 'https://wallet.example';
export const ALICE = { token: 'test-token-alice', clientId: 'client-alice' };
export const BOB = { token: 'test-token-bob', clientId: 'client-bob' };

/** Collects every line workerd prints (the Worker's console output included). */
function logCollector() {
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
  return { logs, handleRuntimeStdio: (stdout, stderr) => { collect(stdout); collect(stderr); } };
}

/**
 * Miniflare's `workers[]` entry for one location of the Worker: SHARES is
 * Miniflare's KV, or `model` seen from `location`.
 */
function locationWorker({
  name, location, model, routes, durableObjects, portalUrl = 'http://127.0.0.1:9', keys = KEY_1,
  webhookSecret = WEBHOOK_SECRET, notifyPortal = 'true', rateLimits = {},
  extraOrigins = [], directSocket = false,
}) {
  const secrets = {};
  // null leaves the secret unset.
  if (webhookSecret !== null) secrets.WEBHOOK_SECRET = webhookSecret;
  if (keys !== null) secrets.SHARE_ENCRYPTION_KEYS = keys;
  return {
    ...workerOptions({
      ...(name ? { name } : {}),
      rateLimits,
      ...(durableObjects ? { durableObjects } : {}),
      ...(model ? { kvNamespaces: [] } : {}),
      bindings: {
        WEBHOOKS_ROOT: 'webhooks',
        PORTAL_API_BASE: portalUrl,
        ALLOWED_ORIGINS: [ALLOWED_ORIGIN, 'http://localhost:8787', ...extraOrigins].join(', '),
        NOTIFY_PORTAL: notifyPortal,
        ...secrets,
      },
    }),
    ...(routes ? { routes } : {}),
    // Its own HTTP port on 127.0.0.1 (Miniflare picks it; unsafeGetDirectURL tells it).
    ...(directSocket ? { unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }] } : {}),
    ...(model ? { wrappedBindings: { SHARES: { scriptName: KV_BINDING_WORKER, bindings: { LOCATION: location } } } } : {}),
  };
}

/**
 * The client's Durable Object's own script (tests/support/worker.mjs), its
 * SHARES Miniflare's KV or `model` seen from `location`.
 */
function objectScript(model, location) {
  return objectWorkerOptions(model
    ? { kvNamespaces: [], wrappedBindings: { SHARES: { scriptName: KV_BINDING_WORKER, bindings: { LOCATION: location } } } }
    : {});
}

/**
 * What a test holds of one location: `fetch` (checked against the
 * contract), and counts of the requests made and of the 503s answered.
 */
function locationHandle(mf, { host, location, kv = null, model = null, url, logs }) {
  const handle = {
    mf, kv, model, location, logs, url, requests: 0, unavailable: 0,
    // Every answer is checked against docs/openapi.yaml (tests/worker/contract.mjs).
    fetch: checkedFetch(async (path, init) => {
      handle.requests++;
      const response = await mf.dispatchFetch(`http://${host}${path}`, init);
      if (response.status === 503) handle.unavailable++;
      return response;
    }),
    close: () => mf.dispose(),
  };
  return handle;
}

/**
 * Miniflare's address once workerd runs. If it fails to start, what workerd
 * printed goes into the error and the instance is disposed (a half-started
 * one would keep the test process alive).
 */
async function readyUrl(mf, logs) {
  try {
    return (await mf.ready).href.replace(/\/$/, '');
  } catch (error) {
    await mf.dispose().catch(() => {});
    if (logs.length) error.message += `\n${logs.join('\n')}`;
    throw error;
  }
}

/**
 * Starts the Worker. `logs` collects every line workerd prints. With
 * `eventualKv` (true, a KvModel, or KvModel options) SHARES is the model of
 * Cloudflare's KV (tests/worker/kv-model.mjs) at location "a", returned as
 * `model`; otherwise it is Miniflare's KV, returned as `kv`.
 */
export async function startWorker({ kvPersist = false, port, eventualKv = false, ...options } = {}) {
  const model = !eventualKv ? null : eventualKv instanceof KvModel ? eventualKv : new KvModel(eventualKv === true ? {} : eventualKv);
  const { logs, handleRuntimeStdio } = logCollector();
  const mf = new Miniflare({
    cf: false,
    kvPersist,
    // The custodian directory lives in Durable Objects: kept with KV.
    durableObjectsPersist: kvPersist,
    ...(port === undefined ? {} : { host: '127.0.0.1', port }),
    handleRuntimeStdio,
    workers: [
      locationWorker({ ...options, model, location: 'a' }),
      ...objectScript(model, 'a'),
      ...(model ? [kvModelWorker(model)] : []),
    ],
  });
  const url = await readyUrl(mf, logs);
  const kv = model ? null : await mf.getKVNamespace('SHARES', KV_WORKER);
  return locationHandle(mf, { host: 'worker.test', location: 'a', kv, model, url, logs });
}

/**
 * Two locations of one deployment: the same bundle twice in one Miniflare,
 * `a` and `b` (told apart by route), one Durable Object namespace (its
 * objects live with `a`), each SHARES the shared `model` (a KvModel, or its
 * options) seen from its own location. `options` are startWorker's (portalUrl,
 * rateLimits, extraOrigins: more CORS origins, ...). `a` and `b` are used
 * like startWorker's result. With `http: true` each location also listens
 * on a port of its own, its address in `a.httpUrl` / `b.httpUrl` (for a
 * browser; `fetch` still goes through dispatchFetch).
 */
export async function startLocations({ model = {}, http = false, ...options } = {}) {
  const kvModel = model instanceof KvModel ? model : new KvModel(model);
  const { logs, handleRuntimeStdio } = logCollector();
  const names = { a: 'portal-backup-a', b: 'portal-backup-b' };
  // Both locations bind the objects' own script, placed at a. A single-script
  // bundle (WORKER_SCRIPT) holds them itself: then b names a as their home.
  const objects = objectScript(kvModel, 'a');
  const objectsAtA = objects.length ? undefined : Object.fromEntries(
    Object.entries(DURABLE_OBJECTS).map(([binding, className]) => [binding, { className, scriptName: names.a }]),
  );
  const mf = new Miniflare({
    cf: false,
    handleRuntimeStdio,
    workers: [
      locationWorker({ ...options, name: names.a, location: 'a', model: kvModel, routes: ['a.test/*'], directSocket: http }),
      locationWorker({ ...options, name: names.b, location: 'b', model: kvModel, routes: ['b.test/*'], durableObjects: objectsAtA, directSocket: http }),
      ...objects,
      kvModelWorker(kvModel),
    ],
  });
  const url = await readyUrl(mf, logs);
  const at = (location) => locationHandle(mf, { host: `${location}.test`, location, model: kvModel, url, logs });
  const located = { a: at('a'), b: at('b') };
  if (http) {
    for (const location of ['a', 'b']) located[location].httpUrl = (await mf.unsafeGetDirectURL(names[location])).href.replace(/\/$/, '');
  }
  return { mf, ...located, model: kvModel, logs, options, close: () => mf.dispose() };
}

/**
 * A handle that stays valid while what it stands for is started, stopped and
 * replaced: every property read or write goes to `current()` (the Portal,
 * Worker or locations started last). Before the first start it throws.
 */
function liveHandle(name, current) {
  const target = () => {
    const started = current();
    if (!started) throw new Error(`useStack: the ${name} starts in a before hook; use it inside a test`);
    return started;
  };
  return new Proxy({}, {
    get: (_, key) => Reflect.get(target(), key),
    set: (_, key, value) => Reflect.set(target(), key, value),
    has: (_, key) => Reflect.has(target(), key),
  });
}

/**
 * The one set-up of a describe (or file) that runs the Worker: registers
 * node:test hooks that start and close what it names, and returns handles
 * valid inside its tests.
 *
 * - `portal`: true, or startPortal's options: the Portal stand-in, one for
 *   the describe (with `fresh: 'each'` its state is reset before each test).
 * - `worker`: true, or startWorker's options; `locations` instead: startLocations'
 *   options. `portalUrl` is the Portal's unless given.
 * - `fresh`: 'file' starts one Worker for every test of the describe; 'each'
 *   a new one per test, so that KV and the clients' Durable Objects start
 *   empty together (emptying KV alone would leave objects naming blobs that
 *   are gone).
 *
 * Returns `{ portal, worker, locations, alice, bob }` (the ones asked for;
 * `alice` and `bob` are clientApi for ALICE and BOB on the Worker).
 */
export function useStack({ portal = false, worker = false, locations = false, fresh = 'file' } = {}) {
  if (fresh !== 'file' && fresh !== 'each') throw new Error(`useStack: fresh is 'file' or 'each', not ${fresh}`);
  if (worker && locations) throw new Error('useStack: a worker or locations, not both');
  const started = { portal: null, worker: null, locations: null };
  const stack = {};
  for (const [name, wanted] of Object.entries({ portal, worker, locations })) {
    if (wanted) stack[name] = liveHandle(name, () => started[name]);
  }
  if (worker) Object.assign(stack, { alice: clientApi(stack.worker, ALICE), bob: clientApi(stack.worker, BOB) });

  const optionsOf = (wanted) => ({
    ...(started.portal ? { portalUrl: started.portal.url } : {}),
    ...(wanted === true ? {} : wanted),
  });
  // Each start first forgets the last one (closed by now): what fails to
  // start is not closed again (readyUrl disposed of it).
  const start = async () => {
    if (worker) {
      started.worker = null;
      started.worker = await startWorker(optionsOf(worker));
    }
    if (locations) {
      started.locations = null;
      started.locations = await startLocations(optionsOf(locations));
    }
  };
  const stop = async () => {
    await started.worker?.close();
    await started.locations?.close();
  };

  before(async () => {
    if (portal) started.portal = await startPortal(portal === true ? {} : portal);
    if (fresh === 'file') await start();
  });
  if (fresh === 'each') {
    beforeEach(async () => {
      if (started.portal) await control(started.portal, 'reset', {});
      await start();
    });
    afterEach(stop);
  }
  after(async () => {
    if (fresh === 'file') await stop();
    await started.portal?.close();
  });
  return stack;
}

/** Every key in KV with its raw value: what an operator (or attacker) sees. */
export async function dumpKv(worker) {
  if (worker.model) return worker.model.dump();
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
  const result = { status: response.status, body: await response.json() };
  // Kept out of deepEqual comparisons of the result (for a 503's Retry-After).
  return Object.defineProperty(result, 'headers', { value: response.headers, enumerable: false });
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
  const request = async (method, path, body, extraHeaders = {}) => {
    const headers = { ...extraHeaders };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] ??= 'application/json';
    const response = await worker.fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, body: text ? JSON.parse(text) : null };
  };
  const call = (method, path, body, extraHeaders) => request(method, `/v1/client-backups${path}`, body, extraHeaders);
  return {
    call,
    put: (method, cipherText, backupSharePairIds, extra = {}) =>
      call('PUT', `/${method}`, { cipherText, backupSharePairIds, ...extra }),
    get: (method) => call('GET', `/${method}`),
    list: () => call('GET', ''),
    remove: (method) => call('DELETE', `/${method}`),
    confirm: (method, backupId) => call('POST', `/${method}/confirm`, { backupId }),
    notify: (method) => call('POST', `/${method}/notify`),
    custodianList: () => request('GET', '/v1/custodian-backups'),
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

/**
 * Polls `check` until it holds, for at most `ms`: for what the Worker does
 * after it answered (the client's object deletes blobs it no longer names
 * from its alarm, more than a second later). Fails the test if it never holds.
 */
export async function waitFor(check, { ms = 5000, every = 100 } = {}) {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`still not so after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}
