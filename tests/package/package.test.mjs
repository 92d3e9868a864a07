// The npm package as web wallets get it: `npm pack` of each target wasm-pack
// built (pkg/web, pkg/bundler), its file list checked exactly (the license
// texts in, no source or test leftovers), installed from the tarball into small apps
// bundled by Vite 7 and by webpack 5 (tests/package/vite, tests/package/webpack:
// each its own lockfile, `npm ci`), all sharing one wallet source and
// tsconfig (tests/package/wallet). Every bundler × target app is type-checked with
// TypeScript 5 and 7 (strict, no skipLibCheck, lib ES2020, ES2022 and ESNext,
// each with DOM), built, and run in Chromium against the demo's stack: a
// backup and a recovery with each method, from another origin than the
// Worker's (CORS), as a real wallet would; PASSKEY through a CDP virtual
// authenticator with PRF, the page on localhost (WebAuthn takes no IP
// address as relying party id). The Vite apps run under Vite's dev server too.
//
// Layout under target/package-test/<bundler>/: the app's lockfile and its
// node_modules (npm ci only when the lockfile's hash changed, one install at a
// time), and below it one directory per run and target holding the app's
// sources and, in its own node_modules, only the package from the tarball.
// Node's resolution finds the package there and the bundler one level up.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { DEMO_DRIVE_TOKEN, DEMO_PORTAL_TOKEN, ROOT, freePort } from '../../scripts/lib/stack.mjs';
import { DEFAULT_ICLOUD_API_TOKEN, DEFAULT_ICLOUD_CONTAINER, DEFAULT_ICLOUD_ENVIRONMENT } from '../standins/icloud.mjs';
import { launchChromium, resetWorld, screenshot, startTestStack } from '../e2e/support.mjs';
import { pageWithAuthenticator } from '../support/webauthn.mjs';

const run = promisify(execFile);
const HERE = join(ROOT, 'tests/package');
const CACHE = join(ROOT, 'target/package-test');
const TARGETS = ['web', 'bundler'];
const BUNDLERS = {
  vite: { config: 'vite.config.ts', build: ['vite', 'build', '--logLevel', 'warn'] },
  webpack: { config: 'webpack.config.js', build: ['webpack', '--no-stats'] },
};
const APPS = Object.keys(BUNDLERS).flatMap((bundler) =>
  TARGETS.map((target) => ({ bundler, target, name: `${bundler}-${target}`, withDevServer: bundler === 'vite' })),
);
const TYPESCRIPTS = { 'TypeScript 5': 'typescript', 'TypeScript 7': 'typescript-7' };
const LIBS = ['ES2020,DOM', 'ES2022,DOM', 'ESNext,DOM'];

const tarballs = {};
const runDirs = [];
let stack;
let browser;
const servers = [];
const devServers = [];

async function sh(command, args, cwd) {
  try {
    return await run(command, args, { cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } });
  } catch (error) {
    throw new Error(`${command} ${args.join(' ')} failed:\n${error.stdout}\n${error.stderr}`);
  }
}

// Runs only when the lockfile differs from the one node_modules was installed
// from; flock keeps two test runs from installing into one directory at once.
const CACHED_NPM_CI = `set -e
cd "$1"
want=$(sha256sum package-lock.json | cut -d' ' -f1)
[ "$(cat node_modules/.lock-sha256 2>/dev/null)" = "$want" ] && exit 0
rm -rf node_modules
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > node_modules/.lock-sha256`;

async function installBundler(bundler) {
  const dir = join(CACHE, bundler);
  mkdirSync(dir, { recursive: true });
  for (const file of ['package.json', 'package-lock.json']) cpSync(join(HERE, bundler, file), join(dir, file));
  await sh('flock', [join(CACHE, `${bundler}.lock`), 'bash', '-c', CACHED_NPM_CI, 'npm-ci', dir], dir);
  return dir;
}

