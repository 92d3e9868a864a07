// Portal's custodian backup webhooks, in workerd.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import {
  WEBHOOK_SECRET, dumpKv, fetchShares, postBackup, shareFragments, shareText, startPortal, statusOrReset, useStack, waitFor,
} from './harness.mjs';

describe('custodian backup webhooks', () => {
  const { worker } = useStack({ worker: true, fresh: 'each' });

  test('a stored share comes back from /backup/fetch exactly as sent', async () => {
    const share = shareText('client-1', 'GDRIVE');
    const stored = await postBackup(worker, { backupMethod: 'GDRIVE', clientId: 'client-1', share });
    assert.equal(stored.status, 200);
    assert.deepEqual(await stored.json(), { stored: true });
    assert.deepEqual(await fetchShares(worker, 'client-1'), { status: 200, body: { backupShares: [share] } });
  });

  test('nothing stored: 200 with an empty list', async () => {
    assert.deepEqual(await fetchShares(worker, 'client-nobody'), { status: 200, body: { backupShares: [] } });
  });

  test('a new share for the same method replaces the old one', async () => {
    const first = shareText('client-1', 'GDRIVE-SECP256K1', 1);
    const second = shareText('client-1', 'GDRIVE-SECP256K1', 2);
    await postBackup(worker, { backupMethod: 'GDRIVE-SECP256K1', clientId: 'client-1', share: first });
    await postBackup(worker, { backupMethod: 'GDRIVE-SECP256K1', clientId: 'client-1', share: second });
    assert.deepEqual((await fetchShares(worker, 'client-1')).body.backupShares, [second]);
  });

  test('every method of a client is returned, and only that client\'s', async () => {
    const methods = ['GDRIVE-SECP256K1', 'GDRIVE-ED25519', 'PASSWORD'];
    for (const backupMethod of methods) {
      const res = await postBackup(worker, { backupMethod, clientId: 'client-1', share: shareText('client-1', backupMethod) });
      assert.equal(res.status, 200);
    }
    await postBackup(worker, { backupMethod: 'GDRIVE', clientId: 'client-10', share: shareText('client-10', 'GDRIVE') });
    const { body } = await fetchShares(worker, 'client-1');
    assert.deepEqual(new Set(body.backupShares), new Set(methods.map((m) => shareText('client-1', m))));
    assert.deepEqual((await fetchShares(worker, 'client-10')).body.backupShares, [shareText('client-10', 'GDRIVE')]);
  });

  test('the same delivery twice leaves the same state', async () => {
    const body = { backupMethod: 'GDRIVE', clientId: 'client-1', share: shareText('client-1', 'GDRIVE') };
    assert.equal((await postBackup(worker, body)).status, 200);
    assert.equal((await postBackup(worker, body)).status, 200);
    // One record for the method: the replaced delivery's key is deleted once
    // KV allows its second write (more than a second after the first).
    const records = async () => Object.keys(await dumpKv(worker)).filter((k) => k.startsWith('custodian/client-1/GDRIVE/')).length;
    await waitFor(async () => (await records()) === 1);
    assert.deepEqual((await fetchShares(worker, 'client-1')).body.backupShares, [body.share]);
  });

  test('per-curve deliveries arriving together are each fetched right after their 200', async () => {
    const methods = ['GDRIVE-SECP256K1', 'GDRIVE-ED25519', 'GDRIVE-STARK', 'GDRIVE-BLS', 'PASSWORD-SECP256K1', 'PASSWORD-ED25519'];
    // Portal's check: each delivery's own fetch, right after its 200, must hold it.
    const checks = await Promise.all(methods.map(async (backupMethod) => {
      const share = shareText('client-2', backupMethod);
      const stored = await postBackup(worker, { backupMethod, clientId: 'client-2', share });
      assert.equal(stored.status, 200);
      return (await fetchShares(worker, 'client-2')).body.backupShares.includes(share);
    }));
    assert.deepEqual(checks, methods.map(() => true));
    const { body } = await fetchShares(worker, 'client-2');
    assert.deepEqual(body.backupShares, [...methods].sort().map((m) => shareText('client-2', m)));
  });

  test('shares are found through the client\'s directory, never by listing KV', async () => {
    await postBackup(worker, { backupMethod: 'GDRIVE', clientId: 'client-1', share: shareText('client-1', 'GDRIVE') });
    // A record under the client's prefix that no delivery named (what a
    // list() would find): not served.
    const [named] = Object.entries(await dumpKv(worker)).filter(([k]) => k.startsWith('custodian/client-1/'));
    await worker.kv.put(`custodian/client-1/ICLOUD/${'0'.repeat(32)}`, named[1]);
    assert.deepEqual((await fetchShares(worker, 'client-1')).body.backupShares, [shareText('client-1', 'GDRIVE')]);
  });

  test('a named record KV cannot produce is a 503 with Retry-After, never a shorter list', async () => {
    for (const backupMethod of ['GDRIVE', 'PASSWORD']) {
      await postBackup(worker, { backupMethod, clientId: 'client-1', share: shareText('client-1', backupMethod) });
    }
    const [key] = Object.keys(await dumpKv(worker)).filter((k) => k.startsWith('custodian/client-1/PASSWORD/'));
    await worker.kv.delete(key);
    const response = await worker.fetch('/webhooks/backup/fetch', {
      method: 'POST',
      headers: { 'X-Webhook-Secret': WEBHOOK_SECRET, 'Content-Type': 'application/json' },
      body: JSON.stringify({ clientId: 'client-1' }),
    });
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('Retry-After'), '1');
    assert.equal((await response.json()).error.code, 'STORAGE_UNAVAILABLE');
    // Portal's retry of the delivery heals it.
    await postBackup(worker, { backupMethod: 'PASSWORD', clientId: 'client-1', share: shareText('client-1', 'PASSWORD') });
    assert.equal((await fetchShares(worker, 'client-1')).body.backupShares.length, 2);
  });

  test('KV never holds the share in clear', async () => {
    const share = shareText('client-1', 'GDRIVE');
    await postBackup(worker, { backupMethod: 'GDRIVE', clientId: 'client-1', share });
    const raw = await dumpKv(worker);
    const [key] = Object.keys(raw).filter((k) => k.startsWith('custodian/client-1/GDRIVE/'));
    const record = JSON.parse(raw[key]);
    assert.equal(record.kid, 'k1');
    const everything = JSON.stringify(raw);
    const fragments = shareFragments(share);
    assert.ok(fragments.length >= 10);
    for (const fragment of fragments) assert.ok(!everything.includes(fragment), 'a share fragment is in KV in clear');
  });

  test('a missing or wrong X-Webhook-Secret is 401 and stores nothing', async () => {
    const body = { backupMethod: 'GDRIVE', clientId: 'client-1', share: shareText('client-1', 'GDRIVE') };
    for (const secret of [null, '', 'wrong', `${WEBHOOK_SECRET}x`, WEBHOOK_SECRET.slice(0, -1), WEBHOOK_SECRET.toUpperCase()]) {
      const res = await postBackup(worker, body, { secret });
      assert.equal(res.status, 401, `secret ${JSON.stringify(secret)}`);
      const text = await res.text();
      assert.equal(JSON.parse(text).error.code, 'UNAUTHENTICATED');
      assert.ok(!text.includes(WEBHOOK_SECRET.slice(6)));
    }
    const fetched = await fetchShares(worker, 'client-1', { secret: 'wrong' });
    assert.equal(fetched.status, 401);
    assert.deepEqual(await dumpKv(worker), {});
  });

  test('the secret is checked before the body is read', async () => {
    // A malformed body of the wrong type with a wrong secret is just 401, not 415 or 400.
    const small = await postBackup(worker, 'not json', { secret: 'wrong', contentType: 'text/plain' });
    assert.equal(small.status, 401);
    // Oversize too: 401 (or the connection closed unread), never 413.
    const big = await statusOrReset(() => postBackup(worker, 'x'.repeat(200_000), { secret: 'wrong' }));
    assert.ok(big === 401 || big === 'reset', `got ${big}`);
    assert.deepEqual(await dumpKv(worker), {});
  });

  test('malformed deliveries are refused and leave the stored share untouched', async () => {
    const good = { backupMethod: 'GDRIVE', clientId: 'client-1', share: shareText('client-1', 'GDRIVE') };
    await postBackup(worker, good);
    const before = await dumpKv(worker);
    const share = shareText('client-1', 'GDRIVE', 9);
    const cases = [
      ['not JSON', 'not json {', 400, 'INVALID_JSON'],
      ['a JSON array', '[1,2]', 400, 'INVALID_JSON'],
      ['missing share', { backupMethod: 'GDRIVE', clientId: 'client-1' }, 400, 'MISSING_FIELD'],
      ['missing clientId', { backupMethod: 'GDRIVE', share }, 400, 'MISSING_FIELD'],
      ['missing backupMethod', { clientId: 'client-1', share }, 400, 'MISSING_FIELD'],
      ['clientId a number', { backupMethod: 'GDRIVE', clientId: 1, share }, 400, 'INVALID_FIELD_TYPE'],
      ['share an object', { backupMethod: 'GDRIVE', clientId: 'client-1', share: JSON.parse(share) }, 400, 'INVALID_FIELD_TYPE'],
      ['share not JSON', { backupMethod: 'GDRIVE', clientId: 'client-1', share: 'plain text' }, 400, 'INVALID_SHARE'],
      ['share a JSON string', { backupMethod: 'GDRIVE', clientId: 'client-1', share: '"x"' }, 400, 'INVALID_SHARE'],
      ['clientId with a path', { backupMethod: 'GDRIVE', clientId: 'a/../b', share }, 400, 'INVALID_CLIENT_ID'],
      ['clientId with a colon', { backupMethod: 'GDRIVE', clientId: 'a:b', share }, 400, 'INVALID_CLIENT_ID'],
      ['clientId empty', { backupMethod: 'GDRIVE', clientId: '', share }, 400, 'INVALID_CLIENT_ID'],
      ['clientId 10 KB', { backupMethod: 'GDRIVE', clientId: 'a'.repeat(10_240), share }, 400, 'INVALID_CLIENT_ID'],
      ['clientId of another client + separator', { backupMethod: 'GDRIVE', clientId: 'client-1/GDRIVE', share }, 400, 'INVALID_CLIENT_ID'],
      ['backupMethod with a path', { backupMethod: '../GDRIVE', clientId: 'client-1', share }, 400, 'INVALID_BACKUP_METHOD'],
      ['backupMethod with a colon', { backupMethod: 'GDRIVE:x', clientId: 'client-1', share }, 400, 'INVALID_BACKUP_METHOD'],
      ['backupMethod empty', { backupMethod: '', clientId: 'client-1', share }, 400, 'INVALID_BACKUP_METHOD'],
      ['backupMethod 10 KB', { backupMethod: 'G'.repeat(10_240), clientId: 'client-1', share }, 400, 'INVALID_BACKUP_METHOD'],
      ['body over 64 KiB', { backupMethod: 'GDRIVE', clientId: 'client-1', share: JSON.stringify({ x: 'y'.repeat(70_000) }) }, 413, 'PAYLOAD_TOO_LARGE'],
    ];
    for (const [name, body, status, code] of cases) {
      const res = await postBackup(worker, body);
      assert.equal(res.status, status, name);
      assert.match(res.headers.get('content-type'), /^application\/json/, name);
      assert.equal((await res.json()).error.code, code, name);
    }
    const textPlain = await postBackup(worker, good, { contentType: 'text/plain' });
    assert.equal(textPlain.status, 415);
    assert.equal((await textPlain.json()).error.code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.deepEqual(await dumpKv(worker), before);
    assert.deepEqual((await fetchShares(worker, 'client-1')).body.backupShares, [good.share]);
  });

  test('a chunked body without Content-Length is cut off at the limit', async () => {
    const chunks = Array.from({ length: 20 }, () => Buffer.alloc(8192, 0x61));
    const status = await statusOrReset(() =>
      worker.fetch('/webhooks/backup', {
        method: 'POST',
        headers: { 'X-Webhook-Secret': WEBHOOK_SECRET, 'Content-Type': 'application/json' },
        body: Readable.toWeb(Readable.from(chunks)),
        duplex: 'half',
      }),
    );
    assert.ok(status === 413 || status === 'reset', `got ${status}`);
    assert.deepEqual(await dumpKv(worker), {});
  });

  test('webhooks answer only POST and carry no CORS headers', async () => {
    const get = await worker.fetch('/webhooks/backup', { headers: { Origin: 'https://wallet.example' } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    assert.equal(get.headers.get('access-control-allow-origin'), null);
    const preflight = await worker.fetch('/webhooks/backup', {
      method: 'OPTIONS',
      headers: { Origin: 'https://wallet.example', 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(preflight.status, 405);
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
    const post = await postBackup(worker, { backupMethod: 'GDRIVE', clientId: 'c', share: '{}' }, { headers: { Origin: 'https://wallet.example' } });
    assert.equal(post.status, 200);
    assert.equal(post.headers.get('access-control-allow-origin'), null);
  });
});

describe('Portal delivering to the Worker over HTTP', () => {
  // The Worker on a port of its own, and a second Portal that delivers to it.
  const { worker } = useStack({ portal: true, worker: { port: 0 } });
  let sender;
  before(async () => {
    sender = await startPortal({ webhookUrl: `${worker.url}/webhooks`, webhookSecret: WEBHOOK_SECRET });
  });
  after(() => sender.close());

  test('Portal\'s store-then-fetch check passes', async () => {
    const res = await fetch(`${sender.url}/__control/custodian-backup`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ clientId: 'client-alice', backupMethod: 'GDRIVE-SECP256K1' }),
    });
    const record = await res.json();
    assert.equal(record.backupStatus, 200);
    assert.equal(record.fetchStatus, 200);
    assert.equal(record.stored, true, record.error);
  });
});
