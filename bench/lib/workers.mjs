// Starts a Worker in workerd through Miniflare on its own port, the way
// tests/support/services.mjs runs the real one, with bench-only ports and
// optional on-disk KV (for the 100,000-client preload).
import { Miniflare } from 'miniflare';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KV_WORKER, objectWorkerOptions, workerOptions } from '../../tests/support/worker.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const WEBHOOKS_ROOT = 'webhooks';
export const WORKERS = {
  rust: { scriptPath: `${ROOT}worker/build/index.js`, label: 'Rust Worker (worker/build, with its Durable Object script worker/build-object)' },
  // The JS Worker names its own Durable Object binding and class (the ones
  // the Rust Worker has in worker/wrangler.toml since issue 14); the Rust
  // Worker's are read from worker/wrangler.toml (tests/support/worker.mjs).
  js: { scriptPath: `${ROOT}bench/js-worker/index.js`, label: 'JS Worker (bench/js-worker)', durableObjects: { BACKUP_DIRECTORY: 'BackupDirectory' } },
};

/**
 * {kind, scriptPath?, port, portalUrl, webhookSecret, shareKeys, kvPersist?, notifyPortal?, rateLimits?, inspectorPort?}
 * → {url, mf, kv(), cpuSeconds(), stop()}. `cpuSeconds()` is the CPU time its
 * workerd process has used (every isolate a request passes through: the
 * Worker, Miniflare's entry and its KV simulation). Both kinds get the same bindings: KV SHARES, the
 * BACKUP_DIRECTORY Durable Object (class BackupDirectory; the Rust Worker's
 * read from worker/wrangler.toml, the JS Worker's named in WORKERS.js) and
 * the Rate Limiting bindings of worker/wrangler.toml (`rateLimits`
 * overrides limits, as in the tests).
 */
/** The workerd processes this Node process started, by pid. */
function workerdChildren() {
  const pids = new Set();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (stat.includes('(workerd)') && Number(fields[1]) === process.pid) pids.add(Number(pid));
    } catch { /* gone meanwhile */ }
  }
  return pids;
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100 on Linux)
}

export async function startWorker({ kind, scriptPath = WORKERS[kind].scriptPath, port, portalUrl, webhookSecret, shareKeys, kvPersist, notifyPortal = true, rateLimits = {}, inspectorPort, log = null }) {
  const before = workerdChildren();
  const mf = new Miniflare({
    cf: false,
    host: '127.0.0.1',
    port,
    // Both Workers log one JSON line per request; drain it, or the pipe fills.
    handleRuntimeStdio(stdout, stderr) {
      stdout.on('data', (c) => log?.(c));
      stderr.on('data', (c) => log?.(c));
    },
    kvPersist: kvPersist ?? false,
    // workerd's own DevTools inspector (bench/profile-worker.mjs).
    ...(inspectorPort === undefined ? {} : { inspectorPort }),
    workers: [workerOptions({
      name: `bench-${kind}`,
      scriptPath,
      // The Rust edge Worker has no KV binding: its object's script holds it.
      kvNamespaces: kind === 'rust' ? [] : { SHARES: `bench-shares-${kind}` },
      durableObjects: WORKERS[kind].durableObjects,
      rateLimits,
      bindings: {
        WEBHOOKS_ROOT, PORTAL_API_BASE: portalUrl ?? 'http://127.0.0.1:9', ALLOWED_ORIGINS: 'http://127.0.0.1:8800,http://localhost:8800',
        NOTIFY_PORTAL: String(notifyPortal), WEBHOOK_SECRET: webhookSecret, SHARE_ENCRYPTION_KEYS: shareKeys,
      },
    }),
    // The Rust Worker's Durable Object is a script of its own (worker/object);
    // the JS Worker keeps its class in its one script.
    ...(kind === 'rust' ? objectWorkerOptions({ kvNamespaces: { SHARES: `bench-shares-${kind}` } }) : [])],
  });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  const pids = [...workerdChildren()].filter((pid) => !before.has(pid));
  return {
    url, mf, kv: () => mf.getKVNamespace('SHARES', kind === 'rust' ? KV_WORKER : undefined), stop: () => mf.dispose(),
    cpuSeconds: () => (pids.length === 1 ? cpuSeconds(pids[0]) : NaN),
  };
}
