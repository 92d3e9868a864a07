// Workers KV as Cloudflare documents it for one location, served over RPC in
// place of Miniflare's KV (which answers list() and get() from one SQLite
// store, always fresh). What this model keeps from the platform:
// - list() is eventually consistent even where the write was made: a key
//   shows up in it only LIST_LAG_MS after its last write;
// - get() is served from the location's cache, negative answers included,
//   for CACHE_TTL_MS; a write made at this location updates that cache
//   (read-your-writes where the write was made).
// A design that needs a fresh list() fails against it; one that reads only
// keys it was told about, written here, passes.
import { WorkerEntrypoint } from 'cloudflare:workers';

const LIST_LAG_MS = 60_000;
const CACHE_TTL_MS = 60_000;

const central = new Map(); // key -> { value, writtenAt }
const cache = new Map(); // key -> { value (null: absent), until }

// A stored value as get(key, type) gives it: "text" (the default), "json"
// or "arrayBuffer", the type given as a string or as {type}.
function as(value, type) {
  const kind = typeof type === 'object' && type !== null ? type.type : type;
  if (value === null || kind === undefined || kind === 'text') return value;
  if (kind === 'json') return JSON.parse(value);
  if (kind === 'arrayBuffer') return new TextEncoder().encode(value).buffer;
  throw new TypeError(`the KV model does not serve get() type ${kind}`);
}

export class EventualKv extends WorkerEntrypoint {
  async get(key, type) {
    const cached = cache.get(key);
    if (cached && cached.until > Date.now()) return as(cached.value, type);
    const value = central.get(key)?.value ?? null;
    cache.set(key, { value, until: Date.now() + CACHE_TTL_MS });
    return as(value, type);
  }

  async put(key, value) {
    central.set(key, { value: String(value), writtenAt: Date.now() });
    cache.set(key, { value: String(value), until: Date.now() + CACHE_TTL_MS });
  }

  async delete(key) {
    central.delete(key);
    cache.set(key, { value: null, until: Date.now() + CACHE_TTL_MS });
  }

  async list({ prefix = '' } = {}) {
    const settled = Date.now() - LIST_LAG_MS;
    const keys = [...central.entries()]
      .filter(([key, { writtenAt }]) => key.startsWith(prefix) && writtenAt <= settled)
      .map(([name]) => ({ name }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    return { keys, list_complete: true, cursor: '' };
  }

  /** For the tests: every key held, whatever list() would say. */
  async dump() {
    return Object.fromEntries([...central.entries()].map(([key, { value }]) => [key, value]));
  }
}

export default {
  fetch() {
    return new Response('eventual KV model: RPC only', { status: 404 });
  },
};