/** One app as a user would have it: the bundler's config, the wallet, the package from npm. */
async function assembleApp({ bundler, target, name }, runDir) {
  const app = join(runDir, target);
  mkdirSync(join(app, 'src'), { recursive: true });
  for (const file of ['index.html', BUNDLERS[bundler].config]) cpSync(join(HERE, bundler, file), join(app, file));
  cpSync(join(HERE, 'wallet/tsconfig.json'), join(app, 'tsconfig.json'));
  cpSync(join(HERE, 'wallet/wallet.ts'), join(app, 'src/wallet.ts'));
  cpSync(join(HERE, `wallet/${target}.ts`), join(app, 'src/main.ts'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: `wallet-${name}`, private: true, type: 'module' }) + '\n');
  await sh('npm', ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=error', tarballs[target]], app);
  const installed = JSON.parse(readFileSync(join(app, 'node_modules/portal-backup/package.json'), 'utf8'));
  assert.equal(installed.name, 'portal-backup');
  assert.ok(installed.types && existsSync(join(app, 'node_modules/portal-backup', installed.types)), 'package.json names its types');
  return app;
}

/** tsc with each TypeScript major and lib; resolves to the failures, two at a time. */
async function typeCheck(app, bundlerDir) {
  const jobs = Object.entries(TYPESCRIPTS).flatMap(([label, pkg]) => LIBS.map((lib) => ({ label, pkg, lib })));
  const failures = [];
  const worker = async () => {
    for (let job; (job = jobs.shift()); ) {
      // TypeScript's own lib files are not under test and checking them
      // triples the time; every other .d.ts, the package's too, is checked.
      const tsc = join(bundlerDir, 'node_modules', job.pkg, 'bin/tsc');
      try {
        await run(process.execPath, [tsc, '-p', app, '--lib', job.lib, '--skipDefaultLibCheck', '--pretty', 'false'], { cwd: app });
      } catch (error) {
        failures.push(`${job.label}, lib ${job.lib}:\n${error.stdout}${error.stderr}`);
      }
    }
  };
  await Promise.all([worker(), worker()]);
  return failures;
}

const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };

/** The built app as a static host serves it (application/wasm, so the wasm streams). */
function serveStatic(dir, port) {
  const server = createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, 'http://x').pathname));
    const file = join(dir, path.endsWith('/') ? `${path}index.html` : path);
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream' });
    response.end(readFileSync(file));
  });
  servers.push(server);
  return new Promise((done) => server.listen(port, '127.0.0.1', done));
}

/** The plaintext Portal's SDK would build, per method, naming the demo client's pair ids. */
async function clientBackups(client) {
  const fixture = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/client-backup-plaintext.json'), 'utf8'));
  const backups = {};
  for (const method of ['GDRIVE', 'ICLOUD', 'PASSWORD', 'PASSKEY']) {
    const plaintext = {};
    for (const wallet of client.wallets) {
      const pair = wallet.backupSharePairs.find((p) => p.backupMethod === method);
      plaintext[wallet.curve] = { id: pair.id, share: fixture[wallet.curve].share };
    }
    backups[method] = JSON.stringify(plaintext);
  }
  return backups;
}

