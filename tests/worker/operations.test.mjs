// What an operator relies on: CORS, key rotation, misconfiguration, logs
// and error bodies free of secrets, and a deployable bundle.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  ALICE, ALLOWED_ORIGIN, KEY_1, KEY_2, WEBHOOK_SECRET, backupSharePairId, clientApi, dumpKv, envelopeText,
  fetchShares, postBackup, shareFragments, shareText, startWorker, useStack,
} from './harness.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('CORS', () => {
  const { worker } = useStack({ portal: true, worker: true });

  const preflight = (origin, path = '/v1/client-backups/GDRIVE') =>
    worker.fetch(path, {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'authorization, content-type' },
    });

  test('a listed origin may preflight with Authorization and Content-Type', async () => {
    const res = await preflight(ALLOWED_ORIGIN);
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
    assert.match(res.headers.get('access-control-allow-methods'), /PUT/);
    assert.match(res.headers.get('access-control-allow-headers'), /Authorization/);
    assert.match(res.headers.get('access-control-allow-headers'), /Content-Type/);
    assert.match(res.headers.get('vary'), /Origin/);
  });

  test('another origin gets no CORS grant', async () => {
    for (const origin of ['https://evil.example', 'https://wallet.example.evil.example', 'null']) {
      const res = await preflight(origin);
      assert.equal(res.status, 403, origin);
      assert.equal(res.headers.get('access-control-allow-origin'), null);
      assert.equal((await res.json()).error.code, 'ORIGIN_NOT_ALLOWED');
    }
    const get = await worker.fetch('/v1/client-backups', { headers: { Origin: 'https://evil.example', Authorization: `Bearer ${ALICE.token}` } });
    assert.equal(get.headers.get('access-control-allow-origin'), null);
  });

  test('answers to a listed origin carry the grant, errors included', async () => {
    const ok = await worker.fetch('/v1/client-backups', { headers: { Origin: ALLOWED_ORIGIN, Authorization: `Bearer ${ALICE.token}` } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
    const denied = await worker.fetch('/v1/client-backups', { headers: { Origin: ALLOWED_ORIGIN } });
    assert.equal(denied.status, 401);
    assert.equal(denied.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
  });
});

describe('rotating SHARE_ENCRYPTION_KEYS', () => {
  let persist;
  before(async () => {
    persist = await mkdtemp(join(tmpdir(), 'portal-backup-kv-'));
  });
  after(() => rm(persist, { recursive: true, force: true }));

  test('old records stay readable, new writes use the new first key', async () => {
    const oldShare = shareText('client-1', 'GDRIVE');
    let worker = await startWorker({ keys: KEY_1, kvPersist: persist });
    assert.equal((await postBackup(worker, { backupMethod: 'GDRIVE', clientId: 'client-1', share: oldShare })).status, 200);
    await worker.close();

    worker = await startWorker({ keys: `${KEY_2},${KEY_1}`, kvPersist: persist });
    assert.deepEqual((await fetchShares(worker, 'client-1')).body.backupShares, [oldShare]);
    const newShare = shareText('client-1', 'PASSWORD');
    await postBackup(worker, { backupMethod: 'PASSWORD', clientId: 'client-1', share: newShare });
    const raw = await dumpKv(worker);
    const kidOf = (method) => JSON.parse(Object.entries(raw).find(([k]) => k.startsWith(`custodian/client-1/${method}/`))[1]).kid;
    assert.equal(kidOf('GDRIVE'), 'k1');
    assert.equal(kidOf('PASSWORD'), 'k2');
    assert.deepEqual(new Set((await fetchShares(worker, 'client-1')).body.backupShares), new Set([oldShare, newShare]));
    await worker.close();

    // Dropping k1 too early is loud, not an empty answer Portal would trust.
    worker = await startWorker({ keys: KEY_2, kvPersist: persist });
    const fetched = await fetchShares(worker, 'client-1');
    assert.equal(fetched.status, 500);
    assert.equal(fetched.body.error.code, 'STORED_RECORD_UNREADABLE');
    await worker.close();
  });
});

describe('misconfiguration', () => {
  test('a missing webhook secret or key list is a 500 that names the setting, not a pass', async () => {
    let worker = await startWorker({ webhookSecret: null });
    let res = await postBackup(worker, { backupMethod: 'GDRIVE', clientId: 'c', share: '{}' }, { secret: '' });
    assert.equal(res.status, 500);
    assert.match((await res.json()).error.message, /WEBHOOK_SECRET/);
    await worker.close();

    worker = await startWorker({ keys: null });
    res = await postBackup(worker, { backupMethod: 'GDRIVE', clientId: 'c', share: '{}' });
    assert.equal(res.status, 500);
    assert.match((await res.json()).error.message, /SHARE_ENCRYPTION_KEYS/);
    await worker.close();

    worker = await startWorker({ keys: 'k1:not-a-key' });
    res = await postBackup(worker, { backupMethod: 'GDRIVE', clientId: 'c', share: '{}' });
    assert.equal(res.status, 500);
    const text = await res.text();
    assert.match(text, /SHARE_ENCRYPTION_KEYS/);
    assert.ok(!text.includes('not-a-key'));
    assert.deepEqual(await dumpKv(worker), {});
    await worker.close();
  });
});

describe('logs and error bodies', () => {
  const { worker } = useStack({ portal: true, worker: true });

  test('one JSON line per request, with no share, token, key or secret anywhere', async () => {
    const share = shareText('client-alice', 'GDRIVE');
    const cipherText = envelopeText();
    const errorBodies = [];
    const keep = async (res) => {
      errorBodies.push(await res.text());
      return res;
    };
    await postBackup(worker, { backupMethod: 'GDRIVE', clientId: 'client-alice', share });
    await fetchShares(worker, 'client-alice');
    await keep(await postBackup(worker, { backupMethod: 'GDRIVE', clientId: 'client-alice', share }, { secret: `${WEBHOOK_SECRET}-nope` }));
    await keep(await postBackup(worker, { backupMethod: 'GDRIVE', clientId: 'client-alice', share: `${share}trailing` }));
    await keep(await postBackup(worker, `{"share": ${JSON.stringify(share)}`));
    const alice = clientApi(worker, ALICE);
    await alice.put('GDRIVE', cipherText, [backupSharePairId('client-alice', 'SECP256K1')]);
    await alice.get('GDRIVE');
    errorBodies.push((await clientApi(worker, { token: 'test-token-not-known-secret' }).get('GDRIVE')).text);
    errorBodies.push((await alice.put('GDRIVE', `${cipherText}!`, ['p'])).text);
    const requests = 9;

    // workerd flushes console output asynchronously.
    for (let i = 0; i < 50 && worker.logs.filter((l) => l.includes('"route"')).length < requests; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const requestLines = worker.logs.filter((l) => l.includes('"route"'));
    assert.equal(requestLines.length, requests, worker.logs.join('\n'));
    for (const line of requestLines) {
      const entry = JSON.parse(line.slice(line.indexOf('{')));
      assert.equal(typeof entry.requestId, 'string');
      assert.ok(entry.requestId.length > 0);
      assert.equal(typeof entry.status, 'number');
      assert.equal(typeof entry.durationMs, 'number');
      assert.match(entry.route, /^\/(v1|\{webhooksRoot\})/);
    }
    const statuses = requestLines.map((l) => JSON.parse(l.slice(l.indexOf('{'))).status);
    assert.deepEqual(statuses, [200, 200, 401, 400, 400, 201, 200, 401, 400]);

    const secrets = [
      WEBHOOK_SECRET, KEY_1.split(':')[1], ALICE.token, 'test-token-not-known-secret', cipherText.slice(10, 60),
      ...shareFragments(share),
    ];
    const everything = [...worker.logs, ...errorBodies].join('\n');
    for (const secret of secrets) assert.ok(!everything.includes(secret), `leaked: ${secret.slice(0, 8)}...`);
    for (const body of errorBodies) assert.ok(JSON.parse(body).error.code);
  });
});

describe('request ids', () => {
  const { worker } = useStack({ worker: true });

  test('cf-ray names the request when sane, else a random id is made', async () => {
    const ray = await worker.fetch('/nowhere', { headers: { 'cf-ray': '8f1e2d3c4b5a6978-AMS' } });
    assert.equal(ray.headers.get('x-request-id'), '8f1e2d3c4b5a6978-AMS');
    const forged = await worker.fetch('/nowhere', { headers: { 'cf-ray': 'x","status":200' } });
    assert.match(forged.headers.get('x-request-id'), /^[0-9a-f]{16}$/);
  });
});

describe('deployable bundle', () => {
  // Two scripts: the edge Worker (worker/) and the client's Durable Object
  // (worker/object/), which the edge Worker binds by script name.
  for (const [name, dir, exported] of [['the edge Worker', 'worker', 'default'], ["the client's Durable Object", 'worker/object', 'BackupDirectory']]) {
    test(`wrangler deploy --dry-run builds ${name} offline`, { timeout: 300_000 }, async (t) => {
      const outdir = await mkdtemp(join(tmpdir(), 'portal-backup-deploy-'));
      try {
        const { stdout, stderr } = await promisify(execFile)(
          join(ROOT, 'node_modules/.bin/wrangler'),
          ['deploy', '--dry-run', '--outdir', outdir],
          {
            cwd: join(ROOT, dir),
            env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' },
            maxBuffer: 16 * 1024 * 1024,
          },
        );
        const output = `${stdout}\n${stderr}`;
        const size = /Total Upload:.*$/m.exec(output);
        assert.ok(size, output);
        t.diagnostic(size[0]);
        const files = await readdir(outdir);
        assert.ok(files.includes('index.js'), files.join(', '));
        assert.match(await readFile(join(outdir, 'index.js'), 'utf8'), new RegExp(`\\bas ${exported}\\b`));
        const wasm = files.filter((f) => f.endsWith('.wasm'));
        assert.equal(wasm.length, 1, files.join(', '));
        // Workers' free plan takes up to 3 MiB gzipped; the raw wasm is a fair bound.
        assert.ok((await stat(join(outdir, wasm[0]))).size < 3 * 1024 * 1024);
      } finally {
        await rm(outdir, { recursive: true, force: true });
      }
    });
  }
});
