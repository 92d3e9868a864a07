// Wall time as users feel it (issue 17): backupWallet / recoverWallet /
// checkBackup / changeBackupKey from the npm package for GDRIVE, ICLOUD,
// PASSWORD and PASSKEY, and Portal's own order of calls for a Google Drive
// backup and recovery (bench/page/portal-order.js), in headless Chromium
// against the Drive, iCloud (CloudKit) and Portal stand-ins and the real
// Worker (workerd via Miniflare) behind the edge, all under one latency
// profile (tests/standins/latency.mjs; LATENCY_PROFILE, default realistic here).
//
// Each flow runs as a user's first of a session would: a Portal token the
// Worker has not seen (so its token check with Portal is paid, not cached)
// and no CORS preflight cached (DevTools' "disable cache"). One warm-up
// round first (page, wasm, the Worker's isolate; the passkeys are made
// there), then WALLTIME_RUNS rounds (default 15; 3 with BENCH_QUICK=1);
// each round runs the package's GDRIVE backup and Portal's order back to
// back (which goes first alternates), the same for recovery, then
// checkBackup and changeBackupKey, then the same flows (without Portal's
// order) for ICLOUD, PASSWORD and PASSKEY. WALLTIME_METHODS (default
// "GDRIVE ICLOUD PASSWORD PASSKEY") and WALLTIME_FLOWS (default "backup
// recover check change") pick a subset. Wall time: the page's clock from
// the call to its answer. Requests: Chromium's DevTools protocol (Network
// domain), one clock with the page's. Waterfalls of each flow's median run:
// bench/out/.
//
// The package is taken as it is from pkg/web (WALLTIME_PKG=<dir> for another
// build inside the repository); its wasm's SHA-256 goes into the results.
// Usage: node bench/walltime.mjs   → bench/out/walltime.json, waterfall-*.svg
// (and bench/waterfalls/, the copies BENCHMARKS.md links, from a full run only)
import { createHash, randomBytes } from 'node:crypto';
import { execSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { backupSharePairId, startPortal } from '../tests/standins/portal.mjs';
import { startDrive } from '../tests/standins/drive.mjs';
import { DEFAULT_ICLOUD_API_TOKEN, DEFAULT_ICLOUD_CONTAINER, DEFAULT_ICLOUD_ENVIRONMENT, startICloud } from '../tests/standins/icloud.mjs';
import { startEdge } from '../tests/standins/edge.mjs';
import { describeProfile, resolveProfile } from '../tests/standins/latency.mjs';
import { pageWithAuthenticator } from '../tests/support/webauthn.mjs';
import { startWorker } from './lib/workers.mjs';
import { startStatic } from './lib/static-server.mjs';
import { cloudKitOps, launchChromium } from './lib/chromium.mjs';
import { median, quantile, round } from './lib/stats.mjs';
import { criticalPath, unionMs, waterfallSvg } from './lib/waterfall.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = fileURLToPath(new URL('out/', import.meta.url));
const WATERFALLS = fileURLToPath(new URL('waterfalls/', import.meta.url));
const QUICK = process.env.BENCH_QUICK === '1';
const RUNS = Number(process.env.WALLTIME_RUNS ?? (QUICK ? 3 : 15));
// Only a full run (15 rounds or more, not BENCH_QUICK) replaces the committed copies.
const PUBLISH = !QUICK && RUNS >= 15 && process.env.WALLTIME_PUBLISH !== '0';
const PROFILE = process.env.LATENCY_PROFILE || 'realistic';
const PKG = (process.env.WALLTIME_PKG ?? 'pkg/web').replace(/^\/+|\/+$/g, '');
const METHODS = (process.env.WALLTIME_METHODS ?? 'GDRIVE ICLOUD PASSWORD PASSKEY').split(/[\s,]+/).filter(Boolean);
const FLOWS = (process.env.WALLTIME_FLOWS ?? 'backup recover check change').split(/[\s,]+/).filter(Boolean);
const LABEL = { backup: 'backup', recover: 'recovery', check: 'checkBackup', change: 'changeBackupKey' };
for (const f of FLOWS) if (!LABEL[f]) throw new Error(`WALLTIME_FLOWS: unknown flow ${f} (backup, recover, check, change)`);
for (const m of METHODS) if (!['GDRIVE', 'ICLOUD', 'PASSWORD', 'PASSKEY'].includes(m)) throw new Error(`WALLTIME_METHODS: unknown method ${m}`);
// The Worker's ALLOWED_ORIGINS names http://localhost:8800 (bench/lib/workers.mjs);
// localhost, not 127.0.0.1: WebAuthn takes no IP address as relying party id.
const PAGE_PORT = 8800;
const PAGE_ORIGIN = `http://localhost:${PAGE_PORT}`;
const PASSWORD = 'correct horse battery staple';
// changeBackupKey's new password; the next round's backup goes back to PASSWORD.
const NEW_PASSWORD = 'battery staple correct horse';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sh = (cmd) => { try { return execSync(cmd, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return 'unavailable'; } };

mkdirSync(OUT, { recursive: true });
if (PUBLISH) mkdirSync(WATERFALLS, { recursive: true });
if (!resolveProfile(PROFILE)) console.error(`LATENCY_PROFILE=${PROFILE}: no latency, the stand-ins answer at once`);
const wasmPath = `${ROOT}${PKG}/portal_backup_bg.wasm`;
const pkgInfo = {
  dir: PKG,
  wasm_sha256: createHash('sha256').update(readFileSync(wasmPath)).digest('hex').slice(0, 16),
  built: statSync(wasmPath).mtime.toISOString(),
};

const CLIENTS = { pkg: { clientId: 'client-alice', driveToken: 'drive-token-alice', icloudUser: 'alice' }, portal: { clientId: 'client-bob', driveToken: 'drive-token-bob', icloudUser: 'bob' } };
// A request as the report names it: Drive file ids and CloudKit's container
// and environment shortened; a CloudKit modify with its operation types.
const callName = (r) => `${r.service} ${r.method} ${r.path.replace(/\/files\/[A-Za-z0-9_-]{20,}/, '/files/{id}').replace(/^\/database\/1\/[^/]+\/[^/]+\//, '/…/')}${r.ops ? ` (${r.ops})` : ''}`;
const shares = { SECP256K1: randomBytes(2000).toString('hex'), ED25519: randomBytes(2000).toString('hex') };
const clientBackupFor = (clientId, method) => JSON.stringify(Object.fromEntries(Object.entries(shares)
  .map(([curve, share]) => [curve, { id: backupSharePairId(clientId, curve, method), share }])));

const webhookSecret = randomBytes(24).toString('hex');
const shareKeys = `bench1:${randomBytes(32).toString('base64')}`;
const started = { at: new Date().toISOString(), loadavg: loadavg().map((x) => x.toFixed(2)) };

let drive, icloud, portal, worker, edge, server, browser, chromiumVersion;
const flows = {}; // key → [run]
try {
  drive = await startDrive({ port: 0, host: '127.0.0.1', latency: PROFILE });
  icloud = await startICloud({ port: 0, host: '127.0.0.1', latency: PROFILE });
  const workerPort = 18000 + Math.floor(Math.random() * 1000);
  // Portal's webhooks go to the Worker directly: server to server, not the user's path.
  portal = await startPortal({ port: 0, host: '127.0.0.1', webhookUrl: `http://127.0.0.1:${workerPort}/webhooks`, webhookSecret, latency: PROFILE });
  worker = await startWorker({ kind: 'rust', port: workerPort, portalUrl: portal.url, webhookSecret, shareKeys, rateLimits: { CLIENT_WRITES: 100_000 } });
  edge = await startEdge({ upstream: worker.url, host: '127.0.0.1', latency: PROFILE });
  server = await startStatic(ROOT, { port: PAGE_PORT });
  ({ browser, version: chromiumVersion } = await launchChromium());
  const { page, cdp, problems } = await pageWithAuthenticator(browser);
  page.on('console', (m) => { if (m.type() === 'error') console.error('page:', m.text()); });

  // ---- requests, from Chromium's DevTools protocol
  await cdp.send('Network.enable');
  // As on a user's first visit: no preflight (nor anything else) from a cache.
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const net = new Map();
  const offsets = []; // wallTime − timestamp (ms): the protocol's monotonic clock onto the epoch
  cdp.on('Network.requestWillBeSent', (e) => {
    if (e.wallTime) offsets.push(e.wallTime * 1000 - e.timestamp * 1000);
    const key = `${e.requestId} ${e.request.method}`;
    if (!net.has(key)) net.set(key, { id: e.requestId, method: e.request.method, url: e.request.url, type: e.type, start: e.timestamp * 1000, end: null, headersAt: null, postData: e.request.postData });
  });
  const finish = (e) => { for (const r of net.values()) if (r.id === e.requestId && r.end === null) r.end = e.timestamp * 1000; };
  cdp.on('Network.loadingFinished', finish);
  cdp.on('Network.loadingFailed', finish);
  cdp.on('Network.responseReceived', (e) => {
    if (e.type === 'Preflight') return finish(e);
    for (const r of net.values()) if (r.id === e.requestId && r.method !== 'OPTIONS') r.headersAt ??= e.timestamp * 1000;
  });
  const toEpoch = () => median(offsets.slice(-200));
  const serviceOf = (url) => (url.startsWith(drive.url) ? 'drive' : url.startsWith(icloud.url) ? 'icloud' : url.startsWith(portal.url) ? 'portal' : url.startsWith(edge.url) ? 'worker' : 'other');

  await page.goto(`${PAGE_ORIGIN}/bench/page/walltime.html?pkg=/${PKG}/portal_backup.js`);
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 60_000 });

  const control = (service, path, body) => fetch(`${service.url}/__control/${path}`, {
    method: body === undefined ? 'GET' : 'POST', headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  }).then((r) => r.json());

  let tokens = 0;
  let passkey; // the credential the first PASSKEY backup made; later ones name it, as a wallet would
  // changeBackupKey moves a passkey backup to another passkey: the first
  // change to a new one, later ones to that one (Chromium's virtual
  // authenticator holds 3 discoverable credentials; a fourth `create` is
  // NotAllowedError). The next backup goes back to `passkey`.
  let movedTo;
  async function runFlow(side, flow, method) {
    const { clientId, driveToken, icloudUser } = CLIENTS[side];
    // A token the Worker has not verified yet: its check with Portal is paid.
    const portalToken = `walltime-${process.pid}-${++tokens}`;
    await control(portal, 'clients', { token: portalToken, clientId });
    // ICLOUD: what a sign-in gives, issued from here (no request of the
    // page); the page keeps the newest token CloudKit hands back and uses
    // this one only for its first call or a sign-in the package asks for.
    const icloudOptions = method === 'ICLOUD' ? { icloud: { apiUrl: icloud.url, container: DEFAULT_ICLOUD_CONTAINER, environment: DEFAULT_ICLOUD_ENVIRONMENT,
      apiToken: DEFAULT_ICLOUD_API_TOKEN, signInToken: (await control(icloud, 'tokens', { user: icloudUser })).token } } : {};
    const clientBackup = clientBackupFor(clientId, method);
    const options = { clientId, portalToken, serverUrl: edge.url, method, custodianId: 'custodian-demo', portalApiUrl: portal.url, driveApiUrl: drive.url, driveToken,
      password: PASSWORD, ...icloudOptions, ...(flow === 'recover' || flow === 'change' ? {} : { clientBackup }),
      ...(flow === 'backup' && method === 'PASSKEY' && passkey ? { credentialId: passkey } : {}),
      ...(flow === 'change' && method === 'PASSKEY' && movedTo ? { credentialId: movedTo } : {}),
      ...(flow === 'change' && method === 'PASSWORD' ? { newPassword: NEW_PASSWORD } : {}) };
    net.clear();
    const answer = await page.evaluate(([s, f, o]) => window.runFlow(s, f, o), [side, flow, options])
      .catch((e) => { throw new Error(`${side} ${method} ${LABEL[flow]}: ${e.message}`); });
    if (problems.length) throw new Error(`page error: ${problems.join('; ')}`);
    if (flow === 'recover' && answer.result.clientBackup !== clientBackup) throw new Error(`${side} ${method} recovery: the plaintext differs`);
    if (flow === 'check' && !(answer.result.recoverable && answer.result.problems.length === 0)) throw new Error(`checkBackup found problems: ${JSON.stringify(answer.result)}`);
    if (flow === 'change' && !(answer.result.backupId && answer.result.method === method)) throw new Error(`changeBackupKey answered ${JSON.stringify(answer.result)}`);
    if (side === 'pkg' && flow === 'backup' && method === 'PASSKEY') passkey ??= answer.result.credentialId;
    if (side === 'pkg' && flow === 'change' && method === 'PASSKEY') movedTo ??= answer.result.credentialId;
    await sleep(20); // the protocol's last events of the flow
    await control(portal, 'webhooks'); // Portal's deliveries done before the next flow (untimed)

    const offset = toEpoch();
    if (process.env.WALLTIME_DEBUG) console.error(side, method, flow, JSON.stringify([...net.values()].map((r) => [r.id, r.method, r.type, r.url.slice(0, 60), r.end && round(r.end - r.start, 1), r.headersAt && round(r.headersAt - r.start, 1)])));
    // A request is answered for the page once its headers are in (a small
    // body's loadingFinished may come later, or never if nobody reads it).
    const seen = [...net.values()].filter((r) => !r.url.startsWith(PAGE_ORIGIN) && (r.end !== null || r.headersAt !== null))
      .map((r) => {
        const u = new URL(r.url);
        const end = Math.min(r.end ?? Infinity, r.headersAt ?? Infinity);
        const service = serviceOf(r.url);
        return { service, method: r.method, path: u.pathname, query: u.search, start: r.start + offset - answer.t0, end: end + offset - answer.t0, preflight: r.method === 'OPTIONS',
          ops: service === 'icloud' && r.method === 'POST' ? cloudKitOps(r.postData) : '' };
      })
      .filter((r) => r.end >= r.start);
    const requests = seen.filter((r) => !r.preflight).sort((a, b) => a.start - b.start);
    const preflights = seen.filter((r) => r.preflight);
    for (const r of requests) {
      const pre = preflights.find((p) => p.service === r.service && p.path === r.path && p.start >= r.start - 1 && p.end <= r.end + 1);
      if (pre) r.sent = pre.end;
    }
    const wall = answer.t1 - answer.t0;
    const steps = [];
    const open = new Map();
    for (const e of answer.events) {
      const at = e.at - answer.t0;
      if (e.phase === 'start') open.set(e.step, [...(open.get(e.step) ?? []), at]);
      else {
        const starts = open.get(e.step) ?? [];
        const start = starts.shift() ?? at;
        steps.push({ step: e.step, start, end: at, phase: e.phase });
      }
    }
    steps.sort((a, b) => a.start - b.start);
    const chain = criticalPath(requests, wall);
    for (const r of chain) r.critical = true;
    const stepMs = (name) => steps.filter((s) => s.step === name).reduce((sum, s) => sum + (s.end - s.start), 0);
    return {
      wall_ms: wall,
      first_progress_ms: answer.events.length ? answer.events[0].at - answer.t0 : null,
      network_ms: unionMs(requests),
      encrypt_ms: stepMs('encrypt'),
      decrypt_ms: stepMs('decrypt'),
      requests: requests.length,
      preflights: preflights.length,
      icloud_sign_ins: answer.icloudSignIns ?? 0,
      critical: chain.map((r) => ({ call: callName(r), service: r.service, ms: r.end - r.start, preflight_ms: r.sent ? r.sent - r.start : 0 })),
      timeline: { steps, requests },
    };
  }

  const record = (key, run) => (flows[key] ??= []).push(run);
  const plan = (round) => {
    const list = [];
    // The package and Portal's order side by side for a Drive backup and
    // recovery; which goes first alternates. The other flows need a backup
    // first (the key change re-keys it; the next round's backup replaces it).
    const pair = (flow) => (round % 2 === 0 ? [['pkg', flow], ['portal', flow]] : [['portal', flow], ['pkg', flow]]);
    const flows = ['backup', ...FLOWS.filter((f) => f !== 'backup')];
    for (const method of METHODS) {
      for (const flow of flows) {
        if (method === 'GDRIVE' && (flow === 'backup' || flow === 'recover')) list.push(...pair(flow).map(([s, f]) => [s, f, method]));
        else list.push(['pkg', flow, method]);
      }
    }
    return list;
  };
  console.error(`walltime: profile ${PROFILE}, ${RUNS} rounds of ${plan(0).length} flows, package ${PKG} (wasm ${pkgInfo.wasm_sha256}, built ${pkgInfo.built})`);
  for (const [side, flow, method] of plan(1)) await runFlow(side, flow, method); // warm-up, not recorded
  for (let round = 0; round < RUNS; round++) {
    for (const [side, flow, method] of plan(round)) {
      const run = await runFlow(side, flow, method);
      if (FLOWS.includes(flow)) record(`${side} ${method} ${flow}`, { round, ...run });
    }
    const g = flows['pkg GDRIVE backup']?.at(-1);
    const p = flows['portal GDRIVE backup']?.at(-1);
    console.error(`round ${round + 1}/${RUNS}${g ? `: Drive backup ${g.wall_ms.toFixed(0)} ms, Portal's order ${p?.wall_ms.toFixed(0)} ms` : ''}`);
  }
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: false });
} finally {
  await browser?.close(); await server?.close(); await edge?.close(); await worker?.stop(); await portal?.close(); await icloud?.close(); await drive?.close();
}

