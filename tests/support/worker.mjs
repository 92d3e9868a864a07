// How tests, the browser-test services and the bench run the built Worker in
// workerd through Miniflare: one definition of the module rules, the
// compatibility date, the Durable Object and the rate limits (read from
// worker/wrangler.toml and worker/object/wrangler.toml, so they cannot
// drift). The deployment is two scripts: the edge Worker (worker/build) and
// the client's Durable Object (worker/build-object), bound by script name;
// every Miniflare here runs both (`workerOptions` and `objectWorkerOptions`).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// WORKER_SCRIPT runs another bundle, say an older build kept to compare
// with; a wrangler.toml beside it (that build's own) then gives its Durable
// Object bindings and date, which a newer worker/wrangler.toml may rename.
export const SCRIPT_PATH = process.env.WORKER_SCRIPT ? resolve(process.env.WORKER_SCRIPT) : `${ROOT}worker/build/index.js`;
const besideScript = join(dirname(SCRIPT_PATH), 'wrangler.toml');

const wranglerToml = readFileSync(existsSync(besideScript) ? besideScript : `${ROOT}worker/wrangler.toml`, 'utf8');
export const COMPATIBILITY_DATE = /^compatibility_date\s*=\s*"([0-9-]+)"/m.exec(wranglerToml)[1];

/** The Durable Object bindings of worker/wrangler.toml: `{NAME: className}`. */
export const DURABLE_OBJECTS = Object.fromEntries(
  [...wranglerToml.matchAll(/\[\[durable_objects\.bindings\]\]\s*name\s*=\s*"(\w+)"\s*class_name\s*=\s*"(\w+)"/g)].map((m) => [m[1], m[2]]),
);

// The object's own script, when the edge Worker's binding names one
// (`script_name`); an older single-script bundle (WORKER_SCRIPT) has none.
const objectScriptName = /^script_name\s*=\s*"([\w-]+)"/m.exec(wranglerToml)?.[1];
export const OBJECT_SCRIPT_PATH = `${ROOT}worker/build-object/index.js`;

/**
 * Which worker holds KV binding SHARES, for `mf.getKVNamespace('SHARES',
 * KV_WORKER)`: only the object's script reads and writes KV (the edge
 * Worker has no KV binding); a single-script bundle holds it itself.
 */
export const KV_WORKER = objectScriptName;
const KV_AT_EDGE = objectScriptName ? [] : ['SHARES'];

/**
 * The edge Worker's Durable Object bindings as Miniflare takes them: each
 * class in the object's script, or (a single-script bundle) its own.
 */
export const OBJECTS_ELSEWHERE = Object.fromEntries(
  Object.entries(DURABLE_OBJECTS).map(([binding, className]) => [binding, objectScriptName ? { className, scriptName: objectScriptName } : className]),
);

const moduleRules = (scriptPath) => ({
  modules: true,
  scriptPath,
  // Module names are paths from here: a bundle outside the working directory works too.
  modulesRoot: dirname(scriptPath),
  modulesRules: [
    { type: 'ESModule', include: ['**/*.js'] },
    { type: 'CompiledWasm', include: ['**/*.wasm'] },
  ],
});

/**
 * Miniflare's `workers[]` entry for the object's script (worker/object):
 * the `BackupDirectory` class, with KV binding SHARES (or `wrappedBindings`
 * for it), or `[]` for a single-script bundle, whose edge Worker holds it.
 */
export function objectWorkerOptions({ kvNamespaces = ['SHARES'], wrappedBindings } = {}) {
  if (!objectScriptName) return [];
  return [{
    name: objectScriptName,
    ...moduleRules(OBJECT_SCRIPT_PATH),
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces,
    ...(wrappedBindings ? { wrappedBindings } : {}),
    durableObjects: DURABLE_OBJECTS,
  }];
}

/** The `[[ratelimits]]` of worker/wrangler.toml: `{NAME: {simple: {limit, period}}}`. */
export const RATE_LIMITS = Object.fromEntries(
  [...wranglerToml.matchAll(/\[\[ratelimits\]\]\s*name\s*=\s*"(\w+)"[^[]*?simple\s*=\s*\{\s*limit\s*=\s*(\d+)\s*,\s*period\s*=\s*(\d+)\s*\}/g)].map(
    (m) => [m[1], { simple: { limit: Number(m[2]), period: Number(m[3]) } }],
  ),
);

/**
 * Miniflare's `workers[]` entry for the edge Worker's bundle: the binding
 * to the client's Durable Object (in the object's script: add
 * `objectWorkerOptions()` beside it; only that script has KV) and the rate
 * limits. `rateLimits` overrides
 * some limits (`{CLIENT_WRITES: 1000}`): tests that are not about limits
 * raise them, tests about limits lower them.
 */
export function workerOptions({ name = 'portal-backup-worker', scriptPath = SCRIPT_PATH, kvNamespaces = KV_AT_EDGE, durableObjects = OBJECTS_ELSEWHERE, bindings, rateLimits = {} }) {
  const ratelimits = structuredClone(RATE_LIMITS);
  for (const [binding, limit] of Object.entries(rateLimits)) ratelimits[binding].simple.limit = limit;
  return {
    name,
    ...moduleRules(scriptPath),
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces,
    durableObjects,
    ratelimits,
    bindings,
  };
}
