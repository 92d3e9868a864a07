// The model of Workers KV (kv-model.mjs) does what Cloudflare documents, so
// that a Worker passing against it has met those rules: first in Node with a
// hand-moved clock, then through the SHARES binding a Worker sees in workerd.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Miniflare } from 'miniflare';
import { COMPATIBILITY_DATE } from '../support/worker.mjs';
import { KV_BINDING_MODULE, KvModel, LIST_LAG_MS, MAX_KEY_BYTES, MAX_VALUE_BYTES } from './kv-model.mjs';

function clocked(options) {
  let now = 1_000_000;
  const model = new KvModel({ ...options, now: () => now });
  return { model, tick: (ms) => { now += ms; } };
}
const text = (answer) => answer.value?.toString('utf8') ?? null;

describe('the KV model', () => {
  test('a second write of a key within a second is refused and counted; after it, accepted', () => {
    const { model, tick } = clocked();
    model.put('a', 'k', 'one');
    tick(999);
    assert.throws(() => model.put('b', 'k', 'two'), { message: 'KV PUT failed: 429 Too Many Requests' });
    assert.throws(() => model.delete('a', 'k'), { message: 'KV DELETE failed: 429 Too Many Requests' });
    assert.equal(model.statistics().b.writesRefused, 1);
    assert.equal(model.statistics().total.writesRefused, 2);
    tick(1);
    model.put('b', 'k', 'two');
    model.put('b', 'other', 'x'); // another key is not limited
    assert.equal(model.dump().k, 'two');
    assert.equal(model.statistics().total.writes, 3);
  });

  test('a location serves what it read, negative answers too, for cacheTtl; the writer reads its write', () => {
    const { model, tick } = clocked();
    assert.equal(text(model.get('b', 'k')), null);
    model.put('a', 'k', 'one');
    assert.equal(text(model.get('a', 'k')), 'one');
    assert.equal(text(model.get('b', 'k')), null, 'B cached "not found"');
    tick(59_999);
    assert.equal(text(model.get('b', 'k')), null);
    tick(1);
    assert.equal(text(model.get('b', 'k')), 'one', 'the cache ran out after 60 s');
    assert.equal(model.statistics().b.staleServed, 2);
    assert.equal(model.statistics().a.staleServed, 0);
  });

  test('get(key, {cacheTtl}) sets how long the answer is kept, at least 30 s', () => {
    const { model, tick } = clocked();
    model.put('a', 'k', 'one');
    model.get('b', 'k', { cacheTtl: 30 });
    tick(1_000);
    model.put('a', 'k', 'two');
    tick(29_000);
    assert.equal(text(model.get('b', 'k')), 'two');
    assert.throws(() => model.get('b', 'k', { cacheTtl: 29 }), { message: /KV GET failed: 400 .*at least 30/ });
  });

  test('read-your-writes off: the writer keeps serving what it had read', () => {
    const { model, tick } = clocked({ readYourWrites: false });
    model.put('a', 'k', 'one');
    assert.equal(text(model.get('a', 'k')), 'one');
    tick(1_000);
    model.put('a', 'k', 'two');
    assert.equal(text(model.get('a', 'k')), 'one');
    assert.equal(text(model.get('a', 'fresh')), null);
    model.put('a', 'fresh', 'new');
    assert.equal(text(model.get('a', 'fresh')), null, 'its "not found" too');
  });

  test('a propagation delay hides a write from other locations that never read the key', () => {
    const { model, tick } = clocked({ propagationDelayMs: 500 });
    model.put('a', 'k', 'one');
    assert.equal(text(model.get('a', 'k')), 'one');
    assert.equal(text(model.get('b', 'k')), null);
    tick(500);
    assert.equal(text(model.get('c', 'k')), 'one');
    assert.equal(text(model.get('b', 'k')), null, 'B cached its early "not found"');
    model.advance(60_000);
    assert.equal(text(model.get('b', 'k')), 'one', 'until its cacheTtl ran out');
  });

  test('list() shows central as it was a minute ago, deletes included', () => {
    const { model, tick } = clocked();
    model.put('a', 'p/1', 'x');
    assert.deepEqual(model.list('a', { prefix: 'p/' }).keys, []);
    tick(LIST_LAG_MS);
    assert.deepEqual(model.list('a', { prefix: 'p/' }).keys, [{ name: 'p/1' }]);
    model.delete('a', 'p/1');
    assert.deepEqual(model.list('b', { prefix: 'p/' }).keys, [{ name: 'p/1' }]);
    assert.deepEqual(model.dump(), {});
    tick(LIST_LAG_MS);
    assert.deepEqual(model.list('b', { prefix: 'p/' }), { keys: [], list_complete: true, cacheStatus: null });
  });

  test('list() pages with limit and cursor', () => {
    const { model, tick } = clocked();
    for (const n of [3, 1, 2]) model.put('a', `k${n}`, 'x');
    tick(LIST_LAG_MS);
    const first = model.list('a', { limit: 2 });
    assert.deepEqual([first.keys.map((k) => k.name), first.list_complete], [['k1', 'k2'], false]);
    const second = model.list('a', { limit: 2, cursor: first.cursor });
    assert.deepEqual([second.keys.map((k) => k.name), second.list_complete], [['k3'], true]);
    assert.throws(() => model.list('a', { limit: 1001 }), { message: /KV LIST failed: 400/ });
  });

  test('oversized keys and values are refused as Cloudflare refuses them', () => {
    const { model } = clocked();
    const long = 'é'.repeat(MAX_KEY_BYTES / 2) + 'x';
    assert.throws(() => model.put('a', long, 'v'), { message: `KV PUT failed: 414 UTF-8 encoded length of ${MAX_KEY_BYTES + 1} exceeds key length limit of ${MAX_KEY_BYTES}.` });
    assert.throws(() => model.get('a', long), { message: /^KV GET failed: 414 / });
    model.put('a', 'k'.repeat(MAX_KEY_BYTES), 'v');
    assert.throws(() => model.put('a', 'big', Buffer.alloc(MAX_VALUE_BYTES + 1)), { message: `KV PUT failed: 413 Value length of ${MAX_VALUE_BYTES + 1} exceeds limit of ${MAX_VALUE_BYTES}.` });
    model.put('a', 'big', Buffer.alloc(MAX_VALUE_BYTES));
    assert.equal(model.statistics().total.writesRefused, 0, 'a refusal for size is not the write limit');
  });

  test('expirationTtl: at least 60 s, and the key is gone after it', () => {
    const { model, tick } = clocked();
    assert.throws(() => model.put('a', 'k', 'v', { expirationTtl: 59 }), { message: /KV PUT failed: 400/ });
    model.put('a', 'k', 'v', { expirationTtl: 60 });
    tick(60_000);
    assert.equal(text(model.get('b', 'k')), null);
    assert.deepEqual(model.dump(), {});
  });

  test('seed() is old enough to be listed and rewritten at once; reset() forgets it', () => {
    const { model } = clocked();
    model.seed({ 'client/c/GDRIVE': '{"v":1}' });
    assert.deepEqual(model.list('a').keys, [{ name: 'client/c/GDRIVE' }]);
    model.delete('a', 'client/c/GDRIVE');
    model.reset();
    assert.deepEqual([model.dump(), model.statistics()], [{}, { total: { reads: 0, writes: 0, writesRefused: 0, staleServed: 0, lists: 0 } }]);
  });
});

