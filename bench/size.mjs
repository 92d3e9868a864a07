// 1. Package size: the npm package as scripts/build publishes it, per
// wasm-pack target, raw and gzip -9: what a page loads up front (`files`,
// `total`: the budget's measure, as scripts/check-size counts it) and apart
// from it what the package loads only when first needed (`lazy`: the
// Argon2id module, on the first password), with the sum of both (`all`);
// and a per-crate breakdown of the wasm from a build that kept its function
// names (same wasm-bindgen + wasm-opt -Oz passes, plus -g).
// Usage: node bench/size.mjs <pkg-dir> <named.wasm> <targets...>  → bench/out/size.json
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { parseWasm, crateOf } from './lib/wasm-names.mjs';
import { packageFiles } from '../scripts/lib/package-files.mjs';

const [pkgDir, namedWasm, ...targets] = process.argv.slice(2);
const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;

const sum = (files) => ({ raw: files.reduce((s, f) => s + f.raw, 0), gzip: files.reduce((s, f) => s + f.gzip, 0) });
const packages = targets.map((target) => {
  const dir = join(pkgDir, target);
  // What a page loads before the first call (the wasm, the JS glue and
  // wasm-bindgen's snippets), and what a dynamic import() loads later.
  const { upFront, lazy } = packageFiles(dir);
  const sizes = (list) => list.map((file) => {
    const bytes = readFileSync(join(dir, file));
    return { file, raw: bytes.length, gzip: gz(bytes) };
  });
  const files = sizes(upFront), lazyFiles = sizes(lazy);
  const total = sum(files), lazyTotal = sum(lazyFiles);
  return { target, files, total, lazy: { files: lazyFiles, total: lazyTotal }, all: { raw: total.raw + lazyTotal.raw, gzip: total.gzip + lazyTotal.gzip } };
});
// bench/report.mjs prints `notes` under the size table, which lists the up-front files.
const notes = packages.filter((p) => p.lazy.files.length).map((p) =>
  `${p.target}: loaded only when first needed, not in the total above nor the budget: ${p.lazy.files.map((f) => `\`${f.file}\` ${(f.raw / 1024).toFixed(1)} KiB raw, ${(f.gzip / 1024).toFixed(1)} KiB gzip -9`).join(', ')}; up front and lazy together ${(p.all.gzip / 1024).toFixed(1)} KiB gzip -9.`);

const named = readFileSync(namedWasm);
const { functions, dataBytes, sections } = parseWasm(named);
const exportNames = /^(encrypt|decrypt|backup|recover|__wbg_|sealedshare|__wbindgen)/i;
const byCrate = new Map();
for (const f of functions) {
  let crate = crateOf(f.name);
  if (crate.startsWith('(other') && exportNames.test(f.name)) crate = 'portal_backup';
  if (crate === '___rust' || crate === '__rust') crate = 'alloc';
  const entry = byCrate.get(crate) ?? { crate, bytes: 0, functions: 0, largest: [] };
  entry.bytes += f.size;
  entry.functions += 1;
  entry.largest.push(f);
  byCrate.set(crate, entry);
}
const codeBytes = functions.reduce((s, f) => s + f.size, 0);
const crates = [...byCrate.values()]
  .map((e) => ({ ...e, largest: e.largest.sort((a, b) => b.size - a.size).slice(0, 3).map((f) => ({ name: f.name, size: f.size })) }))
  .sort((a, b) => b.bytes - a.bytes);

writeFileSync('bench/out/size.json', JSON.stringify({ packages, notes, breakdown: { codeBytes, dataBytes, namedWasmBytes: named.length, sections, crates } }, null, 2));
for (const p of packages) {
  console.log(`${p.target}: ${p.files.map((f) => `${f.file} ${f.raw}/${f.gzip}`).join(', ')} total gz ${p.total.gzip}`);
  if (p.lazy.files.length) console.log(`  when first needed: ${p.lazy.files.map((f) => `${f.file} ${f.raw}/${f.gzip}`).join(', ')}; all gz ${p.all.gzip}`);
}
console.log(crates.slice(0, 12).map((c) => `${c.crate} ${c.bytes}`).join(', '));
