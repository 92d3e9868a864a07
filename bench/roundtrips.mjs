// 4. Round trips: backupWallet / recoverWallet / checkBackup /
// changeBackupKey in headless Chromium against the Drive, iCloud (CloudKit)
// and Portal stand-ins and the real Worker (workerd via Miniflare), for
// GDRIVE, ICLOUD, PASSWORD and PASSKEY. Requests and their intervals come
// from Chromium over the DevTools protocol (one clock for every host, CORS
// preflights included); the Portal stand-in's log and a logging proxy in
// front of the Worker tell the Worker's own calls to Portal apart. Each
// service is counted as its own host: iCloud's requests are the CloudKit
// stand-in's, never Drive's.
// PASSKEY: a CDP virtual authenticator (CTAP2, internal, PRF) answers the
// WebAuthn ceremonies, which are local; the page runs on localhost, since
// WebAuthn takes no IP address as its relying party id.
// ICLOUD: the page keeps the newest CloudKit web auth token as an app
// would (bench/page/icloud-session.js); a sign-in the package asks for is
// counted, and a working flow needs none.
// Usage: node bench/roundtrips.mjs   → bench/out/roundtrips.json
// ROUNDTRIPS_METHODS (default "GDRIVE ICLOUD PASSWORD PASSKEY") and
// ROUNDTRIPS_FLOWS (default "backup recover check change") pick a subset.
import { createServer, request as httpRequest, Agent } from 'node:http';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startPortal, backupSharePairId } from '../tests/standins/portal.mjs';
import { startDrive } from '../tests/standins/drive.mjs';
import { DEFAULT_ICLOUD_API_TOKEN, DEFAULT_ICLOUD_CONTAINER, DEFAULT_ICLOUD_ENVIRONMENT, startICloud } from '../tests/standins/icloud.mjs';
import { startWorker } from './lib/workers.mjs';
import { startStatic } from './lib/static-server.mjs';
import { cloudKitOps, launchChromium } from './lib/chromium.mjs';
import { median, round } from './lib/stats.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const QUICK = process.env.BENCH_QUICK === '1';
const PAGE_PORT = 8800; // the Worker's ALLOWED_ORIGINS names http://localhost:8800 (bench/lib/workers.mjs)
const PAGE_ORIGIN = `http://localhost:${PAGE_PORT}`;
const now = () => performance.timeOrigin + performance.now();
const METHODS = (process.env.ROUNDTRIPS_METHODS ?? 'GDRIVE ICLOUD PASSWORD PASSKEY').split(/[\s,]+/).filter(Boolean);
const FLOWS = (process.env.ROUNDTRIPS_FLOWS ?? 'backup recover check change').split(/[\s,]+/).filter(Boolean);
const LABEL = { backup: 'backup', recover: 'recovery', check: 'checkBackup', change: 'changeBackupKey' };
for (const f of FLOWS) if (!LABEL[f]) throw new Error(`ROUNDTRIPS_FLOWS: unknown flow ${f} (backup, recover, check, change)`);
const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'battery staple correct horse';

