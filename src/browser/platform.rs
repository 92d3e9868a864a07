//! The browser's own WebCrypto and base64url, reached through a few lines of
//! JS. Each operation is one call from wasm and at most one promise back:
//! a call across the wasm boundary, and a promise turn through
//! wasm-bindgen-futures, cost more than the JS they would save. Byte arrays
//! from wasm arrive as views of its memory and are copied before the first
//! `await`. The decisions (envelope header, associated data, strictness of
//! the text, error codes) stay in Rust.

use js_sys::{JsString, Uint8Array};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
const WRITE = { alphabet: 'base64url', omitPadding: true };
const READ = { alphabet: 'base64url' };

// base64url without padding.
export function toText(bytes) {
  if (bytes.toBase64) return bytes.toBase64(WRITE);
  let binary = '';
  for (let at = 0; at < bytes.length; at += 0x8000) binary += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// The bytes of `text` if it is exactly what toText writes for them; else
// undefined (no fromBase64 here, or the text is not canonical: Rust decides).
export function fromText(text) {
  if (!Uint8Array.fromBase64) return undefined;
  try {
    const bytes = Uint8Array.fromBase64(text, READ);
    return bytes.toBase64(WRITE) === text ? bytes : undefined;
  } catch {
    return undefined;
  }
}

// The shape js_error.rs gives every error of the package.
function failure(code, message) {
  const error = new Error(message);
  error.name = 'PortalBackupError';
  error.code = code;
  return error;
}

// AES-256-GCM: the key imported, then encrypt or decrypt, then `done` or
// `failed` on WebCrypto's answer (one promise turn each). null when
// crypto.subtle is missing (not a secure context).
function aesGcm(usage, raw, iv, additionalData, data, done, failed) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null;
  const params = { name: 'AES-GCM', iv: iv.slice(), additionalData: additionalData.slice() };
  const key = subtle.importKey('raw', raw.slice(), 'AES-GCM', false, [usage]);
  return key.then((key) => subtle[usage](params, key, data)).then(done, failed);
}

// The envelope's text: `header`, then WebCrypto's ciphertext and tag. When
// the header is whole 3-byte groups (a random-key envelope's 18 bytes), the
// text of the whole is the texts of the parts end to end: no copy of the
// ciphertext.
function envelopeText(header, sealed) {
  const body = new Uint8Array(sealed);
  if (header.length % 3 === 0) return toText(header) + toText(body);
  const bytes = new Uint8Array(header.length + body.length);
  bytes.set(header);
  bytes.set(body, header.length);
  return toText(bytes);
}

// encryptShare's answer, {key, cipherText}, or without `key` the text
// alone; a failure rejects with `code`.
export function sealShare(raw, header, iv, additionalData, plaintext, key, code, message) {
  const head = header.slice();
  return aesGcm('encrypt', raw, iv, additionalData, plaintext, (sealed) => key ? { key, cipherText: envelopeText(head, sealed) } : envelopeText(head, sealed), () => {
    throw failure(code, message);
  });
}

// decryptShare's answer, the plaintext; a failure rejects with `code`.
export function openShare(raw, iv, additionalData, sealed, code, message) {
  return aesGcm('decrypt', raw, iv, additionalData, sealed, (plaintext) => new Uint8Array(plaintext), () => {
    throw failure(code, message);
  });
}

export function sha256(data) {
  const subtle = globalThis.crypto?.subtle;
  return subtle ? subtle.digest('SHA-256', data.slice()).then((digest) => new Uint8Array(digest)) : null;
}

// A passkey's key: one WebAuthn ceremony with the PRF extension (`get` with
// the credential `id`, or `create` a passkey, then `get` if PRF came only
// there), HKDF of the PRF output. See passkey.rs.
export function passkeyKey(options, clientId, method, id, salt) {
  const credentials = globalThis.PublicKeyCredential && navigator.credentials;
  if (!credentials) return null;
  const subtle = crypto.subtle, text = new TextEncoder(), rpId = options.rpId ?? location.hostname, name = options.userDisplayName ?? 'Wallet backup';
  const parts = [text.encode('portal-backup/v1/passkey-prf\0')];
  for (const field of [rpId, clientId, method]) {
    const bytes = text.encode(field);
    parts.push(new Uint8Array([bytes.length >> 8, bytes.length]), bytes);
  }
  return (salt ? Promise.resolve(salt) : new Blob(parts).arrayBuffer().then((preimage) => subtle.digest('SHA-256', preimage))).then(async (first) => {
    first = new Uint8Array(first);
    // WebAuthn's own `timeout` is a hint, and its expiry rejects as a
    // cancel does (NotAllowedError): our own timer aborts the ceremony and
    // says TimeoutError, so a prompt nobody answers ends with its own code.
    const timeout = options.passkeyTimeoutMs > 0 ? options.passkeyTimeoutMs : 120000, abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new DOMException('no answer from the passkey prompt', 'TimeoutError')), timeout);
    const signal = abort.signal, expired = (error) => { throw signal.aborted ? signal.reason : error; };
    const publicKey = { challenge: crypto.getRandomValues(new Uint8Array(32)), rpId, timeout, userVerification: 'required', extensions: { prf: { eval: { first } } } };
    const get = (id) => credentials.get({ publicKey: { ...publicKey, allowCredentials: [{ type: 'public-key', id }] }, signal }).catch(expired);
    const prf = (credential) => credential.getClientExtensionResults().prf;
    const credential = await (id ? get(id) : credentials.create({ signal, publicKey: { ...publicKey,
      rp: { id: rpId, name: rpId },
      user: { id: crypto.getRandomValues(new Uint8Array(16)), name, displayName: name },
      pubKeyCredParams: [{ type: 'public-key', alg: -7 }, { type: 'public-key', alg: -257 }],
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    } }).catch(expired));
    let out = prf(credential);
    if (!id && out?.enabled && !out.results) out = prf(await get(credential.rawId));
    clearTimeout(timer);
    if (!out?.results) throw new DOMException('no PRF', 'NotSupportedError');
    const key = await subtle.importKey('raw', out.results.first, 'HKDF', false, ['deriveBits']);
    const bits = await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(), info: text.encode('portal-backup/v1/passkey') }, key, 256);
    return new Uint8Array(await new Blob([bits, first, credential.rawId]).arrayBuffer());
  });
}

