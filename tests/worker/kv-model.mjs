// Workers KV as Cloudflare documents it, held in Node and shared by every
// location of a test: Miniflare's own KV answers get() and list() from one
// SQLite store, always fresh and without limits, so a design that only works
// there passes locally and fails on Cloudflare. What this model keeps from
// the platform (developers.cloudflare.com/kv: concepts/how-kv-works,
// platform/limits, api/read-key-value-pairs, api/write-key-value-pairs,
// api/list-keys):
// - one central store, and per location a cache of get() answers, negative
//   ones included, kept for cacheTtl (60 s by default, at least 30 s): a
//   location that read a key keeps that answer whatever is written since;
// - 1 write per second per key: a second put() or delete() of a key within
//   a second of the last one is refused (the binding's promise rejects with
//   "KV PUT failed: 429 Too Many Requests") and counted;
// - list() lags every write by LIST_LAG_MS, even where it was made;
// - read-your-writes where the write was made: on by default (the write
//   updates that location's cache), switchable off, as Cloudflare says not
//   to rely on it (the writer's cache is then left as it was);
// - an optional propagation delay before a write is visible at the other
//   locations, for a key they have not cached;
// - keys over 512 bytes (414), values over 25 MiB (413), metadata over
//   1024 bytes (413), expirationTtl under 60 s (400), cacheTtl under 30 s
//   (400), list limit over 1000 (400), bulk get over 100 keys (400).
// The Worker reaches it through the SHARES binding of tests/worker/harness.mjs:
// a wrapped binding (KV_BINDING_MODULE below, run in workerd) that calls
// `handler` here over a Node-function service binding, carrying its location.
import { Buffer } from 'node:buffer';
import { Response } from 'miniflare';

export const LIST_LAG_MS = 60_000;
export const DEFAULT_CACHE_TTL_S = 60;
export const MIN_CACHE_TTL_S = 30;
export const WRITE_INTERVAL_MS = 1_000;
export const MAX_KEY_BYTES = 512;
export const MAX_VALUE_BYTES = 25 * 1024 * 1024;
export const MAX_METADATA_BYTES = 1024;
export const MIN_EXPIRATION_TTL_S = 60;
export const MAX_LIST_KEYS = 1000;
export const MAX_BULK_KEYS = 100;

/** A refusal as the KV binding reports it: `KV PUT failed: 429 Too Many Requests`. */
export class KvError extends Error {
  constructor(operation, status, message) {
    super(`KV ${operation} failed: ${status} ${message}`);
    this.status = status;
  }
}

const emptyStats = () => ({ reads: 0, writes: 0, writesRefused: 0, staleServed: 0, lists: 0 });
const same = (a, b) => (a === null || b === null ? a === b : a.equals(b));

export class KvModel {
  /**
   * @param {object} [o]
   * @param {boolean} [o.readYourWrites=true] a write updates its location's cache
   * @param {number} [o.propagationDelayMs=0] before another location can read a write it has not cached
   * @param {() => number} [o.now] the clock (ms); tests of the model itself move it by hand
   */
  constructor({ readYourWrites = true, propagationDelayMs = 0, now = Date.now } = {}) {
    this.offset = 0;
    this.now = () => now() + this.offset;
    this.configure({ readYourWrites, propagationDelayMs });
    this.reset();
    // Miniflare calls this with the request a location's binding sent.
    this.handler = (request) => this.#serve(request);
  }

  configure({ readYourWrites = this.readYourWrites, propagationDelayMs = this.propagationDelayMs } = {}) {
    this.readYourWrites = readYourWrites;
    this.propagationDelayMs = propagationDelayMs;
  }

  /** Forgets every key, cache and count. */
  reset() {
    // key -> writes, oldest first: {value: Buffer|null (deleted), metadata, expiration (s), at, location}.
    // Earlier writes stay while list() or a delayed location may still see them.
    this.keys = new Map();
    this.caches = new Map(); // location -> key -> {value, metadata, until}
    this.stats = new Map(); // location -> counts
  }

  /** Moves the model's clock on (caches run out, writes propagate, list() catches up); the Worker's own clock is not moved. */
  advance(ms) {
    this.offset += ms;
  }

