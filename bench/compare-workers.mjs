// Compares Worker bundles by workerd CPU time per request: each bundle in
// its own workerd (Miniflare, as in the throughput part), seeded alike, then
// short wrk runs on a route, alternating the bundles round after round.
// For a change to the Rust Worker: build the bundle before and after (e.g.
// `git archive <commit>` into a scratch tree, scripts/build-worker there),
// copy each worker/build under bench/out (workerd takes module paths inside
// the project only), and compare.
//
//   node bench/compare-workers.mjs <routes> <rounds> <seconds> name=path/index.js|js ...
//   node bench/compare-workers.mjs fetch,backup,get,put 10 2 before=bench/out/build-before/index.js after=bench/out/build-after/index.js
//
// Prints, per route, each bundle's median CPU µs/request and req/s, and the
// median of the per-round CPU ratios to the last bundle named, with every
// round's ratio. With more than two bundles a bundle's place in the round
// matters (on this machine the run after another Rust bundle's cost ~4% more
// than the run after the JS Worker's); with two, each run follows the other
// bundle's, as in the throughput part.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPortal, backupSharePairId } from '../tests/standins/portal.mjs';
import { startWorker } from './lib/workers.mjs';
import { wrk } from './lib/wrk.mjs';
import { median, round } from './lib/stats.mjs';

const [routesArg, roundsArg, secondsArg, ...bundlesArg] = process.argv.slice(2);
if (!routesArg || !(Number(roundsArg) > 0) || !(Number(secondsArg) > 0) || bundlesArg.length < 2) {
  console.error('usage: node bench/compare-workers.mjs <backup,fetch,get,put> <rounds> <seconds> name=path/index.js|js ...');
  process.exit(2);
}
const bundles = bundlesArg.map((arg) => arg.split('='));
const OUT = fileURLToPath(new URL('out/', import.meta.url));
const webhookSecret = randomBytes(24).toString('hex');
const shareKeys = `bench1:${randomBytes(32).toString('base64')}`;
const TOKEN = 'test-token-alice';
const CLIENT = 'client-alice';
const webhookHeaders = { 'X-Webhook-Secret': webhookSecret, 'Content-Type': 'application/json' };
const clientHeaders = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
// The throughput part's shapes: a ~2 KB custodian share, an 8 KiB client envelope.
const custodianShare = (clientId, method) => JSON.stringify({ clientId, backupMethod: method, share: randomBytes(700).toString('hex'), signingShare: randomBytes(256).toString('hex') });
const envelopeText = () => Buffer.concat([Buffer.from('PBAK'), Buffer.from([1, 1]), randomBytes(12), randomBytes(8 * 1024 + 16)]).toString('base64url');
const putBody = JSON.stringify({ cipherText: envelopeText(), backupSharePairIds: [backupSharePairId(CLIENT, 'SECP256K1'), backupSharePairId(CLIENT, 'ED25519')] });
const SPECS = {
  backup: { method: 'POST', path: '/webhooks/backup', headers: webhookHeaders,
    bodies: Array.from({ length: 64 }, (_, i) => JSON.stringify({ clientId: `client-load-${i}`, backupMethod: 'GDRIVE-SECP256K1', share: custodianShare(`client-load-${i}`, 'GDRIVE-SECP256K1') })) },
  fetch: { method: 'POST', path: '/webhooks/backup/fetch', headers: webhookHeaders, body: JSON.stringify({ clientId: CLIENT }) },
  get: { method: 'GET', path: '/v1/client-backups/GDRIVE', headers: { Authorization: `Bearer ${TOKEN}` } },
  put: { method: 'PUT', path: '/v1/client-backups/GDRIVE', headers: clientHeaders, body: putBody },
};

const portal = await startPortal({ port: 0, host: '127.0.0.1' });
const workers = {};
try {
  for (const [name, path] of bundles) {
    const kind = path === 'js' ? 'js' : 'rust';
    const w = await startWorker({ kind, scriptPath: kind === 'js' ? undefined : path, port: 0, portalUrl: portal.url, webhookSecret, shareKeys, rateLimits: { CLIENT_WRITES: 1_000_000_000 } });
    workers[name] = w;
    for (const method of ['GDRIVE-SECP256K1', 'GDRIVE-ED25519']) {
      const r = await fetch(`${w.url}/webhooks/backup`, { method: 'POST', headers: webhookHeaders, body: JSON.stringify({ clientId: CLIENT, backupMethod: method, share: custodianShare(CLIENT, method) }) });
      if (r.status !== 200) throw new Error(`${name}: seed delivery answered ${r.status}`);
    }
    const put = await fetch(`${w.url}/v1/client-backups/GDRIVE`, { method: 'PUT', headers: clientHeaders, body: putBody });
    if (put.status !== 201) throw new Error(`${name}: seed PUT answered ${put.status}`);
  }
  const scriptPath = join(OUT, 'wrk-compare.lua');
  const last = bundles.at(-1)[0];
  for (const route of routesArg.split(',')) {
    const spec = SPECS[route];
    if (!spec) throw new Error(`no route ${route} (backup, fetch, get, put)`);
    const runs = Object.fromEntries(bundles.map(([name]) => [name, []]));
    for (const [name] of bundles) await wrk(workers[name].url, spec, { seconds: 2, scriptPath }); // warm-up
    for (let i = 0; i < Number(roundsArg); i++) {
      for (const [name] of bundles) {
        const before = workers[name].cpuSeconds();
        const run = await wrk(workers[name].url, spec, { seconds: Number(secondsArg), scriptPath });
        run.cpu_us = ((workers[name].cpuSeconds() - before) * 1e6) / run.requests;
        runs[name].push(run);
      }
    }
    console.log(`${route}:`);
    for (const [name] of bundles) {
      const ratios = runs[name].map((run, i) => run.cpu_us / runs[last][i].cpu_us);
      console.log(`  ${name}: ${round(median(runs[name].map((r) => r.cpu_us)), 0)} µs/req CPU, ${round(median(runs[name].map((r) => r.rps)), 0)} req/s` +
        (name === last ? '' : `; CPU ÷ ${last} median ${round(median(ratios), 3)} [${ratios.map((x) => round(x, 2)).join(' ')}]`));
    }
  }
} finally {
  for (const w of Object.values(workers)) await w.stop();
  await portal.close();
}