/** The wallet page at `origin` backs up and recovers with each method, in a fresh browser context. */
async function backUpAndRecover(t, origin, screenshotName) {
  const started = Date.now();
  if (!stack) {
    stack = await startTestStack({
      extraOrigins: APPS.flatMap(({ port, devPort }) => [port, devPort]).filter(Boolean).map((port) => `http://localhost:${port}`),
      // Every app here backs up as the one demo client, a dozen writes a
      // minute apiece; the 30-a-minute limit is tested in tests/worker/limits.test.mjs.
      rateLimits: { CLIENT_WRITES: 1000 },
    });
    browser = await launchChromium();
  }
  await resetWorld(stack);
  const client = await (
    await fetch(`${stack.portalUrl}/api/v3/clients/me`, { headers: { Authorization: `Bearer ${DEMO_PORTAL_TOKEN}` } })
  ).json();
  const backups = await clientBackups(client);

  // The user's platform authenticator, with PRF, for the PASSKEY round trip.
  const { context, page, problems } = await pageWithAuthenticator(browser);
  await page.goto(`${origin}/`);
  await page.getByText('Ready.').waitFor({ timeout: 20_000 });

  const outcome = await page.evaluate((config) => window.portalBackupCheck(config), {
    clientId: client.id,
    custodianId: client.custodian.id,
    portalToken: DEMO_PORTAL_TOKEN,
    serverUrl: stack.url,
    portalApiUrl: stack.portalUrl,
    driveApiUrl: stack.driveUrl,
    driveToken: DEMO_DRIVE_TOKEN,
    icloud: {
      apiUrl: stack.icloudUrl,
      container: DEFAULT_ICLOUD_CONTAINER,
      environment: DEFAULT_ICLOUD_ENVIRONMENT,
      apiToken: DEFAULT_ICLOUD_API_TOKEN,
      webAuthToken: (await (await fetch(`${stack.icloudUrl}/__control/tokens`, { method: 'POST', body: JSON.stringify({ user: 'package-test' }) })).json()).token,
    },
    password: 'package test password',
    sealedPlaintext: 'a share the wallet sealed itself',
    clientBackups: backups,
  });
  await page.getByText('Backed up, recovered, checked, re-keyed and deleted with Google Drive, iCloud, a password and a passkey.').waitFor();
  await screenshot(page, screenshotName);
  await context.close();
  t.diagnostic(`Chromium ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.deepEqual(problems, []);

  for (const method of ['GDRIVE', 'ICLOUD', 'PASSWORD', 'PASSKEY']) {
    const { backup, recovered, checked, changed, recoveredAfterChange, checkedAfterChange, steps, errors } = outcome.outcomes[method];
    assert.equal(recovered.clientBackup, backups[method], `${method}: the recovered shares equal the backed-up ones`);
    assert.equal(recovered.version, 'current');
    assert.equal(backup.portalNotified, true, `${method}: Portal was told (errors: ${errors.join('; ') || 'none'})`);
    assert.ok(steps.includes('encrypt') && steps.includes('confirm'), `${method}: progress events arrived (${steps})`);
    // Portal's custodian half may still be on its way: every other problem is a failure.
    assert.deepEqual(checked.problems.filter((p) => p !== 'CUSTODIAN_BACKUP_MISSING'), [], `${method}: checkBackup after the backup`);
    assert.notEqual(changed.backupId, backup.backupId, `${method}: changeBackupKey stored a new version`);
    assert.deepEqual(changed.backupSharePairIds, backup.backupSharePairIds, `${method}: the same pairs`);
    assert.equal(changed.portalNotified, true, `${method}: the new version counts as told, Portal not asked`);
    assert.equal(recoveredAfterChange, backups[method], `${method}: the new key recovers the same shares`);
    assert.deepEqual(checkedAfterChange.problems.filter((p) => p !== 'CUSTODIAN_BACKUP_MISSING'), [], `${method}: checkBackup after the key change`);
  }
  const { backup, recovered } = outcome.outcomes.PASSKEY;
  assert.ok(backup.credentialId && recovered.credentialId === backup.credentialId, 'PASSKEY: recovered with the passkey the backup made');
  assert.deepEqual(outcome.listed.map((b) => b.backupMethod).sort(), ['GDRIVE', 'ICLOUD', 'PASSKEY', 'PASSWORD']);
  assert.deepEqual(outcome.deleted, { GDRIVE: 1, ICLOUD: 1, PASSWORD: 0, PASSKEY: 0 }, 'deleteBackup removed each cloud key');
  assert.deepEqual(outcome.listedAfterDelete, [], 'nothing left on the server');
  assert.equal(outcome.wrongPasswordCode, 'WRONG_PASSWORD');
  assert.equal(outcome.sealedViaJson, 'a share the wallet sealed itself', 'encryptShare’s result, kept as JSON, opens again');
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
  for (const target of TARGETS) {
    assert.ok(existsSync(join(ROOT, `pkg/${target}/package.json`)), `pkg/${target} is missing: run scripts/build first`);
  }
  mkdirSync(CACHE, { recursive: true });
  for (const app of APPS) {
    app.port = await freePort();
    if (app.withDevServer) app.devPort = await freePort();
  }
});

after(async () => {
  await browser?.close();
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  await Promise.all(
    devServers.filter((dev) => dev.exitCode === null).map((dev) => {
      const exited = new Promise((done) => dev.once('exit', done));
      process.kill(-dev.pid, 'SIGTERM');
      return exited;
    }),
  );
  await stack?.stop();
  for (const dir of runDirs) rmSync(dir, { recursive: true, force: true });
});

// What npm would publish from each target, file for file: the module, its
// types, the wasm (and the bundler build's second JS file), wasm-bindgen's
// inline snippets and the Argon2id module they import when a password first
// needs it (argon2-wasm/), the license texts, the README and package.json. Nothing
// else: no Rust sources, tests, source maps, the wasm's own .d.ts or
// wasm-pack's .gitignore.
const PUBLISHED = {
  web: ['LICENSE-APACHE', 'LICENSE-MIT', 'README.md', 'package.json', 'portal_backup.d.ts', 'portal_backup.js', 'portal_backup_bg.wasm'],
  bundler: ['LICENSE-APACHE', 'LICENSE-MIT', 'README.md', 'package.json', 'portal_backup.d.ts', 'portal_backup.js', 'portal_backup_bg.js', 'portal_backup_bg.wasm'],
};
const SNIPPET = /^snippets\/portal-backup-[0-9a-f]{16}\/(inline\d+\.js|argon2-wasm\/argon2id\.js)$/;
const LEFTOVER = /\.(rs|map|toml|lock|tgz|log)$|\.wasm\.d\.ts$|(^|\/)(tests?|src|target|node_modules|examples)\/|(^|\/)\.[^/]+$|(^|\/)Cargo\./;
const LICENSES = ['LICENSE-MIT', 'LICENSE-APACHE'];

/** The text of one file in a tarball npm packed. */
async function fromTarball(tarball, path) {
  return (await sh('tar', ['-xzOf', tarball, `package/${path}`])).stdout;
}

test('npm pack: each target’s tarball holds exactly the module, its types, the wasm, its snippets and the license texts', async () => {
  const packDir = mkdtempSync(join(CACHE, 'packed-'));
  runDirs.push(packDir);
  for (const target of TARGETS) {
    // Both targets pack to the same file name: one directory each.
    const dir = join(packDir, target);
    mkdirSync(dir);
    // `npm pack --json` lists what `npm pack --dry-run --json` would, and
    // also writes the tarball the apps below install.
    const { stdout } = await sh('npm', ['pack', join(ROOT, 'pkg', target), '--pack-destination', dir, '--json', '--loglevel=error'], dir);
    const [packed] = JSON.parse(stdout);
    const tarball = join(dir, packed.filename);
    const files = packed.files.map((f) => f.path).sort();
    const has = `the ${target} tarball has ${files.join(', ')}`;
    assert.deepEqual(files.filter((f) => LEFTOVER.test(f)), [], `source or test leftovers: ${has}`);
    const snippets = files.filter((f) => f.startsWith('snippets/'));
    assert.ok(snippets.length > 0 && snippets.every((f) => SNIPPET.test(f)), `only wasm-bindgen's inline snippets under snippets/: ${has}`);
    assert.deepEqual(files.filter((f) => !f.startsWith('snippets/')), PUBLISHED[target], has);
    // The tarball itself holds what npm listed, and the license texts as in the repository.
    const listing = (await sh('tar', ['-tzf', tarball])).stdout.split('\n').filter((line) => line && !line.endsWith('/'));
    assert.deepEqual(listing.map((line) => line.replace(/^package\//, '')).sort(), files, `the ${target} tarball's own listing`);
    for (const license of LICENSES) {
      assert.equal(await fromTarball(tarball, license), readFileSync(join(ROOT, license), 'utf8'), `${target}: ${license} as in the repository`);
    }
    // package.json: the license both texts are for, and an exports map
    // whose every entry is a file the tarball holds.
    const manifest = JSON.parse(await fromTarball(tarball, 'package.json'));
    assert.equal(manifest.license, 'MIT OR Apache-2.0');
    assert.deepEqual(manifest.exports['.'], { types: './portal_backup.d.ts', default: './portal_backup.js' });
    const exported = Object.values(manifest.exports).flatMap((entry) => (typeof entry === 'string' ? [entry] : Object.values(entry)));
    for (const path of exported) assert.ok(files.includes(path.replace(/^\.\//, '')), `${target}: exports names ${path}, which is not packed`);
    tarballs[target] = tarball;
  }
});

for (const app of APPS) {
  test(`${app.bundler} + ${app.target} target: npm install from the tarball, tsc (TypeScript 5 and 7; lib ES2020, ES2022, ESNext + DOM), build`, async (t) => {
    assert.ok(tarballs[app.target], 'npm pack did not run');
    let started = Date.now();
    const bundlerDir = await installBundler(app.bundler);
    const runDir = mkdtempSync(join(bundlerDir, 'run-'));
    runDirs.push(runDir);
    app.dir = await assembleApp(app, runDir);
    t.diagnostic(`install ${((Date.now() - started) / 1000).toFixed(1)} s`);

    // Built even when types fail, so the Chromium run still says whether it works.
    started = Date.now();
    const [bin, ...args] = BUNDLERS[app.bundler].build;
    await sh(join(bundlerDir, 'node_modules/.bin', bin), args, app.dir);
    assert.ok(existsSync(join(app.dir, 'dist/index.html')), 'the build wrote no dist/index.html');
    t.diagnostic(`build ${((Date.now() - started) / 1000).toFixed(1)} s`);

    started = Date.now();
    const failures = await typeCheck(app.dir, bundlerDir);
    t.diagnostic(`tsc ×${LIBS.length * 2} ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.ok(failures.length === 0, `the app does not type-check against the package:\n${failures.join('\n')}`);
  });

  test(`${app.bundler} + ${app.target} target: the built app backs up and recovers in Chromium with each method`, async (t) => {
    assert.ok(app.dir && existsSync(join(app.dir, 'dist/index.html')), 'the build step did not run');
    await serveStatic(join(app.dir, 'dist'), app.port);
    await backUpAndRecover(t, `http://localhost:${app.port}`, `package-${app.name}`);
  });

  // `npm run dev` is the first thing a Vite user runs; it serves the package
  // otherwise than the build does (pre-bundling, no rollup).
  if (app.withDevServer) {
    test(`${app.bundler} + ${app.target} target: the dev server's app backs up and recovers in Chromium`, async (t) => {
      assert.ok(app.dir, 'the install step did not run');
      const dev = spawn(join(CACHE, app.bundler, 'node_modules/.bin/vite'), ['--host', '127.0.0.1', '--port', String(app.devPort), '--strictPort'], {
        cwd: app.dir,
        detached: true,
        stdio: 'ignore',
      });
      devServers.push(dev);
      await waitForHttp(`http://127.0.0.1:${app.devPort}/`);
      await backUpAndRecover(t, `http://localhost:${app.devPort}`, `package-${app.name}-dev`);
    });
  }
}
