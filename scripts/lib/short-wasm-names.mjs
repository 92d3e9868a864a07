// Gives the wasm-bindgen glue's import and export names short names, in the
// .wasm and in every .js / .d.ts beside it. wasm-bindgen names each import
// shim `__wbg_<name>_<16 hex digits>` and its runtime exports `__wbindgen_*`;
// each name is written in the wasm and again in the JS, and the hex digits
// do not compress: about 2 KiB of the package's gzip bytes. The package's
// own exports (backupWallet, ...) keep their names. In the `web` target the
// import modules ("./portal_backup_bg.js", the snippets) are only keys of
// the imports object, so they get short names too; a bundler resolves them
// as paths, so the `bundler` target keeps them.
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

/** The import section with `rename` applied to the field names and `renameModule` to the module names. */
function importSection(payload, rename, renameModule) {
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
    parts.push(name(renameModule(module)), name(rename(field)), payload.subarray(start, at));
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
const bundler = readdirSync(dir).some((f) => f.endsWith('_bg.js'));
const modules = new Map();
const renameModule = (module) => {
  if (bundler) return module;
  if (!modules.has(module)) modules.set(module, `m${modules.size}`);
  return modules.get(module);
};
const wasm = readFileSync(join(dir, wasmFile));
const names = new Map();
const rename = (field) => {
  if (!GLUE.test(field)) return field;
  if (!names.has(field)) names.set(field, `$${names.size.toString(36)}`);
  return names.get(field);
};
const imports = new Set();
const sections = [wasm.subarray(0, 8)];
for (let at = 8; at < wasm.length; ) {
  const id = wasm[at];
  const [size, start] = readLeb(wasm, at + 1);
  const payload = wasm.subarray(start, start + size);
  const renameImport = (field) => {
    if (GLUE.test(field)) imports.add(field);
    return rename(field);
  };
  const rewritten = id === 2 ? importSection(payload, renameImport, renameModule) : id === 7 ? exportSection(payload, rename) : payload;
  sections.push(Buffer.from([id]), leb(rewritten.length), rewritten);
  at = start + size;
}
writeFileSync(join(dir, wasmFile), Buffer.concat(sections));

// The same names in the glue: whole identifiers only (they are [A-Za-z0-9_]).
const files = readdirSync(dir, { recursive: true }).filter((f) => /\.(js|d\.ts)$/.test(f));
const pattern = /\b(?:__wbg_|__wbindgen_)[A-Za-z0-9_]*\b/g;
const seen = new Set();
const moduleKeys = new Set();
for (const file of files) {
  const path = join(dir, file);
  let text = readFileSync(path, 'utf8');
  text = text.replace(pattern, (found) => {
    if (!names.has(found)) return found;
    seen.add(found);
    return names.get(found);
  });
  // web: `"<module>": importN,` in the object handed to instantiate.
  for (const [module, short] of modules) {
    const key = `${JSON.stringify(module)}: import`;
    if (text.includes(key)) moduleKeys.add(module);
    text = text.split(key).join(`${JSON.stringify(short)}: import`);
  }
  // wasm-bindgen writes a snippet's key once per function the wasm imports
  // from it directly: the same key and module twice, which esbuild warns of.
  const keys = new Set();
  text = text.replace(/^\s*("m\d+"): import\d+,\n/gm, (line, key) => (keys.has(key) ? '' : (keys.add(key), line)));
  writeFileSync(path, text);
}
// A wasm-bindgen that writes its glue otherwise must fail here, not ship a
// package whose wasm asks for names its JS no longer has.
const unseen = [...imports].filter((n) => !seen.has(n));
const missing = [...modules.keys()].filter((m) => !moduleKeys.has(m));
if (unseen.length || missing.length) {
  throw new Error(`short-wasm-names: the glue does not name ${[...unseen, ...missing].join(', ')}`);
}
console.error(`short-wasm-names: ${names.size} glue names and ${modules.size} import modules shortened in ${wasmFile} and its JS`);