// ---- summary
const spread = (xs, d = 1) => ({ median: round(median(xs), d), q1: round(quantile(xs, 0.25), d), q3: round(quantile(xs, 0.75), d), min: round(Math.min(...xs), d), max: round(Math.max(...xs), d), n: xs.length });
const fmtSpread = (s) => `${Math.round(s.median)} (IQR ${Math.round(s.q1)}–${Math.round(s.q3)}; ${Math.round(s.min)}–${Math.round(s.max)})`;
const summary = {};
for (const [key, runs] of Object.entries(flows)) {
  const [side, method, flow] = key.split(' ');
  const walls = runs.map((r) => r.wall_ms);
  const med = median(walls);
  const example = runs.reduce((a, b) => (Math.abs(b.wall_ms - med) < Math.abs(a.wall_ms - med) ? b : a));
  const file = `waterfall-${side}-${method.toLowerCase()}-${flow}.svg`;
  const who = side === 'pkg' ? 'the package' : "Portal's order";
  const svg = waterfallSvg({
    title: `${method} ${LABEL[flow]}, ${who}: the median run of ${runs.length}, ${Math.round(example.wall_ms)} ms`,
    note: `latency profile ${PROFILE}; ${example.requests} requests + ${example.preflights} preflights; network busy ${Math.round(example.network_ms)} ms`,
    wallMs: example.wall_ms,
    steps: example.timeline.steps,
    requests: example.timeline.requests.map((r) => ({ ...r, label: callName(r) })),
  });
  // bench/out/ is this run's; bench/waterfalls/ is the copy BENCHMARKS.md links (committed).
  writeFileSync(`${OUT}${file}`, svg);
  if (PUBLISH) writeFileSync(`${WATERFALLS}${file}`, svg);
  summary[key] = {
    side, method, flow, wall: spread(walls),
    first_progress: side === 'pkg' && runs.every((r) => r.first_progress_ms !== null) ? spread(runs.map((r) => r.first_progress_ms)) : null,
    network: spread(runs.map((r) => r.network_ms)),
    encrypt: spread(runs.map((r) => r.encrypt_ms)),
    decrypt: spread(runs.map((r) => r.decrypt_ms)),
    requests: median(runs.map((r) => r.requests)), preflights: median(runs.map((r) => r.preflights)),
    icloud_sign_ins: runs.reduce((n, r) => n + r.icloud_sign_ins, 0),
    critical: example.critical, example_wall: example.wall_ms, waterfall: file, runs: runs.map(({ timeline, ...r }) => ({ ...r, wall_ms: round(r.wall_ms, 1) })), example_timeline: example.timeline,
  };
}
const pairRatio = (a, b) => {
  const A = flows[a] ?? [];
  const B = flows[b] ?? [];
  const ratios = A.map((x) => B.find((y) => y.round === x.round)).map((y, i) => (y ? A[i].wall_ms / y.wall_ms : NaN)).filter(Number.isFinite);
  return ratios.length ? { ...spread(ratios, 2), pairs: ratios.map((x) => round(x, 2)) } : null;
};
const goals = {
  backup_vs_portal: pairRatio('pkg GDRIVE backup', 'portal GDRIVE backup'),
  recovery_vs_sequential: pairRatio('pkg GDRIVE recover', 'portal GDRIVE recover'),
};
const pw = summary['pkg PASSWORD backup'];

