// Profiles one Worker route under load with workerd's own DevTools inspector:
// the Worker runs in workerd through Miniflare (as in the throughput part),
// wrk loads one route, and a V8 CPU profile is recorded over the Chrome
// DevTools protocol from every isolate that serves the request (the Worker
// with its Durable Object, Miniflare's entry worker, the KV simulation).
// The Rust Worker is profiled from a copy of worker/build whose wasm keeps
// its function names (worker/build/index_bg.named.wasm), same code.
//
//   node bench/profile-worker.mjs [rust|js] [backup|fetch|put|get] [seconds]
//
// Prints where each isolate's time goes (self time by function, and by
// kind: wasm, wasm-bindgen glue, Worker JS, runtime) and writes the raw
// profiles to bench/out/profile-<kind>-<route>-<isolate>.cpuprofile (open
// them in Chrome DevTools' Performance panel). Inspector port: 9731
// (PROFILE_INSPECTOR_PORT overrides); PROFILE_BUILD profiles another Rust
// bundle directory (built by scripts/build-worker elsewhere) instead of
// worker/build.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Node 20 has WebSocket only behind a flag (Node 22 has it by default).
if (typeof WebSocket === 'undefined') {
  const { status } = spawnSync(process.execPath, ['--experimental-websocket', ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(status ?? 1);
}

const { startPortal, backupSharePairId } = await import('../tests/standins/portal.mjs');
const { startWorker } = await import('./lib/workers.mjs');
const { wrk } = await import('./lib/wrk.mjs');
const { round } = await import('./lib/stats.mjs');

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = join(ROOT, 'bench/out');
const [kind = 'rust', routeName = 'get', seconds = '10'] = process.argv.slice(2);
const INSPECTOR_PORT = Number(process.env.PROFILE_INSPECTOR_PORT ?? 9731);
const TOKEN = 'test-token-alice';
const CLIENT = 'client-alice';
const webhookSecret = randomBytes(24).toString('hex');
const shareKeys = `bench1:${randomBytes(32).toString('base64')}`;
const webhookHeaders = { 'X-Webhook-Secret': webhookSecret, 'Content-Type': 'application/json' };
const clientHeaders = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
const custodianShare = (clientId, method) => JSON.stringify({ clientId, backupMethod: method, share: randomBytes(700).toString('hex'), signingShare: randomBytes(256).toString('hex') });
const envelopeText = () => Buffer.concat([Buffer.from('PBAK'), Buffer.from([1, 1]), randomBytes(12), randomBytes(8 * 1024 + 16)]).toString('base64url');
const putBody = JSON.stringify({ cipherText: envelopeText(), backupSharePairIds: [backupSharePairId(CLIENT, 'SECP256K1'), backupSharePairId(CLIENT, 'ED25519')] });
const SPECS = {
  backup: { method: 'POST', path: '/webhooks/backup', headers: webhookHeaders,
    bodies: Array.from({ length: 64 }, (_, i) => JSON.stringify({ clientId: `client-load-${i}`, backupMethod: 'GDRIVE-SECP256K1', share: custodianShare(`client-load-${i}`, 'GDRIVE-SECP256K1') })) },
  fetch: { method: 'POST', path: '/webhooks/backup/fetch', headers: webhookHeaders, body: JSON.stringify({ clientId: CLIENT }) },
  put: { method: 'PUT', path: '/v1/client-backups/GDRIVE', headers: clientHeaders, body: putBody },
  get: { method: 'GET', path: '/v1/client-backups/GDRIVE', headers: { Authorization: `Bearer ${TOKEN}` } },
};
if (!SPECS[routeName] || !['rust', 'js'].includes(kind)) {
  console.error('usage: node bench/profile-worker.mjs [rust|js] [backup|fetch|put|get] [seconds]');
  process.exit(2);
}

/** One DevTools protocol session over the inspector's WebSocket. */
async function session(url) {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = () => reject(new Error(`cannot connect to ${url}`)); });
  let next = 0;
  const waiting = new Map();
  socket.onmessage = ({ data }) => {
    const message = JSON.parse(data);
    const pending = waiting.get(message.id);
    if (!pending) return;
    waiting.delete(message.id);
    if (message.error) pending.reject(new Error(`${message.error.message} (${url})`));
    else pending.resolve(message.result);
  };
  return {
    send: (method, params = {}) => new Promise((resolve, reject) => {
      const id = ++next;
      waiting.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params }));
    }),
    close: () => socket.close(),
  };
}

