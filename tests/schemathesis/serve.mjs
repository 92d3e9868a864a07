// Runs a command while the real Worker (worker/build, from
// scripts/build-worker) serves on a local port in workerd through
// Miniflare, next to the Portal stand-in that verifies its Bearer tokens:
//
//   node tests/schemathesis/serve.mjs -- <command> [args...]
//
// The command gets WORKER_URL, WEBHOOK_SECRET and PORTAL_TOKEN (a token the
// stand-in accepts) in its environment; scripts/test runs Schemathesis this
// way (tests/schemathesis/run). Ports: the Worker on SCHEMATHESIS_PORT
// (default: any free port, so runs side by side never collide), the
// stand-in on any free port. KV and the Durable Objects
// are in memory, fresh every run. Exits with the command's exit code.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Miniflare } from 'miniflare';
import { RATE_LIMITS, SCRIPT_PATH, objectWorkerOptions, workerOptions } from '../support/worker.mjs';
import { DEFAULT_CLIENT_TOKENS, startPortal } from '../standins/portal.mjs';

const HOST = '127.0.0.1';
const PORT = Number(process.env.SCHEMATHESIS_PORT ?? 0);

const dash = process.argv.indexOf('--');
const command = dash < 0 ? [] : process.argv.slice(dash + 1);
if (command.length === 0) {
  console.error('usage: node tests/schemathesis/serve.mjs -- <command> [args...]');
  process.exit(2);
}
if (!existsSync(SCRIPT_PATH)) {
  console.error(`${SCRIPT_PATH} is missing: run scripts/build-worker first`);
  process.exit(1);
}

const webhookSecret = randomBytes(24).toString('hex');
const portalToken = Object.keys(DEFAULT_CLIENT_TOKENS)[0];
const portal = await startPortal({ host: HOST, port: 0 });
// The rate limits stay on, but far above what one run sends: Schemathesis
// sends a wrong secret and a missing one after every accepted webhook call
// (its ignored_auth check) and hundreds of writes for one client, and each
// of those must get the answer under test, not 429. The 429s themselves
// are tested in tests/worker/limits.test.mjs.
const rateLimits = Object.fromEntries(Object.keys(RATE_LIMITS).map((name) => [name, 1_000_000]));
const mf = new Miniflare({
  cf: false,
  host: HOST,
  port: PORT,
  // The Worker's one log line per request only with SCHEMATHESIS_VERBOSE=1.
  handleRuntimeStdio(stdout, stderr) {
    for (const stream of [stdout, stderr]) stream.on('data', (chunk) => process.env.SCHEMATHESIS_VERBOSE && process.stderr.write(chunk));
  },
  workers: [
    workerOptions({
      rateLimits,
      bindings: {
        WEBHOOKS_ROOT: 'webhooks',
        PORTAL_API_BASE: portal.url,
        ALLOWED_ORIGINS: 'https://wallet.example',
        NOTIFY_PORTAL: 'true',
        WEBHOOK_SECRET: webhookSecret,
        SHARE_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      },
    }),
    ...objectWorkerOptions(),
  ],
});
const stop = async () => {
  await mf.dispose();
  await portal.close();
};
let code = 1;
try {
  const url = (await mf.ready).href.replace(/\/$/, '');
  console.error(`Worker ${url} (Portal stand-in ${portal.url})`);
  const child = spawn(command[0], command.slice(1), {
    stdio: 'inherit',
    env: { ...process.env, WORKER_URL: url, WEBHOOK_SECRET: webhookSecret, PORTAL_TOKEN: portalToken },
  });
  const forward = (signal) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  code = await new Promise((resolve) => child.on('exit', (status, signal) => resolve(status ?? (signal ? 1 : 0))));
} finally {
  await stop();
}
process.exit(code);
