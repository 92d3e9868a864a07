// Issue 14's last scenario: the package itself (pkg/web), in Chromium,
// against the Worker at two Cloudflare locations over the model of Workers
// KV (tests/worker/kv-model.mjs: per-location get() caches, negative answers
// included, 1 write/s/key, list() a minute behind). Each location listens on
// its own 127.0.0.1 port (tests/worker/harness.mjs, startLocations with
// `http: true`); the Portal stand-in delivers custodian shares to location A
// and Google Drive's stand-in holds the key files.
//
// For each of GDRIVE, PASSWORD and PASSKEY: location B reads the wallet
// before any backup exists; a backup at A is recovered at once at B on a new
// device, byte for byte; a second backup at A right after (B having just
// read the first) and a third (B having just checked the second) each
// recover at B as themselves, never an older one. "New device": a fresh
// browser context for GDRIVE and PASSWORD; for PASSKEY the same (virtual)
// authenticator with the page's storage wiped, as a synced passkey would be
// (a credential copied to another authenticator loses its PRF secret).
// Then KV made late at B (a propagation delay): B still recovers the new
// backup at once, since only the client's Durable Object (at A) reads KV,
// and never the older one. At the end no
// KV write was refused (1 write/s/key) and every custodian share Portal
// delivered to A was stored and read back.
//
// The page is a few lines of HTML on http://localhost:<port> (WebAuthn's
// rpId `localhost`) importing pkg/web, driven with page.evaluate. The last
// line printed is the run's summary.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEMO_DRIVE_TOKEN, DEMO_PORTAL_TOKEN, ROOT, freePort } from '../../scripts/lib/stack.mjs';
import { startDrive } from '../standins/drive.mjs';
import { startPortal } from '../standins/portal.mjs';
import { WEBHOOK_SECRET, startLocations } from '../worker/harness.mjs';
import { launchChromium } from './support.mjs';
import { pageWithAuthenticator } from '../support/webauthn.mjs';

const PKG = join(ROOT, 'pkg/web');
const PASSWORD = 'two locations, one password';

// The whole test page: the package as a web wallet loads it, and one entry
// point that runs an export with the options and answers plain data (an
// error as its code, step and status).
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>portal-backup at two locations</title>
<script type="module">
  import init, * as portalBackup from '/pkg/portal_backup.js';
  await init();
  const b64 = (bytes) => btoa(String.fromCharCode(...bytes));
  window.call = async (name, { driveToken, ...options }) => {
    const failedSteps = [];
    const full = {
      ...options,
      ...(driveToken ? { getDriveToken: async () => driveToken } : {}),
      onProgress: (event) => { if (event.phase === 'error') failedSteps.push(event.step + ': ' + event.error?.code); },
    };
    try {
      const result = await portalBackup[name](full);
      const { clientBackupBytes, ...rest } = result;
      return { ok: true, failedSteps, result: clientBackupBytes ? { ...rest, clientBackupBase64: b64(clientBackupBytes) } : rest };
    } catch (error) {
      return { ok: false, failedSteps, code: error.code, step: error.step, status: error.status, message: error.message };
    }
  };
  document.body.dataset.ready = 'true';
</script>
<body>`;

const MIME = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };

/** The page at / and pkg/web under /pkg/, as any static host serves them. */
async function servePage() {
  const server = createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, 'http://x').pathname));
    if (path === '/') {
      response.writeHead(200, { 'Content-Type': 'text/html' }).end(PAGE);
      return;
    }
    const file = join(PKG, path.replace(/^\/pkg\//, '/'));
    if (!path.startsWith('/pkg/') || !file.startsWith(PKG) || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  return { server, origin: `http://localhost:${server.address().port}` };
}

let page0;
let portal;
let drive;
let locations;
let browser;
let client;
// Per location: what the page asked of it.
const tally = { backups: { a: 0, b: 0 }, recoveries: { a: 0, b: 0 }, checks: { a: 0, b: 0 } };
const sum = (counts) => counts.a + counts.b;
const fixture = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/client-backup-plaintext.json'), 'utf8'));

