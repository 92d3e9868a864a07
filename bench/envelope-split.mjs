// Where an envelope call's time goes: encryptShare / decryptShare of one or
// more builds of the npm package (web target) next to raw WebCrypto doing
// the same work, in one headless Chromium page, batches alternating. Each
// side is also run under the CPU profiler and its samples split into: the
// wasm, the JS glue (wasm-bindgen's portal_backup.js), the browser's own
// WebCrypto / base64 calls, garbage collection, and the rest of the engine
// ((program): promise jobs, microtasks, the calls between JS and wasm).
// Also timed alone: the native base64url of one envelope's text each way,
// work the module does and raw WebCrypto on bytes does not.
// Usage: node bench/envelope-split.mjs <label>=<pkg/web dir> ...   (dirs under the repo)
//   BENCH_SIZE (8192), BENCH_OPS (200), BENCH_BATCHES (15)
import { writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { startStatic } from './lib/static-server.mjs';
import { launchChromium } from './lib/chromium.mjs';
import { median, round } from './lib/stats.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const builds = process.argv.slice(2).map((arg) => {
  const [label, dir] = arg.split('=');
  return { label, path: `/${relative(ROOT, resolve(dir))}/portal_backup.js` };
});
if (!builds.length) throw new Error('usage: node bench/envelope-split.mjs <label>=<pkg/web dir> ...');
const SIZE = Number(process.env.BENCH_SIZE ?? 8192);
const OPS = Number(process.env.BENCH_OPS ?? 200);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 15);

const server = await startStatic(ROOT, { isolate: true });
const { browser, version } = await launchChromium();
const page = await browser.newPage();
page.on('pageerror', (e) => console.error('page error:', e.message));
await page.goto(`${server.url}/bench/page/blank.html`);

// The page side: every build's encrypt/decrypt and WebCrypto's, by name.
await page.evaluate(async ({ builds, size }) => {
  const CLIENT_ID = 'client-bench', METHOD = 'GDRIVE';
  const enc = new TextEncoder();
  const random = (n) => crypto.getRandomValues(new Uint8Array(n));
  const aad = (nonce) => {
    const id = enc.encode(CLIENT_ID), method = enc.encode(METHOD);
    return new Uint8Array([...enc.encode('PBAK'), 1, 1, ...nonce, id.length >> 8, id.length & 255, ...id, method.length >> 8, method.length & 255, ...method]);
  };
  const impls = {
    webcrypto: {
      async encrypt(plaintext) {
        const raw = random(32), nonce = random(12);
        const key = await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
        return { raw, nonce, ct: await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad(nonce) }, key, plaintext) };
      },
      async decrypt(sealed) {
        const key = await crypto.subtle.importKey('raw', sealed.raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
        return crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.nonce, additionalData: aad(sealed.nonce) }, key, sealed.ct);
      },
    },
  };
  for (const { label, path } of builds) {
    const pb = await import(path);
    await pb.default();
    impls[label] = {
      encrypt: (plaintext) => pb.encryptShare(plaintext, CLIENT_ID, METHOD),
      decrypt: (sealed) => pb.decryptShare(sealed.cipherText, sealed.key, CLIENT_ID, METHOD),
    };
  }
  const plaintext = random(size);
  const sealed = {};
  for (const [name, impl] of Object.entries(impls)) {
    sealed[name] = await impl.encrypt(plaintext);
    const back = new Uint8Array(await impl.decrypt(sealed[name]));
    if (back.length !== size || back[size - 1] !== plaintext[size - 1]) throw new Error(`${name}: round trip failed`);
  }
  // µs per op over `ops` back-to-back calls.
  window.batch = async (name, op, ops) => {
    const impl = impls[name];
    const start = performance.now();
    if (op === 'encrypt') for (let i = 0; i < ops; i++) await impl.encrypt(plaintext);
    else for (let i = 0; i < ops; i++) await impl.decrypt(sealed[name]);
    return ((performance.now() - start) * 1000) / ops;
  };
  // The envelope's text, written and read back the way the module does it.
  const text = sealed[Object.keys(impls)[1]]?.cipherText;
  if (text && Uint8Array.fromBase64) {
    const bytes = Uint8Array.fromBase64(text, { alphabet: 'base64url' });
    impls.base64url = {
      encrypt: async () => bytes.toBase64({ alphabet: 'base64url', omitPadding: true }),
      decrypt: async () => Uint8Array.fromBase64(text, { alphabet: 'base64url' }).toBase64({ alphabet: 'base64url', omitPadding: true }) === text,
    };
    sealed.base64url = null;
  }
  window.names = Object.keys(impls);
}, { builds, size: SIZE });
const names = await page.evaluate(() => window.names);

