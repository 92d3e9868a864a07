// 6. Worker bundle: what `wrangler deploy --dry-run --outdir` reports (it
// builds the deployable bundle offline), for the Rust Worker and, for
// scale, the JS comparison Worker.
// Usage: node bench/bundle.mjs   → bench/out/bundle.json
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync, rmSync } from 'node:fs';
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
// The client's Durable Object is a script of its own (worker/object), bound
// by the edge Worker by script name: its bundle counts against its own limit.
const object = dryRun(join(ROOT, 'worker/object'), [], join(OUT, 'bundle-object'));
const js = dryRun(join(ROOT, 'bench/js-worker'), ['index.js', '--name', 'bench-js-worker', '--compatibility-date', '2026-04-26'], join(OUT, 'bundle-js'));
const kib = (b) => `${(b / 1024).toFixed(1)} KiB`;
const lines = [
  '`wrangler deploy --dry-run --outdir` (wrangler\'s own "Total Upload … / gzip …" line; the gzip figure is what counts against',
  'Cloudflare\'s Worker size limit).', '',
  '| Worker | total upload | gzip (wrangler) | files (raw / gzip -9 each) |', '| --- | ---: | ---: | --- |',
  `| Rust, the edge Worker (\`worker/\`) | ${kib(rust.raw_bytes)} | **${kib(rust.gzip_bytes)}** | ${rust.files.map((f) => `\`${f.file}\` ${kib(f.raw)} / ${kib(f.gzip)}`).join(', ')} |`,
  `| Rust, the client's Durable Object (\`worker/object\`, its own script) | ${kib(object.raw_bytes)} | ${kib(object.gzip_bytes)} | ${object.files.map((f) => `\`${f.file}\` ${kib(f.raw)} / ${kib(f.gzip)}`).join(', ')} |`,
  `| JS comparison (\`bench/js-worker\`, one script with its object) | ${kib(js.raw_bytes)} | ${kib(js.gzip_bytes)} | ${js.files.map((f) => `\`${f.file}\` ${kib(f.raw)} / ${kib(f.gzip)}`).join(', ')} |`,
];
// Where the Worker's wasm goes: by function names, from the named copy
// scripts/build-worker keeps beside the stripped, deployed wasm.
const deployedFile = join(ROOT, 'worker/build/index_bg.wasm');
const namedFile = join(ROOT, 'worker/build/index_bg.named.wasm');
const deployed = parseWasm(readFileSync(deployedFile));
const parsed = parseWasm(readFileSync(existsSync(namedFile) ? namedFile : deployedFile));
const byCrate = new Map();
for (const f of parsed.functions) byCrate.set(crateOf(f.name), (byCrate.get(crateOf(f.name)) ?? 0) + f.size);
const codeBytes = parsed.functions.reduce((sum, f) => sum + f.size, 0);
const crates = [...byCrate].sort((a, b) => b[1] - a[1]).slice(0, 14);
const largest = [...parsed.functions].sort((a, b) => b.size - a.size).slice(0, 6).map((f) => ({ name: f.name.replace(/\[[0-9a-f]{8,}\]/g, '').replace(/::h[0-9a-f]{16}$/, ''), size: f.size }));
const nameSection = deployed.sections['custom:name'] ?? 0;
const jsGzip = rust.files.find((f) => f.file === 'index.js')?.gzip ?? 0;
let stripped = null;
if (nameSection > 0) {
  const out = join(OUT, 'worker-stripped.wasm');
  execFileSync('wasm-opt', ['--strip-debug', '--strip-producers', '--enable-bulk-memory', '--enable-nontrapping-float-to-int', '--enable-sign-ext',
    '--enable-mutable-globals', '--enable-reference-types', '--enable-multivalue', deployedFile, '-o', out]);
  const bytes = readFileSync(out);
  stripped = { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}
lines.push('', `The deployed wasm: code ${kib(deployed.functions.reduce((sum, f) => sum + f.size, 0))}, data ${kib(deployed.dataBytes)}, ` +
  (nameSection ? `name section ${kib(nameSection)} (function names; nothing at run time needs them). Without it the wasm is ${kib(stripped.raw)} raw / ${kib(stripped.gzip)} gzip -9, about ${kib(stripped.gzip + jsGzip)} gzip with \`index.js\`.`
    : 'no name section (scripts/build-worker strips it).'),
  '', `Code by crate, from ${existsSync(namedFile) ? 'the named copy scripts/build-worker keeps (`worker/build/index_bg.named.wasm`, same code)' : 'the deployed wasm'}; function bodies, generics counted for their defining crate:`, '',
  '| crate | code | share |', '| --- | ---: | ---: |', ...crates.map(([c, b]) => `| ${c} | ${kib(b)} | ${(100 * b / codeBytes).toFixed(1)}% |`),
  '', 'Largest functions:', '', ...largest.map((f) => `- \`${f.name.slice(0, 90)}\` ${kib(f.size)}`),
  '', '"(async fn bodies, inlined)" is the Worker\'s async fetch handler, inlined into the closure wasm-bindgen\'s',
  '`future_to_promise` drives it with: the Worker\'s own code, not js-sys\'.');
writeFileSync(join(OUT, 'bundle.json'), JSON.stringify({ gzip_bytes: rust.gzip_bytes, rust, object, js, worker_wasm: { codeBytes, nameSection, stripped_raw: stripped?.raw, stripped_gzip: stripped?.gzip, js_gzip: jsGzip, crates, largest }, lines }, null, 2));
console.log(lines.join('\n'));