/**
 * Version `n` of what Portal's SDK hands over for `method`: the demo
 * client's pair ids, each curve's share with a fresh secret number.
 */
function clientBackup(method) {
  const plaintext = {};
  for (const wallet of client.wallets) {
    const pair = wallet.backupSharePairs.find((p) => p.backupMethod === method);
    const share = JSON.parse(fixture[wallet.curve].share);
    share.share = BigInt(`0x${randomBytes(32).toString('hex')}`).toString(10);
    share.backupSharePairId = pair.id;
    plaintext[wallet.curve] = { id: pair.id, share: JSON.stringify(share) };
  }
  return JSON.stringify(plaintext);
}

/** A browser profile of its own, its platform authenticator a virtual one with PRF. */
async function openDevice() {
  const { context, page, cdp, authenticatorId, problems, passkeys } = await pageWithAuthenticator(browser);
  await page.goto(`${page0.origin}/`);
  await page.locator('body[data-ready="true"]').waitFor({ state: 'attached', timeout: 20_000 });
  const device = {
    page, cdp, authenticatorId, problems, passkeys,
    close: () => context.close(),
  };
  return device;
}

/** The same authenticator, everything the page kept gone (PASSKEY's new device). */
async function wipe(device) {
  await device.cdp.send('Storage.clearDataForOrigin', { origin: page0.origin, storageTypes: 'all' });
  await device.page.reload();
  await device.page.locator('body[data-ready="true"]').waitFor({ state: 'attached', timeout: 20_000 });
  assert.equal(await device.page.evaluate(() => localStorage.length + sessionStorage.length), 0, 'page storage wiped');
}

function options(method, location) {
  return {
    method,
    clientId: client.id,
    custodianId: client.custodian.id,
    portalToken: DEMO_PORTAL_TOKEN,
    serverUrl: locations[location].httpUrl,
    portalApiUrl: portal.url,
    driveApiUrl: drive.url,
    ...(method === 'GDRIVE' ? { driveToken: DEMO_DRIVE_TOKEN } : {}),
    ...(method === 'PASSWORD' ? { password: PASSWORD } : {}),
  };
}

async function call(device, name, method, location, extra = {}) {
  return device.page.evaluate(([n, o]) => window.call(n, o), [name, { ...options(method, location), ...extra }]);
}

const describeFailure = (outcome) => `${outcome.code} at ${outcome.step} (HTTP ${outcome.status ?? '-'}): ${outcome.message}`;

async function backUp(device, method, location, plaintext, extra = {}) {
  const outcome = await call(device, 'backupWallet', method, location, { clientBackup: plaintext, ...extra });
  assert.ok(outcome.ok, `${method} backup at ${location}: ${describeFailure(outcome)}`);
  assert.deepEqual(outcome.failedSteps, [], `${method} backup at ${location}: no step failed on the way`);
  assert.equal(outcome.result.portalNotified, true, `${method} backup at ${location}: Portal was told`);
  tally.backups[location]++;
  return outcome.result;
}

/** Recovers at `location`; must give back exactly `expected` (text and bytes), as the backup `backup`. */
async function recoverExactly(device, method, location, expected, backup, why) {
  const outcome = await call(device, 'recoverWallet', method, location);
  assert.ok(outcome.ok, `${method} recovery at ${location} (${why}): ${describeFailure(outcome)}`);
  tally.recoveries[location]++;
  const { result } = outcome;
  assert.equal(Buffer.from(result.clientBackupBase64, 'base64').equals(Buffer.from(expected)), true,
    `${method} at ${location} (${why}): the recovered bytes are the backed-up ones`);
  assert.equal(result.clientBackup, expected, `${method} at ${location} (${why}): the recovered text is the backed-up one`);
  assert.equal(result.backupId, backup.backupId, `${method} at ${location} (${why}): the version just stored, not an older one`);
  assert.equal(result.version, 'current');
  assert.equal(result.fellBack, false);
  if (method === 'PASSKEY') assert.equal(result.credentialId, backup.credentialId, 'recovered with the backup\'s passkey');
  return result;
}

