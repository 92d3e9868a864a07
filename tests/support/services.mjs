// Runs a command while the services the browser tests talk to are up:
//   node tests/support/services.mjs -- wasm-pack test --headless --chrome --mode no-install
//
// - the Portal stand-in on 127.0.0.1:8790 (its webhooks point at the Worker),
// - the Google Drive stand-in on 127.0.0.1:8791,
// - the iCloud (CloudKit Web Services) stand-in on 127.0.0.1:8792,
// - the real Worker (worker/build, from scripts/build-worker) in workerd
//   through Miniflare, with an in-memory KV, on a free port behind
// - the edge (tests/standins/edge.mjs) on 127.0.0.1:8787: the Worker's one
//   address, where tests drop, delay or fail requests to the Worker.
// The wasm-bindgen-test page is pinned to http://127.0.0.1:8100
// (WASM_BINDGEN_TEST_ADDRESS) so the Worker's CORS allow-list can name it.
// Exits with the command's exit code; stops everything it started.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { SCRIPT_PATH, objectWorkerOptions, workerOptions } from './worker.mjs';
import { startDrive } from '../standins/drive.mjs';
import { startEdge } from '../standins/edge.mjs';
import { startICloud } from '../standins/icloud.mjs';
import { startPortal } from '../standins/portal.mjs';

const HOST = '127.0.0.1';
export const PORTS = Object.freeze({ worker: 8787, portal: 8790, drive: 8791, icloud: 8792, testPage: 8100 });
const TEST_PAGE_ORIGIN = `http://${HOST}:${PORTS.testPage}`;
const WEBHOOKS_ROOT = 'webhooks';

/** Starts the services; `stop()` ends them. */
export async function startServices({ log = () => {} } = {}) {
  if (!existsSync(SCRIPT_PATH)) throw new Error(`${SCRIPT_PATH} is missing: run scripts/build-worker first`);
  // Fresh per run: tests never depend on a fixed secret.
  const webhookSecret = randomBytes(24).toString('hex');
  const shareKeys = `test1:${randomBytes(32).toString('base64')}`;
  const workerUrl = `http://${HOST}:${PORTS.worker}`;

  const running = [];
  const stop = () => Promise.allSettled(running.map((service) => service.stop()));
  try {
    const portal = await startPortal({ port: PORTS.portal, host: HOST, webhookUrl: `${workerUrl}/${WEBHOOKS_ROOT}`, webhookSecret });
    running.push({ stop: () => portal.close() });
    const drive = await startDrive({ port: PORTS.drive, host: HOST });
    running.push({ stop: () => drive.close() });
    const icloud = await startICloud({ port: PORTS.icloud, host: HOST });
    running.push({ stop: () => icloud.close() });

    const mf = new Miniflare({
      cf: false,
      host: HOST,
      port: 0,
      handleRuntimeStdio(stdout, stderr) {
        stdout.on('data', (chunk) => log(`[worker] ${chunk}`));
        stderr.on('data', (chunk) => log(`[worker] ${chunk}`));
      },
      workers: [
        workerOptions({
          // The browser tests back up many times as one client; the limits
          // themselves are tested in tests/worker/limits.test.mjs.
          rateLimits: { CLIENT_WRITES: 100_000 },
          bindings: {
            WEBHOOKS_ROOT,
            PORTAL_API_BASE: portal.url,
            ALLOWED_ORIGINS: `${TEST_PAGE_ORIGIN},http://localhost:${PORTS.testPage}`,
            NOTIFY_PORTAL: 'true',
            WEBHOOK_SECRET: webhookSecret,
            SHARE_ENCRYPTION_KEYS: shareKeys,
          },
        }),
        ...objectWorkerOptions(),
      ],
    });
    running.push({ stop: () => mf.dispose() });
    const edge = await startEdge({ upstream: String(await mf.ready), port: PORTS.worker, host: HOST });
    running.push({ stop: () => edge.close() });
    return { portal, drive, icloud, mf, edge, workerUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function main() {
  const dash = process.argv.indexOf('--');
  const command = dash < 0 ? [] : process.argv.slice(dash + 1);
  if (command.length === 0) {
    console.error('usage: node tests/support/services.mjs -- <command> [args...]');
    process.exit(2);
  }
  const verbose = Boolean(process.env.SERVICES_VERBOSE);
  const services = await startServices({ log: verbose ? (line) => process.stderr.write(line) : () => {} });
  console.error(`services up: worker ${services.workerUrl}, portal ${services.portal.url}, drive ${services.drive.url}, icloud ${services.icloud.url}`);

  const child = spawn(command[0], command.slice(1), {
    stdio: 'inherit',
    env: {
      ...process.env,
      WASM_BINDGEN_TEST_ADDRESS: `${HOST}:${PORTS.testPage}`,
      // A web wallet is rarely cross-origin isolated; test like one.
      WASM_BINDGEN_TEST_NO_ORIGIN_ISOLATION: "1",
      // For the whole run, not per test: the fault matrix alone takes minutes.
      WASM_BINDGEN_TEST_TIMEOUT: process.env.WASM_BINDGEN_TEST_TIMEOUT ?? '600',
    },
  });
  const forward = (signal) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const code = await new Promise((resolve) => child.on('exit', (status, signal) => resolve(status ?? (signal ? 1 : 0))));
  await services.stop();
  process.exit(code);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    console.error(`services failed: ${err.message}`);
    process.exit(1);
  });
}