// Timing: batches alternate between the implementations.
const timing = Object.fromEntries(names.map((n) => [n, { encrypt: [], decrypt: [] }]));
for (const name of names) for (const op of ['encrypt', 'decrypt']) await page.evaluate(([n, o, k]) => window.batch(n, o, k), [name, op, OPS]);
for (let b = 0; b < BATCHES; b++) {
  for (const name of names) {
    for (const op of ['encrypt', 'decrypt']) timing[name][op].push(await page.evaluate(([n, o, k]) => window.batch(n, o, k), [name, op, OPS]));
  }
}

// Profiles: each (implementation, op) alone, many ops, then the split.
const cdp = await page.context().newCDPSession(page);
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: 50 });
function category(frame) {
  const { functionName: fn, url } = frame;
  if (fn === '(garbage collector)') return 'garbage collection';
  if (fn === '(program)') return 'engine: promise jobs, JS↔wasm calls (program)';
  if (fn === '(idle)' || fn === '(root)') return null;
  if (url.startsWith('wasm://') || url.endsWith('.wasm')) return 'wasm';
  if (url.endsWith('portal_backup.js')) return 'JS glue (wasm-bindgen)';
  if (url.includes('/snippets/')) return 'JS bridge (src/browser/platform.rs)';
  if (!url && /^(importKey|encrypt|decrypt|digest|getRandomValues)$/.test(fn)) return `WebCrypto ${fn}`;
  if (!url && /^(toBase64|fromBase64)$/.test(fn)) return `native ${fn}`;
  if (!url) return `other native: ${fn}`;
  return 'bench page';
}
const profileOps = OPS * 5;
const split = {};
for (const name of names) {
  for (const op of ['encrypt', 'decrypt']) {
    await cdp.send('Profiler.start');
    const usPerOp = await page.evaluate(([n, o, k]) => window.batch(n, o, k), [name, op, profileOps]);
    const { profile } = await cdp.send('Profiler.stop');
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const self = new Map();
    const byFunction = new Map();
    profile.samples.forEach((id, i) => {
      const frame = byId.get(id).callFrame;
      const cat = category(frame);
      const dt = profile.timeDeltas[i + 1] ?? 0;
      if (cat) self.set(cat, (self.get(cat) ?? 0) + dt);
      if (cat) byFunction.set(`${cat}: ${frame.functionName || '(anonymous)'}`, (byFunction.get(`${cat}: ${frame.functionName || '(anonymous)'}`) ?? 0) + dt);
    });
    const sampled = [...self.values()].reduce((a, b) => a + b, 0);
    // Shares of the sampled busy time, scaled to µs per op of this run.
    split[`${name} ${op}`] = {
      us_per_op: round(usPerOp, 1),
      parts: Object.fromEntries([...self].sort((a, b) => b[1] - a[1]).map(([cat, t]) => [cat, round((t / sampled) * usPerOp, 1)])),
      functions: Object.fromEntries([...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([f, t]) => [f, round((t / sampled) * usPerOp, 1)])),
    };
  }
}
await browser.close();
await server.close();

const summary = {
  chromium: version, size: SIZE, ops: OPS, batches: BATCHES,
  median_us: Object.fromEntries(names.map((n) => [n, { encrypt: round(median(timing[n].encrypt), 1), decrypt: round(median(timing[n].decrypt), 1) }])),
  ratio_vs_webcrypto: Object.fromEntries(names.filter((n) => !['webcrypto', 'base64url'].includes(n)).map((n) => [n, Object.fromEntries(['encrypt', 'decrypt'].map((op) =>
    [op, round(median(timing[n][op].map((t, i) => t / timing.webcrypto[op][i])), 2)]))])),
  split,
};
writeFileSync(new URL('out/envelope-split.json', import.meta.url), JSON.stringify({ ...summary, timing }, null, 2));
console.log(JSON.stringify(summary, null, 1));