async function check(device, method, location, plaintext) {
  const outcome = await call(device, 'checkBackup', method, location, plaintext === undefined ? {} : { clientBackup: plaintext });
  assert.ok(outcome.ok, `${method} check at ${location}: ${describeFailure(outcome)}`);
  tally.checks[location]++;
  return outcome.result;
}

describe('the package in Chromium against the Worker at two locations', () => {
  before(async () => {
    if (!existsSync(join(PKG, 'portal_backup.js'))) throw new Error('pkg/web is missing: run scripts/build web first');
    page0 = await servePage();
    // Portal's address comes first (the Worker is configured with it), its
    // webhook target (location A) once the locations listen.
    const portalPort = await freePort();
    locations = await startLocations({
      http: true,
      portalUrl: `http://127.0.0.1:${portalPort}`,
      extraOrigins: [page0.origin],
      // One client backs up nine times here; limits are tests/worker/limits.test.mjs's.
      rateLimits: { CLIENT_WRITES: 100_000 },
    });
    portal = await startPortal({ port: portalPort, host: '127.0.0.1', webhookUrl: `${locations.a.httpUrl}/webhooks`, webhookSecret: WEBHOOK_SECRET });
    drive = await startDrive({ host: '127.0.0.1' });
    client = await (await fetch(`${portal.url}/api/v3/clients/me`, { headers: { Authorization: `Bearer ${DEMO_PORTAL_TOKEN}` } })).json();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await portal?.close();
    await drive?.close();
    await new Promise((done) => (page0 ? page0.server.close(done) : done()));
    if (locations) {
      const { total, a = {}, b = {} } = locations.model.statistics();
      await locations.close();
      const at = (counts) => `${sum(counts)} (A ${counts.a}, B ${counts.b})`;
      console.log(
        `two-locations e2e summary: backups ${at(tally.backups)}, recoveries ${at(tally.recoveries)}, checks ${at(tally.checks)}, `
        + `KV writes ${total.writes}, refused ${total.writesRefused}, KV reads ${total.reads} (A ${a.reads ?? 0}, B ${b.reads ?? 0}), `
        + `stale served by the model ${total.staleServed}`,
      );
    }
  });

  for (const method of ['GDRIVE', 'PASSWORD', 'PASSKEY']) {
    test(`${method}: backed up at A, recovered at B, each new backup at once`, { timeout: 40_000 }, async () => {
      const backupDevice = await openDevice();
      // PASSKEY's new device is this one wiped; the others get a profile of their own.
      const newDevice = async () => (method === 'PASSKEY' ? (await wipe(backupDevice), backupDevice) : openDevice());
      const opened = [backupDevice];
      try {
        // B reads before there is anything: negative answers it may keep.
        const before = await newDevice();
        opened.push(before);
        const nothing = await check(before, method, 'b');
        assert.equal(nothing.recoverable, false);
        assert.ok(nothing.problems.includes('BACKUP_NOT_FOUND'), `nothing yet at B: ${nothing.problems}`);

        // 1. Backed up at A, recovered at once at B on a new device.
        const v1 = clientBackup(method);
        const first = await backUp(backupDevice, method, 'a', v1);
        const device = await newDevice();
        opened.push(device);
        await recoverExactly(device, method, 'b', v1, first, 'first backup');

        // 2. B has just read v1; the next backup at A right after, then B again.
        const v2 = clientBackup(method);
        const second = await backUp(backupDevice, method, 'a', v2, method === 'PASSKEY' ? { credentialId: first.credentialId } : {});
        assert.notEqual(second.backupId, first.backupId);
        await recoverExactly(device, method, 'b', v2, second, 'second backup, B read the first just before');

        // 3. B checks v2 (reads the wallet: its list, versions and blobs) just
        //    before a third backup at A; B then recovers the third.
        await portal.settled();
        const checked = await check(device, method, 'b', v2);
        assert.deepEqual(checked.problems, [], `B sees v2 whole before the third backup: ${checked.problems}`);
        assert.equal(checked.recoverable, true);
        const v3 = clientBackup(method);
        const third = await backUp(backupDevice, method, 'a', v3, method === 'PASSKEY' ? { credentialId: first.credentialId } : {});
        const fresh = method === 'PASSKEY' ? device : await newDevice();
        if (fresh !== device) opened.push(fresh);
        else await wipe(fresh);
        await recoverExactly(fresh, method, 'b', v3, third, 'third backup, B checked the second just before');
        // A, where it was written, agrees.
        await recoverExactly(backupDevice, method, 'a', v3, third, 'third backup, at A');

        // What B says of the device's shares now: v3 opens; v2 is outdated.
        await portal.settled();
        const now = await check(fresh, method, 'b', v3);
        assert.deepEqual(now.problems, [], `B: v3 recoverable (${now.problems})`);
        assert.equal(now.custodianStored, true, 'Portal\'s half, delivered to A, is seen at B');
        const outdated = await check(fresh, method, 'b', v2);
        assert.deepEqual(outdated.problems, ['BACKUP_OUTDATED'], 'B: the older shares are not what the backup holds');

        if (method === 'PASSKEY') assert.equal((await backupDevice.passkeys()).length, 1, 'one passkey for all three backups');
        for (const d of opened) assert.deepEqual(d.problems, [], 'the page threw');
      } finally {
        for (const d of new Set(opened)) await d.close();
      }
    });
  }

  // KV's writes reach other locations late (Cloudflare: up to a minute), and
  // a location that looked for a key meanwhile keeps its "not found" for
  // cacheTtl. The Worker never reads KV at B: every blob is written and
  // read by the client's Durable Object (at A here), so B serves the new
  // backup at once, and never the older one.
  test('GDRIVE with KV behind at B: B recovers the new backup at once, never the older one', { timeout: 30_000 }, async () => {
    const { model } = locations;
    const delayMs = 5_000;
    const backupDevice = await openDevice();
    const device = await openDevice();
    model.configure({ propagationDelayMs: delayMs });
    try {
      const older = clientBackup('GDRIVE');
      const olderBackup = await backUp(backupDevice, 'GDRIVE', 'a', older);
      await recoverExactly(device, 'GDRIVE', 'b', older, olderBackup, 'older backup, KV behind at B');
      const newer = clientBackup('GDRIVE');
      const newerBackup = await backUp(backupDevice, 'GDRIVE', 'a', newer);
      const early = await call(device, 'recoverWallet', 'GDRIVE', 'b', { retry: { maxAttempts: 1 } });
      assert.equal(early.ok, true, `B did not serve while KV was behind there: ${describeFailure(early)}`);
      assert.equal(early.result.clientBackup, newer, early.result.clientBackup === older ? 'B served the OLDER backup' : 'B served another backup');
      assert.equal(early.result.backupId, newerBackup.backupId);
      assert.deepEqual([...backupDevice.problems, ...device.problems], [], 'the page threw');
    } finally {
      model.configure({ propagationDelayMs: 0 });
      await backupDevice.close();
      await device.close();
    }
  });

  test('Portal delivered every custodian share to A and read it back; KV refused no write', async () => {
    const webhooks = await portal.settled();
    // Two curves per backup.
    assert.equal(webhooks.length, 2 * sum(tally.backups), 'one delivery per curve per backup');
    const failed = webhooks.filter((w) => !w.stored);
    assert.deepEqual(failed, [], 'every delivery stored and fetched back');
    const { total } = locations.model.statistics();
    assert.equal(total.writesRefused, 0, 'no KV write refused (1 write/s/key)');
    assert.ok(total.writes > 0, 'the Worker wrote through the model');
  });
});
