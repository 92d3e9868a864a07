// The npm package as a web wallet gets it: `npm pack` of the package
// wasm-pack built (pkg/web), installed from that tarball into a copy of a
// small Vite 7 + TypeScript app (tests/package/app, its own lockfile),
// type-checked with tsc, built with Vite, and run in Chromium against the
// demo's stack: a backup and a recovery with each method, from another
// origin than the Worker's (CORS), as a real wallet would.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { DEMO_DRIVE_TOKEN, DEMO_PORTAL_TOKEN, ROOT, freePort } from '../../scripts/lib/stack.mjs';
import { launchChromium, resetWorld, screenshot, startTestStack } from '../e2e/support.mjs';

const run = promisify(execFile);
const PACKAGE_DIR = join(ROOT, 'pkg/web');

let work;
let app;
let stack;
let preview;
let browser;

async function sh(command, args, cwd) {
  try {
    return await run(command, args, { cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } });
  } catch (error) {
    throw new Error(`${command} ${args.join(' ')} failed:\n${error.stdout}\n${error.stderr}`);
  }
}

async function waitForHttp(url, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${url} did not come up`);
}

before(async () => {
  assert.ok(existsSync(join(PACKAGE_DIR, 'package.json')), 'pkg/web is missing: run scripts/build web first');
  work = mkdtempSync(join(tmpdir(), 'portal-backup-package-'));
  app = join(work, 'app');
  cpSync(join(ROOT, 'tests/package/app'), app, {
    recursive: true,
    filter: (src) => !/\/(node_modules|dist)$/.test(src),
  });
});

after(async () => {
  await browser?.close();
  if (preview && preview.exitCode === null) {
    const exited = new Promise((done) => preview.once('exit', done));
    process.kill(-preview.pid, 'SIGTERM');
    await exited;
  }
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('npm pack → npm install → tsc → vite build', async () => {
  const { stdout } = await sh('npm', ['pack', PACKAGE_DIR, '--pack-destination', work, '--json', '--loglevel=error'], work);
  const [packed] = JSON.parse(stdout);
  const files = packed.files.map((f) => f.path).sort();
  for (const needed of ['package.json', 'portal_backup.js', 'portal_backup.d.ts', 'portal_backup_bg.wasm']) {
    assert.ok(files.includes(needed), `the tarball lacks ${needed} (has ${files.join(', ')})`);
  }

  await sh('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], app);
  await sh('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--loglevel=error', join(work, packed.filename)], app);
  const installed = JSON.parse(readFileSync(join(app, 'node_modules/portal-backup/package.json'), 'utf8'));
  assert.equal(installed.name, 'portal-backup');
  assert.ok(installed.types && existsSync(join(app, 'node_modules/portal-backup', installed.types)), 'package.json names its types');

  // The app's TypeScript must compile against the package's .d.ts.
  await sh(join(app, 'node_modules/.bin/tsc'), ['--noEmit', '-p', app], app);
  await sh(join(app, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], app);
  assert.ok(existsSync(join(app, 'dist/index.html')));
});

test('the built app backs up and recovers in Chromium with both methods', async () => {
  assert.ok(existsSync(join(app, 'dist/index.html')), 'the build step did not run');
  const appPort = await freePort();
  const appOrigin = `http://127.0.0.1:${appPort}`;
  stack = await startTestStack({ extraOrigins: [appOrigin] });
  await resetWorld(stack);
  preview = spawn(
    join(app, 'node_modules/.bin/vite'),
    ['preview', '--host', '127.0.0.1', '--port', String(appPort), '--strictPort'],
    { cwd: app, detached: true, stdio: 'ignore' },
  );
  await waitForHttp(`${appOrigin}/`);

  // The plaintext Portal's SDK would build, in the fixture's shape, naming
  // the demo client's real backup share pair ids per method.
  const client = await (
    await fetch(`${stack.portalUrl}/api/v3/clients/me`, { headers: { Authorization: `Bearer ${DEMO_PORTAL_TOKEN}` } })
  ).json();
  const fixture = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/client-backup-plaintext.json'), 'utf8'));
  const clientBackups = {};
  for (const method of ['GDRIVE', 'PASSWORD']) {
    const plaintext = {};
    for (const wallet of client.wallets) {
      const pair = wallet.backupSharePairs.find((p) => p.backupMethod === method);
      plaintext[wallet.curve] = { id: pair.id, share: fixture[wallet.curve].share };
    }
    clientBackups[method] = JSON.stringify(plaintext);
  }

  browser = await launchChromium();
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(`${appOrigin}/`);
  await page.getByText('Ready.').waitFor({ timeout: 20_000 });

  const outcome = await page.evaluate((config) => window.portalBackupCheck(config), {
    clientId: client.id,
    custodianId: client.custodian.id,
    portalToken: DEMO_PORTAL_TOKEN,
    serverUrl: stack.url,
    portalApiUrl: stack.portalUrl,
    driveApiUrl: stack.driveUrl,
    driveToken: DEMO_DRIVE_TOKEN,
    password: 'package test password',
    clientBackups,
  });
  await page.getByText('Backed up and recovered with Google Drive and a password.').waitFor();
  await screenshot(page, 'package-app');
  assert.deepEqual(problems, []);

  for (const method of ['GDRIVE', 'PASSWORD']) {
    const { backup, recovered, steps } = outcome.outcomes[method];
    assert.equal(recovered.clientBackup, clientBackups[method], `${method}: the recovered shares equal the backed-up ones`);
    assert.equal(recovered.version, 'current');
    assert.equal(backup.portalNotified, true, `${method}: Portal was told`);
    assert.ok(steps.includes('encrypt') && steps.includes('confirm'), `${method}: progress events arrived (${steps})`);
  }
  assert.deepEqual(outcome.listed.map((b) => b.backupMethod).sort(), ['GDRIVE', 'PASSWORD']);
  assert.equal(outcome.wrongPasswordCode, 'WRONG_PASSWORD');
});