  /** Empties every location's cache (as if cacheTtl had passed everywhere). */
  clearCaches() {
    this.caches.clear();
  }

  /** Counts per location, and `total`. */
  statistics() {
    const total = emptyStats();
    const out = {};
    for (const [location, counts] of this.stats) {
      out[location] = { ...counts };
      for (const name of Object.keys(total)) total[name] += counts[name];
    }
    return { ...out, total };
  }

  /** Central's live keys and values as text, whatever list() or a cache would say. */
  dump() {
    const out = {};
    for (const key of [...this.keys.keys()].sort()) {
      const write = this.#live(this.#latest(key));
      if (write) out[key] = write.value.toString('utf8');
    }
    return out;
  }

  /** Writes straight into central, long ago (listed, no write limit): a snapshot to start from. */
  seed(entries) {
    const at = this.now() - 10 * LIST_LAG_MS;
    for (const [key, value] of Object.entries(entries)) {
      this.keys.set(key, [{ value: Buffer.from(value), metadata: null, expiration: null, at, location: 'seed' }]);
    }
  }

  // --- the KV operations, as seen from `location` ---

  get(location, key, { cacheTtl = DEFAULT_CACHE_TTL_S } = {}) {
    checkKey('GET', key);
    if (!Number.isInteger(cacheTtl) || cacheTtl < MIN_CACHE_TTL_S) {
      throw new KvError('GET', 400, `Invalid cache_ttl of ${cacheTtl}. Cache TTL must be at least ${MIN_CACHE_TTL_S}.`);
    }
    const stats = this.#stats(location);
    stats.reads++;
    const now = this.now();
    const cache = this.#cache(location);
    let answer = cache.get(key);
    if (!answer || answer.until <= now || this.#expired(answer)) {
      const write = this.#live(this.#visible(location, key, now));
      answer = { value: write?.value ?? null, metadata: write?.metadata ?? null, expiration: write?.expiration ?? null, until: now + cacheTtl * 1000 };
      cache.set(key, answer);
    }
    if (!same(answer.value, this.#live(this.#latest(key))?.value ?? null)) stats.staleServed++;
    return { value: answer.value, metadata: answer.metadata };
  }

  put(location, key, value, { expiration, expirationTtl, metadata } = {}) {
    checkKey('PUT', key);
    const bytes = Buffer.from(value);
    if (bytes.length > MAX_VALUE_BYTES) {
      throw new KvError('PUT', 413, `Value length of ${bytes.length} exceeds limit of ${MAX_VALUE_BYTES}.`);
    }
    const metadataText = metadata === undefined || metadata === null ? null : JSON.stringify(metadata);
    if (metadataText !== null && Buffer.byteLength(metadataText) > MAX_METADATA_BYTES) {
      throw new KvError('PUT', 413, `Metadata length of ${Buffer.byteLength(metadataText)} exceeds limit of ${MAX_METADATA_BYTES}.`);
    }
    const nowS = Math.floor(this.now() / 1000);
    let expiresAt = null;
    if (expirationTtl !== undefined) {
      if (!(expirationTtl >= MIN_EXPIRATION_TTL_S)) {
        throw new KvError('PUT', 400, `Invalid expiration_ttl of ${expirationTtl}. Expiration TTL must be at least ${MIN_EXPIRATION_TTL_S}.`);
      }
      expiresAt = nowS + Math.floor(expirationTtl);
    } else if (expiration !== undefined) {
      if (!(expiration >= nowS + MIN_EXPIRATION_TTL_S)) {
        throw new KvError('PUT', 400, `Invalid expiration of ${expiration}. Expiration times must be at least ${MIN_EXPIRATION_TTL_S} seconds in the future.`);
      }
      expiresAt = Math.floor(expiration);
    }
    this.#write('PUT', location, key, { value: bytes, metadata: metadataText === null ? null : JSON.parse(metadataText), expiration: expiresAt });
  }

  delete(location, key) {
    checkKey('DELETE', key);
    this.#write('DELETE', location, key, { value: null, metadata: null, expiration: null });
  }

  /** Keys as central held them LIST_LAG_MS ago. */
  list(location, { prefix = '', limit = MAX_LIST_KEYS, cursor } = {}) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new KvError('LIST', 400, `Invalid key_count_limit of ${limit}. Please specify an integer greater than 0.`);
    }
    if (limit > MAX_LIST_KEYS) {
      throw new KvError('LIST', 400, `Invalid key_count_limit of ${limit}. Please specify an integer less than ${MAX_LIST_KEYS}.`);
    }
    this.#stats(location).lists++;
    const settled = this.now() - LIST_LAG_MS;
    const names = [];
    for (const [name, writes] of this.keys) {
      if (!name.startsWith(prefix)) continue;
      const write = this.#live(writes.findLast((w) => w.at <= settled));
      if (write) names.push({ name, write });
    }
    names.sort((x, y) => (x.name < y.name ? -1 : 1));
    const start = cursor ? Number(Buffer.from(cursor, 'base64url').toString()) : 0;
    const page = names.slice(start, start + limit).map(({ name, write }) => ({
      name,
      ...(write.expiration === null ? {} : { expiration: write.expiration }),
      ...(write.metadata === null ? {} : { metadata: write.metadata }),
    }));
    const next = start + limit;
    return next < names.length
      ? { keys: page, list_complete: false, cursor: Buffer.from(String(next)).toString('base64url'), cacheStatus: null }
      : { keys: page, list_complete: true, cacheStatus: null };
  }

