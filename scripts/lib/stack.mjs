// The demo stack: the Worker in `wrangler dev --local` serving www/ (plus the
// npm package wasm-pack built into pkg/web) as static assets on the same
// origin, and the Google Drive, iCloud (CloudKit) and Portal stand-ins, with
// Portal's webhook pointed at the Worker. scripts/demo runs it on the default
// ports; the end-to-end and package tests run it on their own ports with a
// fresh KV.
//
// Every child runs in its own process group so stop() can end it with all
// of its children (wrangler starts workerd).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ICLOUD_API_TOKEN, DEFAULT_ICLOUD_CONTAINER, DEFAULT_ICLOUD_ENVIRONMENT } from '../../tests/standins/icloud.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_PORTS = Object.freeze({ worker: 8787, portal: 8790, drive: 8791, icloud: 8792 });
export const WEBHOOKS_ROOT = 'webhooks';
// Demo accounts of the stand-ins (tests/standins/README.md).
export const DEMO_PORTAL_TOKEN = 'test-token-alice';
export const DEMO_DRIVE_TOKEN = 'drive-token-alice';
// The app's CloudKit settings for the iCloud stand-in; the user signs in
// through the stand-in's sign-in page (its AUTHENTICATION_REQUIRED redirectURL).
export const DEMO_ICLOUD = Object.freeze({
  container: DEFAULT_ICLOUD_CONTAINER,
  environment: DEFAULT_ICLOUD_ENVIRONMENT,
  apiToken: DEFAULT_ICLOUD_API_TOKEN,
});

const WORKER_BUNDLE = join(ROOT, 'worker/build/index.js');
// The client's Durable Object, a script of its own (worker/object).
const OBJECT_BUNDLE = join(ROOT, 'worker/build-object/index.js');
const WRANGLER = join(ROOT, 'node_modules/wrangler/bin/wrangler.js');
// Not later than the workerd that wrangler 4.86.0 bundles.
const FALLBACK_COMPATIBILITY_DATE = '2026-04-26';

/** Reads KEY=value lines (the .dev.vars format). */
export function readDevVars(file) {
  const vars = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (match) vars[match[1]] = match[2].replace(/^"(.*)"$/, '$1');
  }
  return vars;
}

/** Fresh demo-only secrets: the webhook secret Portal sends and the at-rest key. */
export function newDemoSecrets() {
  return {
    WEBHOOK_SECRET: randomBytes(32).toString('hex'),
    SHARE_ENCRYPTION_KEYS: `demo1:${randomBytes(32).toString('base64')}`,
  };
}

/** Writes `file` with fresh demo secrets unless it exists; returns its vars. */
export function ensureDevVars(file) {
  if (!existsSync(file)) {
    const secrets = newDemoSecrets();
    const text =
      '# Demo-only secrets for scripts/demo, generated on first run. Never commit.\n' +
      Object.entries(secrets).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text, { mode: 0o600 });
  }
  return readDevVars(file);
}

function compatibilityDate() {
  const config = join(ROOT, 'worker/wrangler.toml');
  if (existsSync(config)) {
    const match = /^compatibility_date\s*=\s*"([0-9-]+)"/m.exec(readFileSync(config, 'utf8'));
    if (match) return match[1];
  }
  return FALLBACK_COMPATIBILITY_DATE;
}

/** www/ plus the npm package under pkg/, plus the page's config. */
function assembleSite(siteDir, pageConfig) {
  const pkgDir = join(ROOT, 'pkg/web');
  if (!existsSync(join(pkgDir, 'portal_backup.js'))) {
    throw new Error('pkg/web is missing: run scripts/build web first');
  }
  rmSync(siteDir, { recursive: true, force: true });
  const visible = (src) => !src.split('/').pop().startsWith('.');
  cpSync(join(ROOT, 'www'), siteDir, { recursive: true, filter: visible });
  cpSync(pkgDir, join(siteDir, 'pkg'), { recursive: true, filter: visible });
  writeFileSync(join(siteDir, 'demo-config.json'), JSON.stringify(pageConfig, null, 2) + '\n');
}

/**
 * The Durable Object, migration and rate-limit sections of
 * worker/wrangler.toml, copied as they are so the demo runs what deploys;
 * rateLimits ({ CLIENT_WRITES: 1000 }) raises a named limit for a test that
 * is about something else.
 */
