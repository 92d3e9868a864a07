// 5. Worker throughput: the Rust Worker vs the JS Worker (bench/js-worker),
//    16 connections, runs alternating A B A B after a warm-up.
// 7. Scale: webhook and fetch p50 with 10 vs 100,000 clients preloaded into
//    on-disk local KV with real sealed records.
// Both Workers run in workerd through Miniflare; the Portal stand-in answers
// the token check and the PATCH after a PUT.
// Usage: node bench/worker-load.mjs throughput|scale   → bench/out/<mode>.json
import { createCipheriv, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPortal, backupSharePairId } from '../tests/standins/portal.mjs';
import { startWorker, WORKERS } from './lib/workers.mjs';
import { wrk } from './lib/wrk.mjs';
import { median, quantile, round } from './lib/stats.mjs';

const OUT = fileURLToPath(new URL('out/', import.meta.url));
const mode = process.argv[2];
const QUICK = process.env.BENCH_QUICK === '1';
const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const webhookSecret = randomBytes(24).toString('hex');
const shareKeyBytes = randomBytes(32);
const shareKeys = `bench1:${shareKeyBytes.toString('base64')}`;
const TOKEN = 'test-token-alice';
const CLIENT = 'client-alice';

// A custodian share as Portal sends it: a JSON object in a string (~2 KB).
const custodianShare = (clientId, method) => JSON.stringify({ clientId, backupMethod: method, share: randomBytes(700).toString('hex'), signingShare: randomBytes(256).toString('hex') });
// A client backup envelope of an 8 KiB share (header only is checked by the Worker).
const envelopeText = () => b64url(Buffer.concat([Buffer.from('PBAK'), Buffer.from([1, 1]), randomBytes(12), randomBytes(8 * 1024 + 16)]));

const webhookHeaders = { 'X-Webhook-Secret': webhookSecret, 'Content-Type': 'application/json' };
const clientHeaders = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };

async function post(url, body, headers, method = 'POST') {
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: await r.json().catch(() => null) };
}

function summarize(runs) {
  return { rps: round(median(runs.map((r) => r.rps)), 0), cpu_us_per_req: round(median(runs.map((r) => r.cpu_us_per_req)), 0), p50_ms: round(median(runs.map((r) => r.p50_ms)), 2), p99_ms: round(median(runs.map((r) => r.p99_ms)), 2),
    requests: runs.reduce((s, r) => s + r.requests, 0), non2xx: runs.reduce((s, r) => s + r.non2xx, 0), errors: runs.reduce((s, r) => s + r.errors, 0),
    bad: Object.entries(runs.reduce((acc, r) => { for (const [code, n] of Object.entries(r.statuses ?? {})) if (!code.startsWith('2')) acc[code] = (acc[code] ?? 0) + n; return acc; }, {}))
      .map(([code, n]) => `${n}×${code}`).join(' ') };
}