  // --- internals ---

  #write(operation, location, key, write) {
    const stats = this.#stats(location);
    const now = this.now();
    const last = this.#latest(key);
    if (last && now - last.at < WRITE_INTERVAL_MS) {
      stats.writesRefused++;
      throw new KvError(operation, 429, 'Too Many Requests');
    }
    stats.writes++;
    const writes = this.keys.get(key) ?? [];
    writes.push({ ...write, at: now, location });
    // Keep the last write old enough for every reader, and all after it.
    const horizon = now - Math.max(LIST_LAG_MS, this.propagationDelayMs);
    const keep = writes.findLastIndex((w) => w.at <= horizon);
    this.keys.set(key, keep > 0 ? writes.slice(keep) : writes);
    if (this.readYourWrites) {
      this.#cache(location).set(key, { value: write.value, metadata: write.metadata, expiration: write.expiration, until: now + DEFAULT_CACHE_TTL_S * 1000 });
    }
  }

  #latest(key) {
    return this.keys.get(key)?.at(-1) ?? null;
  }

  /** The newest write `location` can read, uncached: its own at once, others' after the delay. */
  #visible(location, key, now) {
    return this.keys.get(key)?.findLast((w) => w.location === location || w.at + this.propagationDelayMs <= now) ?? null;
  }

  #expired(write) {
    return write.expiration !== null && write.expiration * 1000 <= this.now();
  }

  /** A write that holds a value now: not a delete, not expired. */
  #live(write) {
    return write && write.value !== null && !this.#expired(write) ? write : null;
  }

  #cache(location) {
    if (!this.caches.has(location)) this.caches.set(location, new Map());
    return this.caches.get(location);
  }

  #stats(location) {
    if (!this.stats.has(location)) this.stats.set(location, emptyStats());
    return this.stats.get(location);
  }

  // The wire between the wrapped binding and Node: the operation and its
  // arguments in the query (`q`, JSON), a value as the body; answers are the
  // value as the body (`KV-Null: 1` for none, `KV-Metadata` JSON), list as
  // JSON, a refusal as its status with the binding's message.
  async #serve(request) {
    const url = new URL(request.url);
    const { location, op, key, keys, options = {} } = JSON.parse(url.searchParams.get('q'));
    try {
      switch (op) {
        case 'get': {
          const { value, metadata } = this.get(location, key, options);
          const headers = { 'KV-Metadata': JSON.stringify(metadata) };
          return value === null ? new Response(null, { headers: { ...headers, 'KV-Null': '1' } }) : new Response(value, { headers });
        }
        case 'getBulk': {
          if (keys.length > MAX_BULK_KEYS) throw new KvError('GET', 400, `You can request a maximum of ${MAX_BULK_KEYS} keys`);
          if (keys.length < 1) throw new KvError('GET', 400, 'You must request a minimum of 1 key');
          const out = keys.map((k) => {
            const { value, metadata } = this.get(location, k, options);
            return [k, value === null ? null : value.toString('utf8'), metadata];
          });
          return Response.json(out);
        }
        case 'put':
          this.put(location, key, Buffer.from(await request.arrayBuffer()), options);
          return new Response(null, { status: 204 });
        case 'delete':
          this.delete(location, key);
          return new Response(null, { status: 204 });
        case 'list':
          return Response.json(this.list(location, options));
        default:
          return new Response(`unknown operation ${op}`, { status: 400 });
      }
    } catch (error) {
      if (error instanceof KvError) return new Response(error.message, { status: error.status });
      throw error;
    }
  }
}