/** Self time per function (ms) and per kind of code, from a V8 CPU profile. */
function summarize(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const functions = new Map();
  const kinds = {};
  let total = 0;
  for (const [id, ms] of self) {
    const { functionName, url } = byId.get(id).callFrame;
    const name = functionName || '(anonymous)';
    const what = name === '(idle)' ? 'idle'
      : name === '(garbage collector)' ? 'garbage collector'
        : name === '(program)' ? 'runtime (native, outside JS)'
          : url.startsWith('wasm://') ? 'wasm'
            : url === '' ? 'runtime builtins' : 'JS';
    kinds[what] = (kinds[what] ?? 0) + ms;
    total += ms;
    const key = `${name} ${url.startsWith('wasm://') ? '[wasm]' : url.split('/').pop()}`;
    functions.set(key, (functions.get(key) ?? 0) + ms);
  }
  const busy = total - (kinds.idle ?? 0);
  return { total, busy, kinds, top: [...functions].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]) };
}

let scriptPath;
let scratch;
if (kind === 'rust') {
  // Same bundle, with the names kept, so wasm frames say which function.
  // Inside the project: workerd refuses module paths outside Miniflare's root.
  scratch = join(OUT, `profile-bundle-${process.pid}`);
  const build = process.env.PROFILE_BUILD ?? join(ROOT, 'worker/build');
  cpSync(build, scratch, { recursive: true });
  copyFileSync(join(build, 'index_bg.named.wasm'), join(scratch, 'index_bg.wasm'));
  scriptPath = join(scratch, 'index.js');
}
const portal = await startPortal({ port: 0, host: '127.0.0.1' });
const worker = await startWorker({ kind, scriptPath, port: 0, portalUrl: portal.url, webhookSecret, shareKeys, rateLimits: { CLIENT_WRITES: 1_000_000_000 }, inspectorPort: INSPECTOR_PORT });
try {
  for (const method of ['GDRIVE-SECP256K1', 'GDRIVE-ED25519']) {
    const r = await fetch(`${worker.url}/webhooks/backup`, { method: 'POST', headers: webhookHeaders, body: JSON.stringify({ clientId: CLIENT, backupMethod: method, share: custodianShare(CLIENT, method) }) });
    if (r.status !== 200) throw new Error(`seed delivery: ${r.status}`);
  }
  const put = await fetch(`${worker.url}/v1/client-backups/GDRIVE`, { method: 'PUT', headers: clientHeaders, body: putBody });
  if (put.status !== 201) throw new Error(`seed PUT: ${put.status}`);
  mkdirSync(OUT, { recursive: true });
  const scriptFile = join(OUT, 'wrk-profile.lua');
  await wrk(worker.url, SPECS[routeName], { seconds: 3, scriptPath: scriptFile }); // warm-up

  // Every isolate a request passes through, except Miniflare's unused services.
  const targets = (await (await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json/list`)).json())
    .filter((t) => /^core:user:|^core:entry$|^kv:ns/.test(t.id));
  const sessions = [];
  for (const target of targets) {
    const s = await session(target.webSocketDebuggerUrl);
    await s.send('Profiler.enable');
    await s.send('Profiler.setSamplingInterval', { interval: 200 }); // µs
    sessions.push({ id: target.id, s });
  }
  await Promise.all(sessions.map(({ s }) => s.send('Profiler.start')));
  const load = await wrk(worker.url, SPECS[routeName], { seconds: Number(seconds), scriptPath: scriptFile });
  const profiles = await Promise.all(sessions.map(async ({ id, s }) => ({ id, profile: (await s.send('Profiler.stop')).profile })));
  for (const { s } of sessions) s.close();

  console.log(`${kind} ${SPECS[routeName].method} ${SPECS[routeName].path}: ${round(load.rps, 0)} req/s, ${load.requests} requests, p50 ${round(load.p50_ms, 2)} ms, non-2xx ${load.non2xx}`);
  for (const { id, profile } of profiles) {
    writeFileSync(join(OUT, `profile-${kind}-${routeName}-${id.replace(/[^A-Za-z0-9-]+/g, '_')}.cpuprofile`), JSON.stringify(profile));
    const { total, busy, kinds, top } = summarize(profile);
    const perRequest = (ms) => `${round((ms * 1000) / load.requests, 1)} µs/req`;
    console.log(`\n== ${id}: busy ${round(busy, 0)} of ${round(total, 0)} ms (${perRequest(busy)})`);
    console.log('   ' + Object.entries(kinds).filter(([k]) => k !== 'idle').sort((a, b) => b[1] - a[1]).map(([k, ms]) => `${k} ${round((100 * ms) / busy, 1)}% (${perRequest(ms)})`).join(', '));
    for (const [name, ms] of top.slice(0, Number(process.env.PROFILE_TOP ?? 25))) console.log(`   ${round((100 * ms) / busy, 1).toFixed(1).padStart(5)}%  ${perRequest(ms).padStart(13)}  ${name}`);
  }
} finally {
  await worker.stop();
  await portal.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}
