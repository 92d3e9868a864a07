// 1. Package size: the npm package as scripts/build publishes it, per
// wasm-pack target, raw and gzip -9; and a per-crate breakdown of the wasm
// from a build that kept its function names (same wasm-bindgen + wasm-opt -Oz
// passes, plus -g).
// Usage: node bench/size.mjs <pkg-dir> <named.wasm> <targets...>  → bench/out/size.json
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { parseWasm, crateOf } from './lib/wasm-names.mjs';

const [pkgDir, namedWasm, ...targets] = process.argv.slice(2);
const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;

const packages = targets.map((target) => {
  const dir = join(pkgDir, target);
  // Everything a page loads: the wasm and the JS glue, wasm-bindgen's
  // snippets (JS the module imports) included.
  const files = readdirSync(dir, { recursive: true })
    .filter((f) => f.endsWith('.wasm') || (f.endsWith('.js') && !f.endsWith('.d.ts')))
    .map((file) => {
      const bytes = readFileSync(join(dir, file));
      return { file, raw: bytes.length, gzip: gz(bytes) };
    });
  const total = { raw: files.reduce((s, f) => s + f.raw, 0), gzip: files.reduce((s, f) => s + f.gzip, 0) };
  // Everything as one stream, as a server would send it if it gzipped the lot.
  return { target, files, total };
});

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

writeFileSync('bench/out/size.json', JSON.stringify({ packages, breakdown: { codeBytes, dataBytes, namedWasmBytes: named.length, sections, crates } }, null, 2));
for (const p of packages) console.log(`${p.target}: ${p.files.map((f) => `${f.file} ${f.raw}/${f.gzip}`).join(', ')} total gz ${p.total.gzip}`);
console.log(crates.slice(0, 12).map((c) => `${c.crate} ${c.bytes}`).join(', '));