function checkKey(operation, key) {
  if (key === '') throw new KvError(operation, 400, 'Key names must not be empty');
  if (key === '.' || key === '..') throw new KvError(operation, 400, `Illegal key name "${key}". Please use a different name.`);
  const length = Buffer.byteLength(key);
  if (length > MAX_KEY_BYTES) {
    throw new KvError(operation, 414, `UTF-8 encoded length of ${length} exceeds key length limit of ${MAX_KEY_BYTES}.`);
  }
}

/**
 * The SHARES binding each location's Worker sees (a Miniflare wrapped
 * binding: its worker gets `MODEL`, the Node service, and `LOCATION`). The
 * Worker calls these methods on the binding (`this` is the namespace), as
 * on Cloudflare's KV. A refusal rejects with the binding's Error message.
 */
export const KV_BINDING_MODULE = `
const decoder = new TextDecoder();
function typeOf(options) {
  return (typeof options === 'string' ? options : options?.type) ?? 'text';
}
async function bytesOf(value) {
  if (typeof value === 'string') return new TextEncoder().encode(value);
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return value;
  if (value instanceof ReadableStream) return new Response(value).arrayBuffer();
  throw new TypeError('KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values.');
}
function as(bytes, type) {
  switch (type) {
    case 'text': return decoder.decode(bytes);
    case 'json': return JSON.parse(decoder.decode(bytes));
    case 'arrayBuffer': return bytes;
    case 'stream': return new Response(bytes).body;
    default: throw new TypeError('Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".');
  }
}
export default function ({ MODEL, LOCATION }) {
  async function call(op, args, body) {
    const q = encodeURIComponent(JSON.stringify({ location: LOCATION, op, ...args }));
    const response = await MODEL.fetch('http://kv-model/?q=' + q, { method: 'POST', body });
    if (!response.ok) throw new Error(await response.text());
    return response;
  }
  async function read(key, options, withMetadata) {
    const type = typeOf(options);
    const cacheTtl = typeof options === 'object' && options !== null ? options.cacheTtl : undefined;
    if (Array.isArray(key)) {
      if (type !== 'text' && type !== 'json') throw new TypeError('Bulk get supports only "text" and "json" types.');
      const answers = await (await call('getBulk', { keys: key, options: { cacheTtl } })).json();
      return new Map(answers.map(([k, text, metadata]) => {
        const value = text === null ? null : type === 'json' ? JSON.parse(text) : text;
        return [k, withMetadata ? { value, metadata } : value];
      }));
    }
    const response = await call('get', { key: String(key), options: { cacheTtl } });
    const metadata = JSON.parse(response.headers.get('KV-Metadata') ?? 'null');
    const value = response.headers.get('KV-Null') ? null : as(await response.arrayBuffer(), type);
    return withMetadata ? { value, metadata, cacheStatus: null } : value;
  }
  return {
    get: (key, options) => read(key, options, false),
    getWithMetadata: (key, options) => read(key, options, true),
    async put(key, value, options = {}) {
      const { expiration, expirationTtl, metadata } = options;
      await call('put', { key: String(key), options: { expiration, expirationTtl, metadata } }, await bytesOf(value));
    },
    async delete(key) {
      await call('delete', { key: String(key) });
    },
    async list(options = {}) {
      const { prefix, limit, cursor } = options;
      return (await call('list', { options: { prefix: prefix ?? '', limit: limit ?? 1000, cursor } })).json();
    },
  };
}
`;
