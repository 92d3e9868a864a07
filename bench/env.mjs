// Machine and tool versions for the BENCHMARKS.md header → bench/out/env.json.
// Usage: node bench/env.mjs start|end
import { execSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const file = new URL('out/env.json', import.meta.url);
const sh = (cmd) => { try { return execSync(cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return 'unavailable'; } };
const pkgVersion = (name) => { try { return JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')).version; } catch { return 'not installed'; } };

if (process.argv[2] === 'end') {
  const env = JSON.parse(readFileSync(file, 'utf8'));
  env.loadavg_end = loadavg().map((x) => x.toFixed(2));
  env.finished = new Date().toISOString();
  writeFileSync(file, JSON.stringify(env, null, 2));
} else {
  const os = existsSync('/etc/os-release') ? /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] : process.platform;
  writeFileSync(file, JSON.stringify({
    started: new Date().toISOString(),
    cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memory_gib: Math.round(totalmem() / 2 ** 30), os,
    kernel: sh('uname -r'),
    loadavg_start: loadavg().map((x) => x.toFixed(2)),
    commit: sh('git rev-parse --short HEAD') + (sh('git status --porcelain --untracked-files=no') ? ' (with uncommitted changes)' : ''),
    versions: {
      rustc: sh('rustc --version'),
      'rustc (npm package)': sh(`rustc +${process.env.PACKAGE_TOOLCHAIN} --version`), 'wasm-bindgen': sh('wasm-bindgen --version'), 'wasm-opt': sh('wasm-opt --version'),
      'worker-build': sh('worker-build --version'), node: process.version, chromium: sh('chromium --version'),
      wrangler: pkgVersion('wrangler'), miniflare: pkgVersion('miniflare'), workerd: pkgVersion('workerd'),
      'hash-wasm': pkgVersion('hash-wasm'), wrk: sh('wrk -v 2>&1 | head -1'),
    },
  }, null, 2));
}
