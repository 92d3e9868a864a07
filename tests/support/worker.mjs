// How tests, the browser-test services and the bench run the built Worker in
// workerd through Miniflare: one definition of the module rules, the
// compatibility date, the Durable Object and the rate limits (read from
// worker/wrangler.toml, so they cannot drift).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SCRIPT_PATH = `${ROOT}worker/build/index.js`;

const wranglerToml = readFileSync(`${ROOT}worker/wrangler.toml`, 'utf8');
export const COMPATIBILITY_DATE = /^compatibility_date\s*=\s*"([0-9-]+)"/m.exec(wranglerToml)[1];

/** The Durable Object bindings of worker/wrangler.toml: `{NAME: className}`. */
export const DURABLE_OBJECTS = Object.fromEntries(
  [...wranglerToml.matchAll(/\[\[durable_objects\.bindings\]\]\s*name\s*=\s*"(\w+)"\s*class_name\s*=\s*"(\w+)"/g)].map((m) => [m[1], m[2]]),
);

/** The `[[ratelimits]]` of worker/wrangler.toml: `{NAME: {simple: {limit, period}}}`. */
export const RATE_LIMITS = Object.fromEntries(
  [...wranglerToml.matchAll(/\[\[ratelimits\]\]\s*name\s*=\s*"(\w+)"[^[]*?simple\s*=\s*\{\s*limit\s*=\s*(\d+)\s*,\s*period\s*=\s*(\d+)\s*\}/g)].map(
    (m) => [m[1], { simple: { limit: Number(m[2]), period: Number(m[3]) } }],
  ),
);

/**
 * Miniflare's `workers[]` entry for a Worker bundle with KV binding SHARES,
 * the custodian Durable Object and the rate limits. `rateLimits` overrides
 * some limits (`{CLIENT_WRITES: 1000}`): tests that are not about limits
 * raise them, tests about limits lower them.
 */
export function workerOptions({ name = 'portal-backup-worker', scriptPath = SCRIPT_PATH, kvNamespaces = ['SHARES'], durableObjects = DURABLE_OBJECTS, bindings, rateLimits = {} }) {
  const ratelimits = structuredClone(RATE_LIMITS);
  for (const [binding, limit] of Object.entries(rateLimits)) ratelimits[binding].simple.limit = limit;
  return {
    name,
    modules: true,
    scriptPath,
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces,
    durableObjects,
    ratelimits,
    bindings,
  };
}