function loggingProxy(target) {
  const log = [];
  const agent = new Agent({ keepAlive: true });
  const server = createServer((req, res) => {
    const entry = { service: 'worker', method: req.method, path: req.url, start: now(), end: null, status: null };
    log.push(entry);
    const upstream = httpRequest(`${target}${req.url}`, { method: req.method, headers: { ...req.headers, host: new URL(target).host }, agent }, (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
      res.on('finish', () => { entry.end = now(); entry.status = up.statusCode; });
    });
    upstream.on('error', () => { res.destroy(); entry.end = now(); });
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`, log,
    close: () => new Promise((r) => { agent.destroy(); server.closeAllConnections?.(); server.close(r); }),
  })));
}

/** Groups of overlapping intervals, in time order. */
function sequentialGroups(entries) {
  const sorted = [...entries].sort((a, b) => a.start - b.start);
  const groups = [];
  for (const e of sorted) {
    const last = groups.at(-1);
    if (last && e.start < last.end) { last.items.push(e); last.end = Math.max(last.end, e.end); }
    else groups.push({ start: e.start, end: e.end, items: [e] });
  }
  return groups;
}

const serviceOf = (url) => (url.startsWith(drive.url) ? 'drive' : icloud && url.startsWith(icloud.url) ? 'icloud'
  : portal && url.startsWith(portal.url) ? 'portal' : proxy && url.startsWith(proxy.url) ? 'worker' : url);
/**
 * The longest chain of requests each of which started after the previous one
 * ended: the round trips on the critical path (a request that starts only
 * after another finished is counted as waiting on it). Overlap groups can
 * undercount two chains running side by side; this cannot.
 */
function longestChain(nodes) {
  const sorted = [...nodes].sort((a, b) => a.end - b.end);
  const best = new Map();
  for (const n of sorted) {
    let prev = null;
    for (const m of sorted) if (m.end <= n.start && best.has(m) && (!prev || best.get(m).length > best.get(prev).length)) prev = m;
    best.set(n, prev ? [...best.get(prev), n] : [n]);
  }
  return [...best.values()].reduce((a, b) => (b.length > a.length ? b : a), []);
}

// CloudKit paths name the container and environment: shortened to the database.
const shortPath = (path) => path.replace(/\?.*/, '').replace(/^\/database\/1\/[^/]+\/[^/]+\//, '/…/');
const describe = (e) => `${e.service} ${e.method} ${shortPath(e.path)}${e.ops ? ` (${e.ops})` : ''}${e.method === 'OPTIONS' ? ' (preflight)' : ''}`;

const portalWebhookSecret = randomBytes(24).toString('hex');
const shareKeys = `bench1:${randomBytes(32).toString('base64')}`;
const CLIENT = 'client-alice';
// Each method's own backup share pairs, as Portal lists them: Portal then
// delivers that method's custodian share, which checkBackup looks for.
const shares = { SECP256K1: randomBytes(2000).toString('hex'), ED25519: randomBytes(2000).toString('hex') };
const clientBackupFor = (method) => JSON.stringify(Object.fromEntries(Object.entries(shares)
  .map(([curve, share]) => [curve, { id: backupSharePairId(CLIENT, curve, method), share }])));

const drive = await startDrive({ port: 0, host: '127.0.0.1' });
let icloud, portal, worker, proxy, page, browser, server;
const result = { methods: {} };
try {
  icloud = await startICloud({ port: 0, host: '127.0.0.1' });
  // Portal's webhooks go straight to the Worker (Portal → Worker, not the browser's).
  const workerPort = 18000 + Math.floor(Math.random() * 1000);
  portal = await startPortal({ port: 0, host: '127.0.0.1', webhookUrl: `http://127.0.0.1:${workerPort}/webhooks`, webhookSecret: portalWebhookSecret });
  // One client backs up 18 times here, 3 writes each: above the 30 a minute
  // a client may write in production (tests/worker/limits.test.mjs tests that).
  worker = await startWorker({ kind: 'rust', port: workerPort, portalUrl: portal.url, webhookSecret: portalWebhookSecret, shareKeys, rateLimits: { CLIENT_WRITES: 1000 } });
  proxy = await loggingProxy(worker.url);
  server = await startStatic(ROOT, { port: PAGE_PORT });
  ({ browser } = await launchChromium());
  page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  // The browser's own view of every request (preflights included), on one
  // monotonic clock: Chromium's DevTools protocol.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', { options: { protocol: 'ctap2', ctap2Version: 'ctap2_1', transport: 'internal',
    hasResidentKey: true, hasUserVerification: true, isUserVerified: true, hasPrf: true, automaticPresenceSimulation: true } });
  const net = new Map();
  cdp.on('Network.requestWillBeSent', (e) => {
    // One id can be announced twice (a preflight and its request may share
    // it); keep each request's first start.
    const key = `${e.requestId} ${e.request.method}`;
    if (!net.has(key)) net.set(key, { id: e.requestId, method: e.request.method, url: e.request.url, type: e.type, start: e.timestamp * 1000, end: null, postData: e.request.postData,
      contentType: Object.entries(e.request.headers ?? {}).find(([k]) => k.toLowerCase() === 'content-type')?.[1] });
  });
  if (process.env.BENCH_DEBUG_CDP) for (const ev of ['Network.requestWillBeSent', 'Network.loadingFinished', 'Network.responseReceived']) cdp.on(ev, (e) => { if (e.request?.method === 'OPTIONS' || e.type === 'Preflight' || String(e.requestId).includes('reflight')) console.error(ev, e.requestId, e.type, e.request?.method, round((e.timestamp % 1000) * 1000, 1)); });
  const finish = (e) => { for (const r of net.values()) if (r.id === e.requestId && r.end === null) r.end = e.timestamp * 1000; };
  cdp.on('Network.loadingFinished', finish);
  // A preflight is done when its answer's headers arrive (it has no body).
  // A request is answered for the page once its response headers are in:
  // Chromium may report a small body's loadingFinished after the page has
  // already read it and sent the request that waited on it (a 204 PATCH
  // then /notify), which would hide that wait.
  cdp.on('Network.responseReceived', (e) => {
    if (e.type === 'Preflight') return finish(e);
    for (const r of net.values()) if (r.id === e.requestId && r.method !== 'OPTIONS') r.headersAt ??= e.timestamp * 1000;
  });
  cdp.on('Network.loadingFailed', finish);
  globalThis.__net = net;
  await page.goto(`${PAGE_ORIGIN}/bench/page/flows.html`);
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 60_000 });

  const control = (service, path, method = 'POST', body) => fetch(`${service.url}/__control/${path}`, {
    method, headers: body ? { 'Content-Type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined,
  }).then((r) => r.json().catch(() => null));
  // The passkey the first PASSKEY backup made: later backups use it, as a
  // wallet would (credentialId), instead of making a new one each time.
  // changeBackupKey moves the backup to another passkey: the first change
  // to a new one (no credentialId), later ones to that one (Chromium's
  // virtual authenticator holds 3 discoverable credentials: a fourth
  // `create` is NotAllowedError, so not a new passkey every run).
  let passkey, movedTo;
  async function runFlow(flow, method) {
    const clientBackup = clientBackupFor(method);
    await control(drive, 'log/clear'); await control(portal, 'log/clear'); proxy.log.length = 0;
    globalThis.__net.clear();
    // What a sign-in would give, issued from here (no request of the page):
    // the page uses it for its first call and if the package asks again.
    const icloudOptions = method === 'ICLOUD' ? { icloud: { apiUrl: icloud.url, container: DEFAULT_ICLOUD_CONTAINER, environment: DEFAULT_ICLOUD_ENVIRONMENT,
      apiToken: DEFAULT_ICLOUD_API_TOKEN, signInToken: (await control(icloud, 'tokens', 'POST', { user: 'alice' })).token } } : {};
    // A backup or a recovery opens with PASSWORD; changeBackupKey seals under
    // NEW_PASSWORD, and the next round's backup goes back to PASSWORD.
    const options = { clientId: CLIENT, portalToken: 'test-token-alice', serverUrl: proxy.url, method, custodianId: 'custodian-demo',
      portalApiUrl: portal.url, driveApiUrl: drive.url, driveToken: 'drive-token-alice', password: PASSWORD, ...icloudOptions,
      ...(flow === 'recover' || flow === 'change' ? {} : { clientBackup }), ...(flow === 'backup' && passkey ? { credentialId: passkey } : {}),
      ...(flow === 'change' && method === 'PASSKEY' && movedTo ? { credentialId: movedTo } : {}),
      ...(flow === 'change' && method === 'PASSWORD' ? { newPassword: NEW_PASSWORD } : {}) };
    const answer = await page.evaluate(async ([flow, options]) => {
      const t0 = performance.now();
      const r = await window.flows[flow](options);
      return { wall_ms: performance.now() - t0, r: JSON.parse(JSON.stringify(r)), progress: window.progress, icloudSignIns: window.icloudSignIns };
    }, [flow, options]).catch(async (e) => {
      const steps = await page.evaluate(() => window.progress.map((p) => `${p.step}:${p.phase}`).join(' ')).catch(() => '?');
      throw new Error(`${method} ${LABEL[flow]}: ${e.message} (progress: ${steps})`);
    });
    if (flow === 'recover' && answer.r.clientBackup !== clientBackup) throw new Error('recovered plaintext differs');
    if (flow === 'backup' && method === 'PASSKEY') passkey ??= answer.r.credentialId;
    if (flow === 'change' && method === 'PASSKEY') movedTo ??= answer.r.credentialId;
    if (flow === 'check' && !(answer.r.recoverable && answer.r.problems.length === 0)) throw new Error(`checkBackup found problems: ${JSON.stringify(answer.r)}`);
    if (flow === 'change' && !(answer.r.backupId && answer.r.method === method)) throw new Error(`changeBackupKey answered ${JSON.stringify(answer.r)}`);
    await control(portal, 'webhooks', 'GET'); // waits for Portal's webhook calls in flight
    // CDP's events trail the page: the last request's answer (a DELETE's
    // 204, say) may not be reported yet when the flow resolved. Wait for
    // every request the page sent to be answered (2 s at most).
    const unanswered = () => [...net.values()].some((r) => !r.url.startsWith(PAGE_ORIGIN) && r.end === null && r.headersAt === undefined);
    for (const t0 = Date.now(); unanswered() && Date.now() - t0 < 2000; ) await new Promise((resolve) => setTimeout(resolve, 20));
    // The browser's requests (DevTools protocol: one monotonic clock, preflights included).
    const answeredAt = (r) => Math.min(r.end ?? Infinity, r.headersAt ?? Infinity);
    const seen = [...globalThis.__net.values()].filter((r) => !r.url.startsWith(PAGE_ORIGIN) && answeredAt(r) !== Infinity && answeredAt(r) >= r.start)
      .map((r) => ({ service: serviceOf(r.url), method: r.method, path: new URL(r.url).pathname, start: r.start, end: answeredAt(r), preflight: r.method === 'OPTIONS',
        ops: serviceOf(r.url) === 'icloud' && r.method === 'POST' ? cloudKitOps(r.postData) : '', contentType: r.contentType }));
    const requests = seen.filter((r) => !r.preflight);
    const preflights = seen.filter((r) => r.preflight);
    // A request's interval runs from the page's fetch() to its answer, so
    // it already covers its own preflight; a preflight is still one more
    // wait on the path, counted separately below.
    const groups = sequentialGroups(requests).map((g) => ({ ...g, preflights: preflights.filter((p) => p.start >= g.start && p.start <= g.end) }));
    const chain = longestChain(requests);
    // With preflights: a request that had one really starts when it ends.
    const withPre = requests.map((r) => {
      const pre = preflights.find((p) => p.service === r.service && p.path === r.path && p.start >= r.start && p.end <= r.end);
      return pre ? { ...r, start: pre.end } : r;
    });
    const chainPre = longestChain([...withPre, ...preflights]);
    // The Worker's own calls to Portal: in the Portal stand-in's log, inside
    // one of the Worker's requests (proxy log), never made by the page.
    const portalLog = await control(portal, 'log', 'GET');
    const workerLog = proxy.log.filter((e) => e.end !== null);
    const pagePortalCalls = requests.filter((r) => r.service === 'portal').length + preflights.filter((r) => r.service === 'portal').length;
    const inner = portalLog.filter((p) => p.method !== 'OPTIONS' && workerLog.some((w) => p.start >= w.start && p.end <= w.end));
    const byService = {};
    for (const r of requests) byService[r.service] = (byService[r.service] ?? 0) + 1;
    const icloudTypes = [...new Set(requests.filter((r) => r.service === 'icloud' && r.method === 'POST').map((r) => r.contentType ?? 'none'))];
    return { wall_ms: answer.wall_ms, sequential: chain.length, with_preflights: chainPre.length, overlap_groups: groups.length,
      chain: chainPre.map((e) => `${describe(e)} (${round(e.end - e.start, 1)} ms)`),
      requests: requests.length, preflights: preflights.length, by_service: byService, icloud_sign_ins: answer.icloudSignIns ?? 0, icloud_content_types: icloudTypes,
      icloud_preflights: preflights.filter((r) => r.service === 'icloud').length,
      portal_log_total: portalLog.length, page_portal_calls: pagePortalCalls,
      groups: groups.map((g) => ({ ms: round(g.end - g.start, 1), items: g.items.map(describe), preflights: g.preflights.map(describe) })),
      worker_inner: inner.map((e) => `${e.method} ${e.path}`), progress: answer.progress.map((p) => `${p.step}:${p.phase}`) };
  }

  const reps = QUICK ? 2 : 5;
  // Each method in turn: backup, recovery, check, key change, in that order
  // (the key change needs the backup; the next backup replaces the re-keyed one).
  const needs = ['backup', ...FLOWS.filter((f) => f !== 'backup')];
  for (const method of METHODS) {
    // The first run in a fresh page: no preflight cached yet.
    const cold = {};
    for (const flow of needs) cold[flow] = await runFlow(flow, method);
    const runs = Object.fromEntries(needs.map((f) => [f, []]));
    for (let i = 0; i < reps; i++) for (const flow of needs) runs[flow].push(await runFlow(flow, method));
    const sum = (list, first) => ({ sequential: median(list.map((r) => r.sequential)), sequential_all: list.map((r) => r.sequential),
      overlap_groups: median(list.map((r) => r.overlap_groups)),
      with_preflights: median(list.map((r) => r.with_preflights)), requests: median(list.map((r) => r.requests)), preflights: median(list.map((r) => r.preflights)),
      by_service: list.at(-1).by_service, icloud_sign_ins: [first, ...list].reduce((n, r) => n + r.icloud_sign_ins, 0),
      page_portal_calls: Math.max(...[first, ...list].map((r) => r.page_portal_calls)),
      worker_portal_calls: Math.max(...[first, ...list].map((r) => r.worker_inner.length)),
      wall_ms: round(median(list.map((r) => r.wall_ms)), 1), example: list.at(-1), cold: first });
    result.methods[method] = Object.fromEntries(FLOWS.map((f) => [f, sum(runs[f], cold[f])]));
    console.error(`${method}: ${FLOWS.map((f) => `${LABEL[f]} ${result.methods[method][f].sequential} sequential (${result.methods[method][f].wall_ms} ms)`).join(', ')}`);
  }
} finally {
  await browser?.close(); await server?.close(); await proxy?.close(); await worker?.stop(); await portal?.close(); await icloud?.close(); await drive.close();
}