// ---- the report
// Static text, also spliced by hand into a provisional BENCHMARKS.md.
const METHOD_NOTE = [
  'The Worker\'s 50 ms round trip is added by the edge in front of it (`tests/standins/edge.mjs`), not by Chromium\'s network',
  'emulation: CDP\'s `Network.emulateNetworkConditions` applies to every request of the page, the Drive and Portal stand-ins',
  'too, whose figures already hold their network time, and its `latency` is a floor from request sent to response headers,',
  'not a round trip added to the Worker\'s own time. Portal\'s 150 ms applies to the Worker\'s calls to Portal as well (its',
  'token check, its PATCH in `/notify`). Not modelled: TCP and TLS set-up (one or two more round trips to each origin on a',
  'session\'s first request, for both orders alike), the Worker\'s hop to its Durable Object and KV on Cloudflare, and',
  'Portal\'s webhook calls to the Worker (not on the user\'s path). Portal\'s order is a lower bound of Portal\'s SDK: it',
  'leaves out the SDK\'s extra lookups (`bench/page/portal-order.js` lists them). iCloud\'s figures are Drive\'s for the same',
  'kind of operation (no measured CloudKit Web Services latency was found; `tests/standins/latency.mjs` says what was searched).',
  'A CloudKit web auth token is good for one request, so the package sends its CloudKit requests one after another; each',
  'carries the newest token in its URL, which no preflight cache could serve.',
];
const lines = [];
const L = (...x) => lines.push(...x);
L(`Headless Chromium runs the package (\`${PKG}\` as it was: wasm SHA-256 \`${pkgInfo.wasm_sha256}…\`, built ${pkgInfo.built}) and Portal's`,
  `order of calls (\`bench/page/portal-order.js\`) against the Drive, iCloud (CloudKit) and Portal stand-ins and the real Worker`,
  `(workerd via Miniflare) behind the edge, under the latency profile \`${PROFILE}\` (\`tests/standins/latency.mjs\`; table below).`,
  `Each flow runs as a user's first of a session: a Portal token the Worker has not seen (its check with Portal is paid)`,
  `and no cached CORS preflight (DevTools' "disable cache"). ${RUNS} rounds after a warm-up round; in each, per method`,
  `(${METHODS.join(', ')}), ${['backup', ...FLOWS.filter((f) => f !== 'backup')].map((f) => LABEL[f]).join(', ')} in that order; the package's Drive backup`,
  `and Portal's order run back to back (which goes first alternates), likewise the recoveries. changeBackupKey moves a`,
  `password backup to another password (Argon2id twice: the current one opens, the new one seals), a passkey backup to another`,
  `passkey (made by the first change), a Drive or iCloud backup to a fresh key in a new file or record. Wall time: the page's`,
  `clock from the call to its answer; first progress: the call to the first \`onProgress\` event; network: time with`,
  `at least one request in flight (Chromium's DevTools protocol, preflights included in their request). Milliseconds:`,
  `median (IQR; min–max).`, '',
  ...METHOD_NOTE, '',
  '| method | flow | wall ms | first progress ms | network ms | requests + preflights | waterfall |',
  '| --- | --- | --- | --- | --- | --- | --- |');
