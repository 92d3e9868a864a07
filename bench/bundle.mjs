// 6. Worker bundle: what `wrangler deploy --dry-run --outdir` reports (it
// builds the deployable bundle offline), for the Rust Worker and, for
// scale, the JS comparison Worker.
// Usage: node bench/bundle.mjs   → bench/out/bundle.json
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseWasm, crateOf } from './lib/wasm-names.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'bench/out');
const wrangler = join(ROOT, 'node_modules/.bin/wrangler');

function dryRun(cwd, args, outdir) {
  rmSync(outdir, { recursive: true, force: true });
  const text = execFileSync(wrangler, ['deploy', '--dry-run', '--outdir', outdir, ...args], { cwd, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' } });
  const m = /Total Upload:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/.exec(text);
  if (!m) throw new Error(`wrangler printed no "Total Upload" line:\n${text}`);
  const files = readdirSync(outdir, { recursive: true }).filter((f) => statSync(join(outdir, f)).isFile())
    .map((f) => { const bytes = readFileSync(join(outdir, f)); return { file: f, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length }; });
  return { raw_bytes: Math.round(Number(m[1]) * 1024), gzip_bytes: Math.round(Number(m[2]) * 1024), wrangler_line: m[0], files };
}

const rust = dryRun(join(ROOT, 'worker'), [], join(OUT, 'bundle-rust'));
const js = dryRun(join(ROOT, 'bench/js-worker'), ['index.js', '--name', 'bench-js-worker', '--compatibility-date', '2026-04-26'], join(OUT, 'bundle-js'));
const kib = (b) => `${(b / 1024).toFixed(1)} KiB`;
const lines = [
  '`wrangler deploy --dry-run --outdir` (wrangler\'s own "Total Upload … / gzip …" line; the gzip figure is what counts against',
  'Cloudflare\'s Worker size limit).', '',
  '| Worker | total upload | gzip (wrangler) | files (raw / gzip -9 each) |', '| --- | ---: | ---: | --- |',
  `| Rust (\`worker/\`) | ${kib(rust.raw_bytes)} | **${kib(rust.gzip_bytes)}** | ${rust.files.map((f) => `\`${f.file}\` ${kib(f.raw)} / ${kib(f.gzip)}`).join(', ')} |`,
  `| JS comparison (\`bench/js-worker\`) | ${kib(js.raw_bytes)} | ${kib(js.gzip_bytes)} | ${js.files.map((f) => `\`${f.file}\` ${kib(f.raw)} / ${kib(f.gzip)}`).join(', ')} |`,
];
// Where the Worker's wasm goes, from its own name section (worker-build
// keeps it), and what the same wasm weighs without that section.
const wasmFile = join(ROOT, 'worker/build/index_bg.wasm');
const wasm = readFileSync(wasmFile);
const parsed = parseWasm(wasm);
const byCrate = new Map();
for (const f of parsed.functions) byCrate.set(crateOf(f.name), (byCrate.get(crateOf(f.name)) ?? 0) + f.size);
const codeBytes = parsed.functions.reduce((sum, f) => sum + f.size, 0);
const crates = [...byCrate].sort((a, b) => b[1] - a[1]).slice(0, 14);
const largest = [...parsed.functions].sort((a, b) => b.size - a.size).slice(0, 6).map((f) => ({ name: f.name.replace(/\[[0-9a-f]{8,}\]/g, '').replace(/::h[0-9a-f]{16}$/, ''), size: f.size }));
const stripped = join(OUT, 'worker-stripped.wasm');
execFileSync('wasm-opt', ['--strip-debug', '--strip-producers', '--enable-bulk-memory', '--enable-nontrapping-float-to-int', '--enable-sign-ext',
  '--enable-mutable-globals', '--enable-reference-types', '--enable-multivalue', wasmFile, '-o', stripped]);
const strippedBytes = readFileSync(stripped);
const jsGzip = rust.files.find((f) => f.file === 'index.js')?.gzip ?? 0;
const nameSection = parsed.sections['custom:name'] ?? 0;
lines.push('', `The Rust Worker's wasm: code ${kib(codeBytes)}, data ${kib(parsed.dataBytes)}, name section ${kib(nameSection)}` +
  ` (function names, kept by worker-build; nothing at run time needs them). Without the name section the wasm is`,
  `${kib(strippedBytes.length)} raw / ${kib(gzipSync(strippedBytes, { level: 9 }).length)} gzip -9, so the upload would be about ${kib(gzipSync(strippedBytes, { level: 9 }).length + jsGzip)} gzip with \`index.js\`.`,
  '', 'Code by crate (function bodies, generics counted for their defining crate):', '',
  '| crate | code | share |', '| --- | ---: | ---: |', ...crates.map(([c, b]) => `| ${c} | ${kib(b)} | ${(100 * b / codeBytes).toFixed(1)}% |`),
  '', 'Largest functions:', '', ...largest.map((f) => `- \`${f.name.slice(0, 90)}\` ${kib(f.size)}`),
  '', 'A `js_sys::futures::future_to_promise` closure that large is the Worker\'s whole async fetch handler inlined into the',
  'closure that drives it, not js-sys code.');
writeFileSync(join(OUT, 'bundle.json'), JSON.stringify({ gzip_bytes: rust.gzip_bytes, rust, js, worker_wasm: { codeBytes, nameSection, stripped_raw: strippedBytes.length, stripped_gzip: gzipSync(strippedBytes, { level: 9 }).length, js_gzip: jsGzip, crates, largest }, lines }, null, 2));
console.log(lines.join('\n'));