async function throughput() {
  const portal = await startPortal({ port: 0, host: '127.0.0.1' }); // no webhookUrl: the PATCH does not call back
  const workers = {};
  try {
    // CLIENT_WRITES raised (as tests not about limits do): the PUT load is one
    // client writing thousands of times a minute. Both Workers still call the
    // binding on every write.
    // BENCH_RUST_SCRIPT: another Rust bundle's index.js (inside the project,
    // e.g. the committed tree built under bench/out while the working tree
    // holds uncommitted Worker changes); worker/build by default.
    for (const kind of ['rust', 'js']) {
      const scriptPath = kind === 'rust' ? process.env.BENCH_RUST_SCRIPT : undefined;
      workers[kind] = await startWorker({ kind, scriptPath, port: 0, portalUrl: portal.url, webhookSecret, shareKeys, rateLimits: { CLIENT_WRITES: 1_000_000_000 } });
    }
    const pairIds = [backupSharePairId(CLIENT, 'SECP256K1'), backupSharePairId(CLIENT, 'ED25519')];
    const putBody = { cipherText: envelopeText(), backupSharePairIds: pairIds };
    const seedShares = Object.fromEntries(['GDRIVE-SECP256K1', 'GDRIVE-ED25519'].map((m) => [m, custodianShare(CLIENT, m)]));
    // Seed and check that both answer the same way: statuses, error codes and
    // headers, the shares given back, the shape of every body.
    const shape = (value) => (Array.isArray(value) ? value.map(shape) : value && typeof value === 'object'
      ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)])) : typeof value);
    const checks = {};
    for (const [kind, w] of Object.entries(workers)) {
      for (const [method, share] of Object.entries(seedShares)) {
        const r = await post(`${w.url}/webhooks/backup`, { clientId: CLIENT, backupMethod: method, share }, webhookHeaders);
        if (r.status !== 200) throw new Error(`${kind} webhook seed: ${r.status} ${JSON.stringify(r.body)}`);
      }
      const put = await post(`${w.url}/v1/client-backups/GDRIVE`, putBody, clientHeaders, 'PUT');
      if (put.status !== 201) throw new Error(`${kind} PUT seed: ${put.status} ${JSON.stringify(put.body)}`);
      const fetched = await post(`${w.url}/webhooks/backup/fetch`, { clientId: CLIENT }, webhookHeaders);
      const got = await fetch(`${w.url}/v1/client-backups/GDRIVE`, { headers: clientHeaders });
      const gotBody = await got.json();
      const list = await post(`${w.url}/v1/client-backups`, undefined, clientHeaders, 'GET');
      const wrongSecret = await fetch(`${w.url}/webhooks/backup/fetch`, { method: 'POST', headers: { ...webhookHeaders, 'X-Webhook-Secret': 'wrong' }, body: '{}' });
      const unsupported = await post(`${w.url}/v1/client-backups/OTHER`, undefined, clientHeaders, 'GET');
      checks[kind] = {
        put: put.status, putBody: shape(put.body), portalNotified: put.body.backup.portalNotified,
        fetch: fetched.status, fetchedSharesAsSent: JSON.stringify(fetched.body?.backupShares) === JSON.stringify(Object.keys(seedShares).sort().map((m) => seedShares[m])),
        get: got.status, getBody: shape(gotBody), cipherTextAsSent: gotBody.current?.cipherText === putBody.cipherText,
        list: list.status, listed: list.body?.backups?.map((b) => b.backupMethod),
        wrongSecret: [wrongSecret.status, (await wrongSecret.json()).error?.code],
        unsupportedMethod: [unsupported.status, unsupported.body?.error?.code],
      };
      if (!checks[kind].fetchedSharesAsSent || !checks[kind].cipherTextAsSent) throw new Error(`${kind} seed check: ${JSON.stringify(checks[kind])}`);
    }
    // Both answer the seed the same way.
    if (JSON.stringify(checks.rust) !== JSON.stringify(checks.js)) throw new Error(`the Workers differ: ${JSON.stringify(checks)}`);
    const hookBodies = Array.from({ length: 64 }, (_, i) => JSON.stringify({ clientId: `client-load-${i}`, backupMethod: 'GDRIVE-SECP256K1', share: custodianShare(`client-load-${i}`, 'GDRIVE-SECP256K1') }));
    const routes = [
      { route: 'POST /{root}/backup', spec: { method: 'POST', path: '/webhooks/backup', headers: webhookHeaders, bodies: hookBodies } },
      { route: 'POST /{root}/backup/fetch', spec: { method: 'POST', path: '/webhooks/backup/fetch', headers: webhookHeaders, body: JSON.stringify({ clientId: CLIENT }) } },
      { route: 'PUT /v1/client-backups/{method}', spec: { method: 'PUT', path: '/v1/client-backups/GDRIVE', headers: clientHeaders, body: JSON.stringify(putBody) } },
      { route: 'GET /v1/client-backups/{method}', spec: { method: 'GET', path: '/v1/client-backups/GDRIVE', headers: { Authorization: `Bearer ${TOKEN}` } } },
    ];
    // At least 7 alternating pairs, so the spread of the per-pair ratios
    // tells noise from a real gap on a shared machine (BENCH_PAIRS overrides).
    const pairs = Number(process.env.BENCH_PAIRS ?? (QUICK ? 1 : 7));
    const seconds = Number(process.env.BENCH_SECONDS ?? (QUICK ? 4 : 10));
    const only = process.env.BENCH_ROUTES?.split(',');
    const results = [];
    for (const { route, spec } of routes.filter((r) => !only || only.some((o) => r.route.includes(o)))) {
      const scriptPath = join(OUT, 'wrk-route.lua');
      for (const kind of ['rust', 'js']) await wrk(workers[kind].url, spec, { seconds: QUICK ? 2 : 3, scriptPath }); // warm-up
      const runs = { rust: [], js: [] };
      for (let p = 0; p < pairs; p++) {
        for (const kind of ['rust', 'js']) {
          // workerd's CPU time over the run: less disturbed by other load on
          // the machine than req/s, since time spent descheduled is not counted.
          const cpuBefore = workers[kind].cpuSeconds();
          const run = await wrk(workers[kind].url, spec, { seconds, scriptPath });
          run.cpu_us_per_req = ((workers[kind].cpuSeconds() - cpuBefore) * 1e6) / run.requests;
          runs[kind].push(run);
          console.error(`${route} ${kind} pair ${p + 1}: ${round(run.rps, 0)} req/s, p99 ${round(run.p99_ms, 2)} ms, workerd CPU ${round(run.cpu_us_per_req, 0)} µs/req`);
        }
      }
      const pairRatios = runs.rust.map((r, i) => ({ rps: round(r.rps / runs.js[i].rps, 2), p99: round(r.p99_ms / runs.js[i].p99_ms, 2), cpu: round(r.cpu_us_per_req / runs.js[i].cpu_us_per_req, 2) }));
      const spread = (xs) => ({ min: round(Math.min(...xs), 2), q1: round(quantile(xs, 0.25), 2), q3: round(quantile(xs, 0.75), 2), max: round(Math.max(...xs), 2) });
      const rps = pairRatios.map((x) => x.rps);
      const cpu = pairRatios.map((x) => x.cpu);
      results.push({ route, rust: summarize(runs.rust), js: summarize(runs.js), pairs: pairRatios,
        ratio_rps: round(median(rps), 2), ratio_p99: round(median(pairRatios.map((x) => x.p99)), 2), ratio_cpu: round(median(cpu), 2),
        spread_rps: spread(rps), spread_cpu: spread(cpu), runs });
    }
    const commit = execFileSync('git', ['describe', '--always', '--dirty=+uncommitted'], { encoding: 'utf8' }).trim();
    const lines = [
      `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC at ${commit}${process.env.BENCH_RUST_SCRIPT ? ` (Rust bundle: ${process.env.BENCH_RUST_SCRIPT})` : ''}, load average ${loadavg().map((x) => x.toFixed(2)).join(' / ')} at the end.`,
      `Both Workers in workerd ${'(Miniflare ' + (await import('miniflare/package.json', { with: { type: 'json' } })).default.version + ')'} on this machine, in-memory KV, the Portal stand-in`,
      `(Node, same machine) answering the token check (cached 60 s by both) and the PATCH after each PUT. Load: wrk, 1 thread,`,
      `16 connections, ${seconds} s per run after a ${QUICK ? 2 : 3} s warm-up per Worker; ${pairs} pair(s) per route alternating Rust, JS, Rust, JS...`,
      `Ratio = Rust ÷ JS within each pair (req/s: higher is better for Rust; p99: lower is better); the table gives the median of the`,
      'per-pair ratios and their spread (interquartile range, then min–max): a spread that straddles 1.0 is noise, not a gap.',
      'CPU/req is the CPU time of the whole workerd process per request (the Worker, Miniflare\'s entry worker and its KV',
      'simulation, which the two Workers share), read from /proc; Rust ÷ JS below 1.0 is better for Rust. Time a run spends',
      'waiting for a CPU that others hold is not in it, so it is steadier than req/s on a shared machine.',
      'Webhook POSTs spread over 64 clients; the fetch returns 2 shares; PUT bodies carry an 8 KiB share envelope (11 KB of base64url).', '',
      '| route | Rust req/s | JS req/s | req/s ratio (median pair) | spread: IQR; min–max | CPU/req Rust / JS µs | CPU ratio (median pair; IQR; min–max) | Rust p50 / p99 ms | JS p50 / p99 ms | p99 ratio | every pair (req/s ratio/p99 ratio) | non-2xx or socket errors, Rust / JS |',
      '| --- | ---: | ---: | ---: | --- | --- | --- | --- | --- | ---: | --- | ---: |',
      ...results.map((r) => `| \`${r.route}\` | ${r.rust.rps} | ${r.js.rps} | ${r.ratio_rps}× | ${r.spread_rps.q1}–${r.spread_rps.q3}; ${r.spread_rps.min}–${r.spread_rps.max} | ${r.rust.cpu_us_per_req} / ${r.js.cpu_us_per_req} | ${r.ratio_cpu}×; ${r.spread_cpu.q1}–${r.spread_cpu.q3}; ${r.spread_cpu.min}–${r.spread_cpu.max} | ${r.rust.p50_ms} / ${r.rust.p99_ms} | ${r.js.p50_ms} / ${r.js.p99_ms} | ${r.ratio_p99}× | ${r.pairs.map((p) => `${p.rps}/${p.p99}`).join(', ')} | ${r.rust.non2xx + r.rust.errors}${r.rust.bad ? ` (${r.rust.bad})` : ''} / ${r.js.non2xx + r.js.errors}${r.js.bad ? ` (${r.js.bad})` : ''} of ${r.rust.requests} / ${r.js.requests} |`),
      '', `Seed check (both Workers answered alike): ${JSON.stringify(checks.rust)}.`,
      'The JS Worker (`bench/js-worker/index.js`) does the Rust one\'s work in plain JavaScript with the same bindings: the same',
      'token cache, SHA-256 + constant-time secret check (`crypto.subtle.timingSafeEqual`), the same Rate Limiting calls',
      '(`CLIENT_WRITES` on every write, `WEBHOOK_AUTH_FAILURES` on failed webhook auth; the bench raises `CLIENT_WRITES` for both),',
      'the same validation, AES-256-GCM record and AAD through `crypto.subtle`, a `BackupDirectory` Durable Object per client doing',
      'the same I/O: the object does every KV read and write, of write-once blobs only (`custodian/{clientId}/{method}/{version}`,',
      '`envelope/{clientId}/{method}/{backupId}`), written before they are named and read back by the object; its one storage',
      'value names them (and trashes replaced keys, deleted by its alarm 1.5 s later); the same message paths, and the routes',
      'whose answer the object writes pass it through; the same PATCH, then the object records it; one log line. The Rust',
      'object is a Worker script of its own (bound by name); the JS one shares its Worker\'s script (both run in one workerd here).',
    ];
    writeFileSync(join(OUT, 'throughput.json'), JSON.stringify({ routes: results, checks, lines }, null, 2));
  } finally {
    for (const w of Object.values(workers)) await w.stop();
    await portal.close();
  }
}