const order = Object.keys(summary).sort((a, b) => {
  const rank = (k) => [METHODS.indexOf(summary[k].method), ['backup', 'recover', 'check', 'change'].indexOf(summary[k].flow), summary[k].side === 'pkg' ? 0 : 1];
  const [x, y] = [rank(a), rank(b)];
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
});
for (const key of order) {
  const s = summary[key];
  const who = s.side === 'portal' ? " (Portal's order)" : '';
  L(`| ${s.method}${who} | ${LABEL[s.flow]} | ${fmtSpread(s.wall)} | ${s.first_progress ? fmtSpread(s.first_progress) : '–'} | ${fmtSpread(s.network)} | ${s.requests} + ${s.preflights} | [svg](bench/waterfalls/${s.waterfall}) |`);
}
L('');
if (goals.backup_vs_portal) L(`Drive backup ÷ Portal's order, per round: median ${goals.backup_vs_portal.median}× (IQR ${goals.backup_vs_portal.q1}–${goals.backup_vs_portal.q3}; ${goals.backup_vs_portal.min}–${goals.backup_vs_portal.max}; goal ≤ 0.45×).`);
if (goals.recovery_vs_sequential) L(`Drive recovery ÷ its sequential form (the same three requests one after another, which is Portal's recovery order), per round: median ${goals.recovery_vs_sequential.median}× (IQR ${goals.recovery_vs_sequential.q1}–${goals.recovery_vs_sequential.q3}; ${goals.recovery_vs_sequential.min}–${goals.recovery_vs_sequential.max}; goal ≤ 0.6×).`);
const signIns = Object.values(summary).reduce((n, x) => n + x.icloud_sign_ins, 0);
if (METHODS.includes('ICLOUD')) L(`iCloud: ${signIns === 0 ? 'no flow needed a sign-in' : `${signIns} sign-in(s) asked for`} (the page kept the newest web auth token each answer carried).`);
if (pw) {
  const waited = pw.critical.reduce((a, c) => a + c.ms, 0);
  L(`Password backup: ${Math.round(pw.wall.median)} ms, of which the \`encrypt\` step (Argon2id, then AES-GCM) ${Math.round(pw.encrypt.median)} ms (${Math.round((100 * pw.encrypt.median) / pw.wall.median)}%), medians; the median run (${Math.round(pw.example_wall)} ms) waited on requests for ${Math.round(waited)} ms (its critical path, ${Math.round((100 * waited) / pw.example_wall)}%), and some request was in flight for ${Math.round(pw.network.median)} ms (median; requests beside Argon2id count there, not in the wait).`);
}
L('', 'Where the time goes: the critical path of each median run (the requests that waited on each other, first to last, each',
  'with its ms, preflight included), the time it leaves to local work (encryption, Argon2id, the package\'s own code, the',
  'passkey ceremony), and the requests that ran beside it, off the path:', '');
