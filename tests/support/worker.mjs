// How tests, the browser-test services and the bench run the built Worker in
// workerd through Miniflare: one definition of the module rules and the
// compatibility date (read from worker/wrangler.toml, so they cannot drift).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SCRIPT_PATH = `${ROOT}worker/build/index.js`;

const wranglerToml = readFileSync(`${ROOT}worker/wrangler.toml`, 'utf8');
export const COMPATIBILITY_DATE = /^compatibility_date\s*=\s*"([0-9-]+)"/m.exec(wranglerToml)[1];

/** Miniflare's `workers[]` entry for a Worker bundle with KV binding SHARES. */
export function workerOptions({ name = 'portal-backup-worker', scriptPath = SCRIPT_PATH, kvNamespaces = ['SHARES'], bindings }) {
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
    bindings,
  };
}