// The Rust Worker's at-rest record (worker/src/store/at_rest.rs), sealed here
// with the same key the Worker gets, so preloaded records really open.
function sealRecord(clientId, method, share) {
  const label = Buffer.from('portal-backup-worker/custodian-share/v1');
  const part = (s) => { const b = Buffer.from(s); const len = Buffer.alloc(4); len.writeUInt32BE(b.length); return Buffer.concat([len, b]); };
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', shareKeyBytes, nonce);
  cipher.setAAD(Buffer.concat([label, part(clientId), part(method)]));
  const sealed = Buffer.concat([cipher.update(share), cipher.final(), cipher.getAuthTag()]);
  return JSON.stringify({ v: 1, kid: 'bench1', nonce: b64url(nonce), ciphertext: b64url(sealed) });
}

// Writes N clients straight into Miniflare's on-disk KV (its SQLite index +
// blob files), the layout Miniflare itself writes; ~100x faster than 200,000
// puts through the KV API.
async function preload(dir, count) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const w = await startWorker({ kind: 'rust', port: 0, webhookSecret, shareKeys, kvPersist: dir });
  await (await w.kv()).put('bench/created', '1'); // creates the database and blob folder
  await w.stop();
  const dbDir = join(dir, 'miniflare-KVNamespaceObject');
  const db = join(dbDir, readdirSync(dbDir).find((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite'));
  const blobDir = join(dir, 'bench-shares-rust', 'blobs');
  const entries = [];
  const stamp = Date.now().toString(16).padStart(16, '0');
  const put = (key, value) => {
    const blobId = randomBytes(32).toString('hex') + stamp;
    writeFileSync(join(blobDir, blobId), value);
    entries.push(`${key}\t${blobId}`);
  };
  const method = 'GDRIVE-SECP256K1';
  for (let i = 0; i < count; i++) {
    const clientId = `client-${i}`;
    // As the Worker writes a delivery: a sealed record under a fresh
    // write-once key (worker/src/store/mod.rs). Which key is current lives in
    // the client's Durable Object, created by the real deliveries in scale().
    put(`custodian/${clientId}/${method}/${randomBytes(16).toString('hex')}`, sealRecord(clientId, method, custodianShare(clientId, method)));
  }
  writeFileSync(join(dir, 'entries.tsv'), entries.join('\n'));
  execFileSync('python3', ['-c', `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = (line.rstrip('\\n').split('\\t') for line in open(sys.argv[2]))
db.executemany('INSERT OR REPLACE INTO _mf_entries (key, blob_id, expiration, metadata) VALUES (?, ?, NULL, NULL)', rows)
db.commit()
`, db, join(dir, 'entries.tsv')]);
}

async function scale() {
  const sizes = QUICK ? [10, 10_000] : [10, 100_000];
  const workers = {};
  try {
    const picked = {};
    for (const n of sizes) {
      const t = performance.now();
      await preload(join(OUT, `kv-${n}`), n);
      console.error(`preloaded ${n} clients in ${round((performance.now() - t) / 1000, 1)} s`);
      workers[n] = await startWorker({ kind: 'rust', port: 0, webhookSecret, shareKeys, kvPersist: join(OUT, `kv-${n}`) });
      // The clients the load picks among get a real delivery first (their
      // Durable Object names it), and each opens back through the Worker.
      picked[n] = Array.from({ length: 256 }, () => `client-${Math.floor(Math.random() * n)}`);
      for (const clientId of new Set(picked[n])) {
        const share = custodianShare(clientId, 'GDRIVE-SECP256K1');
        const stored = await post(`${workers[n].url}/webhooks/backup`, { clientId, backupMethod: 'GDRIVE-SECP256K1', share }, webhookHeaders);
        const r = await post(`${workers[n].url}/webhooks/backup/fetch`, { clientId }, webhookHeaders);
        if (stored.status !== 200 || r.status !== 200 || r.body.backupShares[0] !== share) throw new Error(`delivery for ${clientId} did not read back: ${stored.status} ${r.status}`);
      }
    }
    const specs = (n) => [
      { route: 'POST /{root}/backup', spec: { method: 'POST', path: '/webhooks/backup', headers: webhookHeaders,
        bodies: picked[n].map((c) => JSON.stringify({ clientId: c, backupMethod: 'GDRIVE-SECP256K1', share: custodianShare(c, 'GDRIVE-SECP256K1') })) } },
      { route: 'POST /{root}/backup/fetch', spec: { method: 'POST', path: '/webhooks/backup/fetch', headers: webhookHeaders,
        bodies: picked[n].map((c) => JSON.stringify({ clientId: c })) } },
    ];
    const pairs = QUICK ? 1 : 3;
    const seconds = QUICK ? 4 : 8;
    const results = [];
    for (let r = 0; r < 2; r++) {
      const runs = Object.fromEntries(sizes.map((n) => [n, []]));
      const route = specs(sizes[0])[r].route;
      const scriptPath = join(OUT, 'wrk-scale.lua');
      for (const n of sizes) await wrk(workers[n].url, specs(n)[r].spec, { connections: 1, seconds: 2, scriptPath });
      for (let p = 0; p < pairs; p++) {
        for (const n of sizes) {
          runs[n].push(await wrk(workers[n].url, specs(n)[r].spec, { connections: 1, seconds, scriptPath }));
          console.error(`${route} ${n} clients: p50 ${round(runs[n].at(-1).p50_ms, 2)} ms`);
        }
      }
      const [small, large] = sizes;
      const pairRatios = runs[large].map((x, i) => round(x.p50_ms / runs[small][i].p50_ms, 2));
      results.push({ route, small: summarize(runs[small]), large: summarize(runs[large]), pairs: pairRatios, ratio: round(median(runs[large].map((x) => x.p50_ms)) / median(runs[small].map((x) => x.p50_ms)), 2), runs });
    }
    const [small, large] = sizes;
    const lines = [
      `The Rust Worker in workerd (Miniflare) with on-disk local KV holding ${small} and ${large.toLocaleString('en')} clients: per client a sealed`,
      'custodian share record under its write-once key (`custodian/{clientId}/GDRIVE-SECP256K1/{version}`, the Worker\'s own at-rest format,',
      'written into Miniflare\'s SQLite index and blob files directly). The 256 clients the load picks among first get a real delivery',
      '(their `BackupDirectory` Durable Object names it) and are read back through the Worker before timing. Load: wrk, 1 connection',
      `(latency, not throughput), ${seconds} s per run, ${pairs} pair(s) alternating the two stores.`, '',
      `| route | p50 ms, ${small} clients | p50 ms, ${large.toLocaleString('en')} clients | ratio | every pair | p99 ms (${small} / ${large.toLocaleString('en')}) |`,
      '| --- | ---: | ---: | ---: | --- | --- |',
      ...results.map((x) => `| \`${x.route}\` | ${x.small.p50_ms} | ${x.large.p50_ms} | ${x.ratio}× | ${x.pairs.join(', ')} | ${x.small.p99_ms} / ${x.large.p99_ms} |`),
      '', 'Local KV is SQLite on this machine\'s disk; Cloudflare\'s KV is a different store. Growth here comes from the Worker\'s',
      'own per-request work or from the local store (see Misses for which); it does not say how production KV scales.',
    ];
    writeFileSync(join(OUT, 'scale.json'), JSON.stringify({ sizes, routes: results, lines }, null, 2));
  } finally {
    for (const w of Object.values(workers)) await w.stop();
  }
}

if (mode === 'throughput') await throughput();
else if (mode === 'scale') await scale();
else { console.error('usage: node bench/worker-load.mjs throughput|scale'); process.exit(2); }