for (const key of order) {
  const s = summary[key];
  const pathMs = s.critical.reduce((a, c) => a + c.ms, 0);
  const wall = s.example_wall;
  const bySvc = {};
  for (const c of s.critical) bySvc[c.service] = (bySvc[c.service] ?? 0) + c.ms;
  const off = s.example_timeline.requests.filter((r) => !r.critical).map(callName);
  L(`- **${s.method}${s.side === 'portal' ? " (Portal's order)" : ''} ${LABEL[s.flow]}** (${Math.round(wall)} ms): ${s.critical.map((c) => `${c.call} ${Math.round(c.ms)}${c.preflight_ms > 1 ? ` (preflight ${Math.round(c.preflight_ms)})` : ''}`).join(' → ') || '–'}; `
    + `${Object.entries(bySvc).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')}${s.critical.length ? ', ' : ''}local and gaps ${Math.round(Math.max(0, wall - pathMs))}. Beside it: ${off.join(', ') || 'nothing'}.`);
}
const profileRows = describeProfile(PROFILE);
if (profileRows.length) {
  L('', `The profile (\`tests/standins/latency.mjs\`, where each source is quoted in full); each draw is uniform in [min, median] or [median, max], half the time each:`, '',
    '| service | operation | median ms | range ms |', '| --- | --- | ---: | --- |');
  for (const r of profileRows) L(`| ${r.service} | ${r.method === '*' ? '' : `${r.method} `}${r.op} | ${r.ms} | ${r.min}–${r.max} |`);
}

const result = {
  started, finished: { at: new Date().toISOString(), loadavg: loadavg().map((x) => x.toFixed(2)) },
  commit: sh('git rev-parse --short HEAD') + (sh('git status --porcelain --untracked-files=no') ? ' (with uncommitted changes)' : ''), chromium: chromiumVersion, profile: PROFILE, runs: RUNS, package: pkgInfo,
  goals, summary, lines,
};
writeFileSync(`${OUT}walltime.json`, JSON.stringify(result, null, 2));
console.log(lines.join('\n'));