function bindingSections(rateLimits = {}, { file = 'worker/wrangler.toml', objectScript } = {}) {
  const toml = readFileSync(join(ROOT, file), 'utf8');
  return [...toml.matchAll(/^\[\[(?:durable_objects\.bindings|migrations|ratelimits)\]\]\n(?:[^\n[#][^\n]*\n)+/gm)]
    .map(([section]) => {
      // This stack's own object script (one per stack, so stacks side by side never share one).
      if (objectScript) section = section.replace(/^script_name = "[^"]*"/m, `script_name = "${objectScript}"`);
      const name = /^name = "([A-Z_]+)"/m.exec(section)?.[1];
      if (!section.startsWith('[[ratelimits]]') || !(name in rateLimits)) return section;
      return section.replace(/limit = \d+/, `limit = ${rateLimits[name]}`);
    })
    .join('\n');
}

/** The object's script (worker/object/wrangler.toml), for the same local KV. */
function objectWranglerConfig({ name }) {
  return `# Generated by scripts/lib/stack.mjs: the client's Durable Object's script.
name = "${name}"
main = ${JSON.stringify(OBJECT_BUNDLE)}
compatibility_date = "${compatibilityDate()}"
send_metrics = false

[[kv_namespaces]]
binding = "SHARES"
id = "portal-backup-demo"

${bindingSections({}, { file: 'worker/object/wrangler.toml' })}`;
}

function wranglerConfig({ name, objectScript, ports, siteDir, extraOrigins, rateLimits }) {
  const origins = [`http://127.0.0.1:${ports.worker}`, `http://localhost:${ports.worker}`, ...extraOrigins];
  return `# Generated by scripts/lib/stack.mjs for the demo and the end-to-end tests.
name = "${name}"
main = ${JSON.stringify(WORKER_BUNDLE)}
compatibility_date = "${compatibilityDate()}"
send_metrics = false

[assets]
directory = ${JSON.stringify(siteDir)}

${bindingSections(rateLimits, { objectScript })}
[vars]
WEBHOOKS_ROOT = "${WEBHOOKS_ROOT}"
PORTAL_API_BASE = "http://127.0.0.1:${ports.portal}"
ALLOWED_ORIGINS = "${origins.join(',')}"
NOTIFY_PORTAL = "true"
`;
}

// Groups still running; whatever way this process exits, they go with it.
const liveGroups = new Set();
process.on('exit', () => {
  for (const pid of liveGroups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

function startGroup(name, command, args, { logFile, env, cwd = ROOT, inherit }) {
  const out = inherit ? 'inherit' : openSync(logFile, 'a');
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', out, out] });
  liveGroups.add(child.pid);
  const exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
  return { name, child, exited };
}

async function stopGroup({ child, exited }, graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const signal = (sig) => {
    try {
      process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
  signal('SIGINT');
  const timer = setTimeout(() => signal('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  // workerd may outlive wrangler by a moment; the group must be empty.
  signal('SIGKILL');
  liveGroups.delete(child.pid);
}

/** A port nothing listens on right now (tests run side by side on one machine). */
export function freePort() {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
  });
}

function ensurePortFree(port, what) {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', () => fail(new Error(`port ${port} (${what}) is in use: stop what runs there first`)));
    probe.listen(port, '127.0.0.1', () => probe.close(done));
  });
}

async function waitFor(url, { timeoutMs, isReady = (r) => r.ok, stopped }) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (stopped()) throw new Error(`${url}: the process exited before it answered`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (isReady(response)) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error.cause?.code ?? error.message;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${url} did not come up within ${timeoutMs} ms (${last})`);
}

/**
 * Starts the stack. Options:
 * - ports: { worker, portal, drive, icloud } (icloud: a free port if not given)
 * - stateDir: generated config, site and logs (wiped of old site)
 * - persistTo: wrangler's local KV state (kept between runs by the demo)
 * - secrets: { WEBHOOK_SECRET, SHARE_ENCRYPTION_KEYS }
 * - googleClientId: a real OAuth client id, or none for the Drive stand-in
 * - extraOrigins: more origins the Worker allows (CORS), e.g. another app's
 * - rateLimits: { BINDING: limit } raised above wrangler.toml's, per minute
 * - inheritOutput: children write to this terminal instead of log files
 * - icloudStateFile: where the iCloud stand-in keeps its records between
 *   runs (default stateDir/icloud-stand-in.json; null: not kept)
 * Returns { url, ports, pageConfig, portalUrl, driveUrl, icloudUrl, logDir, stop() }.
 */
export async function startStack({
  ports = DEFAULT_PORTS,
  stateDir,
  persistTo = join(stateDir, 'kv'),
  secrets,
  googleClientId = '',
  extraOrigins = [],
  rateLimits = {},
  inheritOutput = false,
  icloudStateFile,
  timeoutMs = 60_000,
} = {}) {
  if (!existsSync(WORKER_BUNDLE) || !existsSync(OBJECT_BUNDLE)) throw new Error('worker/build or worker/build-object is missing: run scripts/build-worker first');
  for (const name of ['WEBHOOK_SECRET', 'SHARE_ENCRYPTION_KEYS']) {
    if (!secrets?.[name]) throw new Error(`secret ${name} is missing`);
  }
  // Callers that predate the iCloud stand-in name three ports; it gets a free one.
  ports = { ...ports, icloud: ports.icloud ?? (await freePort()) };
  for (const [what, port] of Object.entries(ports)) await ensurePortFree(port, what);
  const inspectorPort = await freePort();
  mkdirSync(stateDir, { recursive: true });
  const portalUrl = `http://127.0.0.1:${ports.portal}`;
  const driveUrl = `http://127.0.0.1:${ports.drive}`;
  const icloudUrl = `http://127.0.0.1:${ports.icloud}`;
  if (icloudStateFile === undefined) icloudStateFile = join(stateDir, 'icloud-stand-in.json');
  const url = `http://127.0.0.1:${ports.worker}`;

  const siteDir = join(stateDir, 'site');
  const pageConfig = {
    portalApiUrl: portalUrl,
    portalLabel: 'local stand-in',
    portalToken: DEMO_PORTAL_TOKEN,
    driveApiUrl: driveUrl,
    driveToken: googleClientId ? undefined : DEMO_DRIVE_TOKEN,
    googleClientId: googleClientId || undefined,
    // CloudKit Web Services' base (https://api.apple-cloudkit.com for the real one).
    icloudApiUrl: icloudUrl,
    icloudContainer: DEMO_ICLOUD.container,
    icloudEnvironment: DEMO_ICLOUD.environment,
    icloudApiToken: DEMO_ICLOUD.apiToken,
  };
  assembleSite(siteDir, pageConfig);
  const configFile = join(stateDir, 'wrangler.toml');
  const objectScript = `portal-backup-directory-${ports.worker}`;
  writeFileSync(configFile, wranglerConfig({ name: `portal-backup-demo-${ports.worker}`, objectScript, ports, siteDir, extraOrigins, rateLimits }));
  const objectConfigFile = join(stateDir, 'object', 'wrangler.toml');
  mkdirSync(dirname(objectConfigFile), { recursive: true });
  writeFileSync(objectConfigFile, objectWranglerConfig({ name: objectScript }));
  // wrangler reads secrets from .dev.vars next to its config.
  writeFileSync(join(stateDir, '.dev.vars'), Object.entries(secrets).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });

  const logDir = join(stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const groups = [];
  const stop = async () => {
    await Promise.all(groups.splice(0).map((g) => stopGroup(g)));
  };
  try {
    groups.push(
      startGroup(
        'stand-ins',
        process.execPath,
        [
          join(ROOT, 'tests/standins/serve.mjs'),
          '--portal-port', String(ports.portal),
          '--drive-port', String(ports.drive),
          '--icloud-port', String(ports.icloud),
          ...(icloudStateFile ? ['--icloud-state', icloudStateFile] : []),
          '--webhook-url', `${url}/${WEBHOOKS_ROOT}`,
          '--webhook-secret', secrets.WEBHOOK_SECRET,
        ],
        { logFile: join(logDir, 'standins.log'), inherit: inheritOutput },
      ),
    );
    groups.push(
      startGroup(
        'worker',
        process.execPath,
        [
          WRANGLER, 'dev', '--local',
          // The edge Worker first (it serves the port), then the object's script.
          '--config', configFile,
          '--config', objectConfigFile,
          '--ip', '127.0.0.1', '--port', String(ports.worker),
          '--inspector-port', String(inspectorPort),
          '--persist-to', persistTo,
          '--show-interactive-dev-session=false',
          '--log-level', 'warn',
        ],
        {
          logFile: join(logDir, 'wrangler.log'),
          inherit: inheritOutput,
          env: { WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', CI: '1' },
        },
      ),
    );
    const stopped = (name) => () => {
      const { child } = groups.find((g) => g.name === name);
      return child.exitCode !== null || child.signalCode !== null;
    };
    await Promise.all([
      waitFor(`${portalUrl}/__control/log`, { timeoutMs, stopped: stopped('stand-ins') }),
      waitFor(`${driveUrl}/__control/log`, { timeoutMs, stopped: stopped('stand-ins') }),
      waitFor(`${icloudUrl}/__control/log`, { timeoutMs, stopped: stopped('stand-ins') }),
      waitFor(`${url}/demo-config.json`, { timeoutMs, stopped: stopped('worker') }),
    ]);
  } catch (error) {
    await stop();
    throw new Error(`${error.message} (logs in ${logDir})`);
  }
  return { url, ports, pageConfig, portalUrl, driveUrl, icloudUrl, logDir, secrets, stop };
}
