// Runs inside Chromium. bench/browser.mjs calls window.bench.* and reads the
// numbers back; nothing here decides what is "good".
import init, * as pb from '/bench/out/pkg/web/portal_backup.js';

const wasm = await init();
const CLIENT_ID = 'client-bench';
const METHOD = 'GDRIVE';
const enc = new TextEncoder();
const memoryBytes = () => wasm.memory.buffer.byteLength;

function randomBytes(n) {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, Math.min(n, at + 65536)));
  return out;
}

// The associated data WebCrypto gets: same shape as the envelope's (header
// + length-prefixed clientId and backupMethod), so both sides authenticate
// the same number of bytes.
function webcryptoAad(nonce) {
  const header = new Uint8Array([...enc.encode('PBAK'), 1, 1, ...nonce]);
  const id = enc.encode(CLIENT_ID), method = enc.encode(METHOD);
  return new Uint8Array([...header, id.length >> 8, id.length & 255, ...id, method.length >> 8, method.length & 255, ...method]);
}

const impls = {
  // The module's exported functions: fresh key, envelope, base64url text out.
  module: {
    async encrypt(plaintext) { return await pb.encryptShare(plaintext, CLIENT_ID, METHOD); },
    async decrypt(sealed) { return await pb.decryptShare(sealed.cipherText, sealed.key, CLIENT_ID, METHOD); },
  },
  // Raw WebCrypto doing the same cryptographic work: fresh key and nonce,
  // importKey, AES-256-GCM with the same AAD; bytes in, bytes out.
  webcrypto: {
    async encrypt(plaintext) {
      const raw = randomBytes(32), nonce = randomBytes(12);
      const key = await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
      const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: webcryptoAad(nonce) }, key, plaintext);
      return { raw, nonce, ct };
    },
    async decrypt(sealed) {
      const key = await crypto.subtle.importKey('raw', sealed.raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
      return await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.nonce, additionalData: webcryptoAad(sealed.nonce) }, key, sealed.ct);
    },
  },
};

async function timeBatch(fn, ops) {
  const start = performance.now();
  for (let i = 0; i < ops; i++) await fn();
  return ((performance.now() - start) * 1000) / ops; // µs per op
}

// Encrypt and decrypt `size` bytes; batches alternate module / webcrypto so
// both see the same machine noise. Returns per-batch µs/op for each.
async function envelope({ size, batches, ops }) {
  const plaintext = randomBytes(size);
  const out = {};
  const sealed = {};
  for (const [name, impl] of Object.entries(impls)) {
    sealed[name] = await impl.encrypt(plaintext);
    const back = new Uint8Array(await impl.decrypt(sealed[name]));
    if (back.length !== size || back[size - 1] !== plaintext[size - 1]) throw new Error(`${name} round trip failed`);
    // warm-up
    await timeBatch(() => impl.encrypt(plaintext), ops);
    await timeBatch(() => impl.decrypt(sealed[name]), ops);
    out[name] = { encrypt_us: [], decrypt_us: [] };
  }
  for (let b = 0; b < batches; b++) {
    for (const [name, impl] of Object.entries(impls)) {
      out[name].encrypt_us.push(await timeBatch(() => impl.encrypt(plaintext), ops));
      out[name].decrypt_us.push(await timeBatch(() => impl.decrypt(sealed[name]), ops));
    }
  }
  return out;
}

// backupWallet's own encrypt step (key generation + WebCrypto seal through
// src/browser/webcrypto.rs + base64url), timed by its progress events; the
// flow then fails fast on an unreachable server, which is not timed.
function clientBackupText(size) {
  const half = Math.floor((size - 120) / 4);
  const hex = (n) => Array.from(randomBytes(n), (b) => b.toString(16).padStart(2, '0')).join('');
  return JSON.stringify({ SECP256K1: { id: 'bsp-client-bench-secp256k1-gdrive', share: hex(half) }, ED25519: { id: 'bsp-client-bench-ed25519-gdrive', share: hex(half) } });
}

async function flowEncryptOnce(text) {
  const marks = {};
  try {
    await pb.backupWallet({ clientId: CLIENT_ID, portalToken: 'bench', serverUrl: 'http://127.0.0.1:9', method: 'GDRIVE', custodianId: 'custodian-bench',
      driveApiUrl: 'http://127.0.0.1:9', portalApiUrl: 'http://127.0.0.1:9', getDriveToken: () => 'bench', clientBackup: text,
      retry: { maxAttempts: 1 }, onProgress: (e) => { if (e.step === 'encrypt') marks[e.phase] = performance.now(); } });
  } catch { /* the unreachable server, after the encrypt step */ }
  if (marks.start === undefined || marks.end === undefined) throw new Error('backupWallet reported no encrypt step');
  return (marks.end - marks.start) * 1000;
}

async function flowEncrypt({ size, runs }) {
  const text = clientBackupText(size);
  const plaintext = enc.encode(text);
  const out = { flow_us: [], webcrypto_us: [], bytes: plaintext.length };
  for (let i = 0; i < 5; i++) { await flowEncryptOnce(text); await impls.webcrypto.encrypt(plaintext); }
  for (let r = 0; r < runs; r++) {
    out.flow_us.push(await flowEncryptOnce(text));
    const start = performance.now();
    await impls.webcrypto.encrypt(plaintext);
    out.webcrypto_us.push((performance.now() - start) * 1000);
  }
  return out;
}

const ARGON = { m_kib: 64 * 1024, t: 3, p: 1 };
const PASSWORD = 'correct horse battery staple';
const share8k = randomBytes(8 * 1024);

const argonImpls = {
  // The module has no bare KDF export: encryptShareWithPassword is Argon2id
  // at PasswordParams::DEFAULT plus one AES-GCM seal of 8 KiB (tens of µs).
  module: async () => { await pb.encryptShareWithPassword(share8k, PASSWORD, CLIENT_ID, 'PASSWORD'); },
  hashwasm: async () => {
    await hashwasm.argon2id({ password: PASSWORD, salt: randomBytes(16), parallelism: ARGON.p, iterations: ARGON.t,
      memorySize: ARGON.m_kib, hashLength: 32, outputType: 'binary' });
  },
};

async function argonFirst(name) {
  const before = memoryBytes();
  const start = performance.now();
  await argonImpls[name]();
  return { first_ms: performance.now() - start, module_memory_before: before, module_memory_after: memoryBytes() };
}

async function argon({ runs }) {
  const out = { module: [], hashwasm: [] };
  for (let r = 0; r < runs; r++) {
    for (const name of r % 2 ? ['hashwasm', 'module'] : ['module', 'hashwasm']) {
      const start = performance.now();
      await argonImpls[name]();
      out[name].push(performance.now() - start);
    }
  }
  return out;
}

const encryptShareIsAsync = pb.encryptShare(new Uint8Array(16), CLIENT_ID, METHOD) instanceof Promise;
// One round: the module and hash-wasm once each, order alternating by round.
async function argonRound(r) {
  const out = {};
  for (const name of r % 2 ? ['hashwasm', 'module'] : ['module', 'hashwasm']) {
    const start = performance.now();
    await argonImpls[name]();
    out[name] = performance.now() - start;
  }
  return out;
}

window.bench = { argonRound, envelope, flowEncrypt, encryptShareIsAsync, argon, argonFirst, params: ARGON, exports: Object.keys(pb).sort() };
window.benchReady = true;