describe('the KV model behind a SHARES binding in workerd', () => {
  const model = new KvModel();
  let mf;
  before(async () => {
    // A Worker that runs one KV call from its request and answers its result.
    const probe = `export default { async fetch(request, env) {
      const { op, args } = await request.json();
      try {
        let value = await env.SHARES[op](...args);
        if (value instanceof ArrayBuffer) value = { bytes: [...new Uint8Array(value)] };
        if (value instanceof Map) value = { map: [...value] };
        return Response.json({ value: value ?? null });
      } catch (error) {
        return Response.json({ error: String(error.message) });
      }
    } }`;
    mf = new Miniflare({
      cf: false,
      workers: [
        { name: 'probe', modules: true, script: probe, compatibilityDate: COMPATIBILITY_DATE, wrappedBindings: { SHARES: { scriptName: 'binding', bindings: { LOCATION: 'x' } } } },
        { name: 'binding', modules: [{ type: 'ESModule', path: 'binding.js', contents: KV_BINDING_MODULE }], serviceBindings: { MODEL: model.handler } },
      ],
    });
  });
  after(() => mf.dispose());
  const call = async (op, ...args) => (await mf.dispatchFetch('http://probe/', { method: 'POST', body: JSON.stringify({ op, args }) })).json();

  test('put, then get as text, json, arrayBuffer and {type}, with metadata', async () => {
    assert.deepEqual(await call('put', 'k', '{"a":1}', { metadata: { m: 2 } }), { value: null });
    assert.deepEqual(await call('get', 'k'), { value: '{"a":1}' });
    assert.deepEqual(await call('get', 'k', 'json'), { value: { a: 1 } });
    assert.deepEqual(await call('get', 'k', { type: 'json', cacheTtl: 30 }), { value: { a: 1 } });
    assert.deepEqual(await call('get', 'k', 'arrayBuffer'), { value: { bytes: [...Buffer.from('{"a":1}')] } });
    assert.deepEqual(await call('getWithMetadata', 'k', 'json'), { value: { value: { a: 1 }, metadata: { m: 2 }, cacheStatus: null } });
    assert.deepEqual(await call('get', ['k', 'none']), { value: { map: [['k', '{"a":1}'], ['none', null]] } });
    assert.deepEqual(await call('get', 'none'), { value: null });
    assert.equal(model.statistics().x.reads, 8);
  });

  test("refusals reject the binding's promise with Cloudflare's message", async () => {
    await call('put', 'twice', 'one');
    assert.deepEqual(await call('put', 'twice', 'two'), { error: 'KV PUT failed: 429 Too Many Requests' });
    assert.deepEqual(await call('delete', 'twice'), { error: 'KV DELETE failed: 429 Too Many Requests' });
    assert.match((await call('get', 'k'.repeat(513))).error, /^KV GET failed: 414 /);
    assert.match((await call('get', 'k', { cacheTtl: 10 })).error, /^KV GET failed: 400 /);
    assert.equal(model.statistics().x.writesRefused, 2);
  });

  test('list() through the binding lags as the model does', async () => {
    assert.deepEqual(await call('list', { prefix: 'k' }), { value: { keys: [], list_complete: true, cacheStatus: null } });
  });
});
