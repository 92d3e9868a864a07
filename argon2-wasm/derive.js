// Argon2id for portal-backup's PASSWORD envelopes: the wasm module of
// argon2-wasm/src/lib.rs, its bytes below in hex (hex keeps the bytes
// aligned, so it gzips to 6.1 KB where base64 gives 7.7), and the few
// lines that run it. The package imports this file only when a password
// first needs a key (src/browser/platform.rs, `argon2id`).
// argon2-wasm/build writes argon2id.js from this template.
const WASM = '@WASM@';

let compiled;

// The 32-byte key of `password` and `salt` (Uint8Arrays) at costs m (KiB),
// t and p, or null when Argon2 refuses them. Each call runs in a fresh
// instance, whose whole memory (password, blocks, key) is zeroed after.
export async function derive(password, salt, m, t, p) {
  compiled ??= WebAssembly.compile(Uint8Array.fromHex ? Uint8Array.fromHex(WASM) : new Uint8Array(WASM.match(/../g).map((byte) => parseInt(byte, 16))));
  const { exports } = await WebAssembly.instantiate(await compiled);
  const memory = () => new Uint8Array(exports.memory.buffer);
  // salt (16) | key (32) | password
  const at = exports.alloc(48 + password.length);
  memory().set(salt, at);
  memory().set(password, at + 48);
  try {
    return exports.derive(at + 48, password.length, at, m, t, p, at + 16) ? null : memory().slice(at + 16, at + 48);
  } finally {
    memory().fill(0);
  }
}