// A password's key: Argon2id in a wasm module of its own, imported the
// first time a password needs it (see the block below). The password is
// copied out of wasm memory before the first await and zeroed when done.
export function argon2id(password, salt, m, t, p) {
  password = password.slice();
  salt = salt.slice();
  return import('./argon2-wasm/argon2id.js').then((module) => module.derive(password, salt, m, t, p)).finally(() => password.fill(0));
}
"#)]
extern "C" {
    /// base64url without padding (`Uint8Array.prototype.toBase64`, else `btoa`).
    #[wasm_bindgen(js_name = toText)]
    pub fn to_text(bytes: &Uint8Array) -> JsString;
    /// The bytes of canonical base64url text where the platform decodes it
    /// natively, else `undefined`.
    #[wasm_bindgen(js_name = fromText)]
    pub fn from_text(text: &JsString) -> JsValue;
    /// A promise of `{key, cipherText}`: the envelope (`header`, then the
    /// ciphertext and tag of `plaintext`) as text, or the text alone for an
    /// empty `key`; or a rejection with a
    /// PortalBackupError of `code` and `message`. null without WebCrypto.
    #[wasm_bindgen(js_name = sealShare)]
    pub fn seal_share(
        raw: &[u8],
        header: &[u8],
        iv: &[u8],
        aad: &[u8],
        plaintext: &Uint8Array,
        key: &str,
        code: &str,
        message: &str,
    ) -> JsValue;
    /// A promise of the plaintext of `sealed` (ciphertext and tag), or a
    /// rejection with a PortalBackupError of `code` and `message`. null
    /// without WebCrypto.
    #[wasm_bindgen(js_name = openShare)]
    pub fn open_share(raw: &[u8], iv: &[u8], aad: &[u8], sealed: &Uint8Array, code: &str, message: &str) -> JsValue;
    /// A promise of the SHA-256 digest, or null without WebCrypto.
    pub fn sha256(data: &[u8]) -> JsValue;
    /// A promise of `key (32) || PRF salt (32) || credential id` from one
    /// WebAuthn ceremony (`get` with the credential `id`, or `create`
    /// without one; `options.rpId` and `options.userDisplayName`): the key
    /// is HKDF-SHA-256 (empty salt, `envelope::PASSKEY_HKDF_INFO`) of the PRF
    /// output for `salt`, or without one for `envelope::passkey_prf_salt`.
    /// Rejects with the browser's DOMException, NotSupportedError without
    /// a PRF output. null without WebAuthn.
    #[wasm_bindgen(js_name = passkeyKey)]
    pub fn passkey_key(
        options: &JsValue,
        client_id: &str,
        backup_method: &str,
        id: Option<Uint8Array>,
        salt: Option<Uint8Array>,
    ) -> JsValue;
    /// A promise of the 32-byte Argon2id (v0x13) key of `password` and
    /// `salt` at the costs given, or of null when Argon2 refuses them.
    /// Rejects when the module does not load, or traps (out of memory).
    pub fn argon2id(password: &[u8], salt: &[u8], m_cost: u32, t_cost: u32, p_cost: u32) -> js_sys::Promise;
}

/// The Argon2id module (argon2-wasm/: its wasm in hex and the few lines
/// of JS), loaded lazily. Nothing here is ever called, so the package's JS
/// never imports it statically; naming the file makes wasm-bindgen copy it
/// into the package's snippets, next to the snippet above, whose `argon2id`
/// imports it with `import()` by that relative path. Every consumer follows
/// that: a browser loading the package as files and the test runner fetch
/// it then, Vite and webpack split it into a chunk of its own.
#[wasm_bindgen(module = "/argon2-wasm/argon2id.js")]
extern "C" {
    #[allow(dead_code)]
    fn derive();
}
