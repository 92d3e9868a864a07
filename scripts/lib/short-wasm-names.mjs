// Gives the wasm-bindgen glue's import and export names short names, in the
// .wasm and in every .js / .d.ts beside it. wasm-bindgen names each import
// shim `__wbg_<name>_<16 hex digits>` and its runtime exports `__wbindgen_*`;
// each name is written in the wasm and again in the JS, and the hex digits
// do not compress: about 2 KiB of the package's gzip bytes. The package's
// own exports (backupWallet, ...) keep their names.
// Usage: node scripts/lib/short-wasm-names.mjs <package dir>   (scripts/build runs it before minifying)
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const GLUE = /^__wbg_|^__wbindgen_/;

function readLeb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return [value, at];
  }
}

function leb(value) {
  const out = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return Buffer.from(out);
}

function readName(bytes, at) {
  const [length, start] = readLeb(bytes, at);
  return [bytes.subarray(start, start + length).toString('utf8'), start + length];
}

const name = (text) => {
  const bytes = Buffer.from(text, 'utf8');
  return Buffer.concat([leb(bytes.length), bytes]);
};

/** The end of a `limits` (table or memory type) at `at`. */
function skipLimits(bytes, at) {
  const flags = bytes[at++];
  [, at] = readLeb(bytes, at);
  if (flags & 1) [, at] = readLeb(bytes, at);
  return at;
}

/** The import section with `rename` applied to the field names; the end of each import's description copied as is. */
function importSection(payload, rename) {
  let [count, at] = readLeb(payload, 0);
  const parts = [leb(count)];
  while (count-- > 0) {
    let module, field;
    [module, at] = readName(payload, at);
    [field, at] = readName(payload, at);
    const start = at;
    const kind = payload[at++];
    if (kind === 0) [, at] = readLeb(payload, at); // function: type index
    else if (kind === 1) at = skipLimits(payload, at + 1); // table: reference type, limits
    else if (kind === 2) at = skipLimits(payload, at); // memory
    else if (kind === 3) at += 2; // global: value type, mutability
    else if (kind === 4) [, at] = readLeb(payload, at + 1); // tag: attribute, type index
    else throw new Error(`import kind ${kind} of ${module}.${field}: not understood`);
    parts.push(name(module), name(rename(field)), payload.subarray(start, at));
  }
  return Buffer.concat(parts);
}

function exportSection(payload, rename) {
  let [count, at] = readLeb(payload, 0);
  const parts = [leb(count)];
  while (count-- > 0) {
    let field;
    [field, at] = readName(payload, at);
    const start = at;
    [, at] = readLeb(payload, at + 1); // kind, index
    parts.push(name(rename(field)), payload.subarray(start, at));
  }
  return Buffer.concat(parts);
}

const dir = process.argv[2];
const wasmFile = readdirSync(dir).find((f) => f.endsWith('.wasm'));
const wasm = readFileSync(join(dir, wasmFile));
const names = new Map();
const rename = (field) => {
  if (!GLUE.test(field)) return field;
  if (!names.has(field)) names.set(field, `$${names.size.toString(36)}`);
  return names.get(field);
};
const sections = [wasm.subarray(0, 8)];
for (let at = 8; at < wasm.length; ) {
  const id = wasm[at];
  const [size, start] = readLeb(wasm, at + 1);
  const payload = wasm.subarray(start, start + size);
  const rewritten = id === 2 ? importSection(payload, rename) : id === 7 ? exportSection(payload, rename) : payload;
  sections.push(Buffer.from([id]), leb(rewritten.length), rewritten);
  at = start + size;
}
writeFileSync(join(dir, wasmFile), Buffer.concat(sections));

// The same names in the glue: whole identifiers only (they are [A-Za-z0-9_]).
const files = readdirSync(dir, { recursive: true }).filter((f) => /\.(js|d\.ts)$/.test(f));
const pattern = /\b(?:__wbg_|__wbindgen_)[A-Za-z0-9_]*\b/g;
for (const file of files) {
  const path = join(dir, file);
  const text = readFileSync(path, 'utf8');
  const replaced = text.replace(pattern, (found) => names.get(found) ?? found);
  if (replaced !== text) writeFileSync(path, replaced);
}
console.error(`short-wasm-names: ${names.size} glue names shortened in ${wasmFile} and its JS`);