const g = result.methods.GDRIVE;
if (g?.backup) result.backup = { sequential: g.backup.sequential };
if (g?.recover) result.recovery = { sequential: g.recover.sequential };
const checks = Object.values(result.methods).filter((m) => m.check);
if (checks.length) result.check = { sequential: Math.max(...checks.map((m) => m.check.sequential)) };
result.methods_run = METHODS;
result.flows_run = FLOWS;
const lines = [
  'Headless Chromium runs `backupWallet`, `recoverWallet`, `checkBackup` and `changeBackupKey` from the npm package (`scripts/build`\'s web target, built into `bench/out/pkg/web`) against the Drive, iCloud (CloudKit) and Portal',
  'stand-ins and the real Worker (workerd via Miniflare, in-memory KV), all on 127.0.0.1, each its own host. Request intervals (the page\'s',
  '`fetch()` to its response headers, or its last byte if Chromium reports that first) come from Chromium itself over the DevTools protocol, one clock for every host. Sequential',
  'round trips = the longest chain of requests in which each started only after the previous one ended (requests that',
  'overlap count once); "overlap groups" (merging every overlapping interval) is shown as a lower bound, since two chains',
  'running side by side merge there. CORS preflights: a request that needs one waits for it, so "with preflights" puts',
  'each preflight in the chain as its own round trip. Chromium caches a preflight per URL (the Worker allows 10 min), so',
  'the first run in a fresh page pays more of them; Drive key files get new URLs every backup, so theirs recur. The',
  'Worker\'s own calls to Portal (from the Portal stand-in\'s log, inside a Worker request) are listed apart.',
  'A CloudKit request carries a new web auth token in its URL each time (a token is good for one request), so Chromium\'s',
  'preflight cache never answers for one: every CloudKit request the page sends with a preflight pays it, warm runs too.',
  `Medians of ${QUICK ? 2 : 5} runs after the first (cold) run; wall time is the page's call to the function. Per method, each run does a`,
  'backup, a recovery, a check and a key change, in that order (a password change goes to another password, a passkey change to',
  'another passkey, made by the first change; a Drive or iCloud change to a fresh key in a new file or record; the next backup',
  'replaces the re-keyed version).', '',
  '| method | flow | sequential round trips | with preflights | overlap groups | requests + preflights | wall ms | first run: round trips / with preflights / wall ms | Worker → Portal inside |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |',
];
for (const [method, r] of Object.entries(result.methods)) {
  for (const [flow, label] of FLOWS.map((f) => [f, LABEL[f]])) {
    const x = r[flow];
    lines.push(`| ${method} | ${label} | **${x.sequential}** (runs: ${x.sequential_all.join(', ')}) | ${x.with_preflights} | ${x.overlap_groups} | ${x.requests} + ${x.preflights} | ${x.wall_ms} | ${x.cold.sequential} / ${x.cold.with_preflights} / ${round(x.cold.wall_ms, 1)} | ${x.example.worker_inner.join('; ') || '–'}${x.cold.worker_inner.join() !== x.example.worker_inner.join() ? ` (first run: ${x.cold.worker_inner.join('; ') || '–'})` : ''} |`);
  }
}
for (const [method, r] of Object.entries(result.methods)) {
  for (const [flow, label] of FLOWS.map((f) => [f, LABEL[f]])) {
    lines.push('', `${method} ${label}, one warm run: every request, grouped where they overlap (∥ = in parallel); then its longest chain.`, '');
    r[flow].example.groups.forEach((grp, i) => lines.push(`${i + 1}. ${grp.items.join(' ∥ ')}${grp.preflights.length ? ` — preflights: ${grp.preflights.join(', ')}` : ''} (${grp.ms} ms)`));
    lines.push('', `Longest chain, preflights included: ${r[flow].example.chain.join(' → ')}.`);
  }
}
// Derived backups read the Worker's list beside Argon2id or the passkey
// prompt (src/browser/flows.rs, `beside`); nothing waits for it, but when
// it ends before the PUT starts, the chain (requests in time order) counts
// it as one more round trip.
for (const method of ['PASSWORD', 'PASSKEY']) {
  const b = result.methods[method]?.backup;
  const heads = (chain) => /^worker GET \/v1\/client-backups \(/.test(chain?.[0] ?? '');
  if (b && (heads(b.example.chain) || heads(b.cold?.chain) || b.sequential > 3)) {
    lines.push(`${method} backup: the Worker read started beside ${method === 'PASSWORD' ? 'Argon2id' : 'the passkey ceremony'} (a CORS preflight and the Worker's token check paid early) heads the chain in some runs: it ended before the PUT started, so the chain, which orders requests by time, counts it, though the PUT does not wait for it (a PUT ready first leaves it behind)${method === 'PASSKEY' ? '; the virtual authenticator answers within a few ms, so the two race here, where a person takes longer than one Worker round trip' : ''}.`);
  }
}
const changes = Object.entries(result.methods).filter(([, m]) => m.change);
const signIns = Object.entries(result.methods).reduce((n, [, m]) => n + Object.values(m).reduce((k, x) => k + x.icloud_sign_ins, 0), 0);
lines.push('', 'Portal\'s SDK, for comparison, takes 9 sequential round trips for a Google Drive backup.',
  'Password flows spend most of their wall time in Argon2id (part 3; a password change runs it twice, for the current and the new',
  'password). Passkey flows: a CDP virtual authenticator answers the WebAuthn ceremonies (local, no request); the first backup',
  'makes the passkey, later ones name it (`credentialId`).');
if (changes.length) {
  const asked = changes.filter(([, m]) => m.change.page_portal_calls > 0 || m.change.worker_portal_calls > 0);
  lines.push(asked.length
    ? `changeBackupKey called Portal in ${asked.map(([method, m]) => `${method} (page ${m.change.page_portal_calls}, Worker ${m.change.worker_portal_calls})`).join(', ')}: it should ask Portal nothing.`
    : `changeBackupKey asked Portal nothing in any run (${changes.map(([method]) => method).join(', ')}): no request from the page, none from the Worker inside its requests.`);
}
const ic = result.methods.ICLOUD;
if (ic) {
  const types = [...new Set(Object.values(ic).flatMap((x) => x.example.icloud_content_types))];
  const pre = Object.entries(ic).map(([flow, x]) => `${LABEL[flow]} ${x.example.icloud_preflights}`).join(', ');
  result.icloud_preflights = Object.fromEntries(Object.entries(ic).map(([flow, x]) => [flow, x.example.icloud_preflights]));
  result.icloud_content_types = types;
  lines.push(`CloudKit preflights in a warm run: ${pre}. The package's CloudKit POSTs carry Content-Type ${types.map((t) => `\`${t}\``).join(', ')}${types.every((t) => /^text\/plain\b/i.test(t)) ? '' : '; as `text/plain` (the token rides in the query string and no other header is set; whether CloudKit accepts a `text/plain` body the reference does not say, so the package keeps JSON) each would be a CORS simple request, with no preflight'}.`);
}
if (ic) lines.push(`iCloud: ${signIns === 0 ? 'no flow needed a sign-in' : `${signIns} sign-in(s) asked for`} (the page kept the newest web auth token each answer carried, as docs/BROWSER.md asks of an app).`);
result.lines = lines;
writeFileSync(new URL('out/roundtrips.json', import.meta.url), JSON.stringify(result, null, 2));
console.log(lines.join('\n'));
