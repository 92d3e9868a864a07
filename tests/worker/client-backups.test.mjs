// Client backup storage for the browser module, in workerd, against the
// Portal stand-in.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  ALICE, backupSharePairId, clientApi, control, dumpKv, envelopeText, statusOrReset, useStack, waitFor,
} from './harness.mjs';

const ALICE_PAIRS = [backupSharePairId('client-alice', 'SECP256K1'), backupSharePairId('client-alice', 'ED25519')];
const BOB_PAIRS = [backupSharePairId('client-bob', 'SECP256K1')];

let tokenCounter = 0;
/** A token Portal knows but the Worker has never cached. */
async function freshClient(portal, clientId = 'client-carol') {
  const token = `test-token-fresh-${++tokenCounter}`;
  await control(portal, 'clients', { token, clientId });
  return { token, clientId, pairs: [backupSharePairId(clientId, 'SECP256K1')] };
}

describe('client backups', () => {
  // A fresh Worker per test; many writes as one client: limits are
  // tests/worker/limits.test.mjs's.
  const { portal, worker, alice, bob } = useStack({ portal: true, worker: { rateLimits: { CLIENT_WRITES: 100_000 } }, fresh: 'each' });

  test('a stored backup reads back byte for byte and Portal is told', async () => {
    const cipherText = envelopeText();
    const put = await alice.put('GDRIVE', cipherText, ALICE_PAIRS);
    assert.equal(put.status, 201);
    assert.equal(put.body.clientId, 'client-alice');
    assert.equal(put.body.backup.backupMethod, 'GDRIVE');
    assert.equal(put.body.backup.size, cipherText.length);
    assert.equal(put.body.backup.portalNotified, true);
    assert.equal(put.body.backup.confirmed, false);
    assert.ok(!Number.isNaN(Date.parse(put.body.backup.createdAt)));

    const calls = await control(portal, 'calls');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].clientId, 'client-alice');
    assert.equal(calls[0].status, 'STORED_CLIENT_BACKUP_SHARE');
    assert.deepEqual(calls[0].backupSharePairIds, ALICE_PAIRS);

    const got = await alice.get('GDRIVE');
    assert.equal(got.status, 200);
    assert.equal(got.body.current.cipherText, cipherText);
    assert.equal(got.body.current.backupId, put.body.backup.backupId);
    assert.equal(got.body.current.portalNotified, true);
    assert.equal(got.body.previous, null);

    const list = await alice.list();
    assert.equal(list.status, 200);
    assert.deepEqual(list.body, { clientId: 'client-alice', backups: [put.body.backup] });
  });

  test('notifyPortal: false defers the notification until /notify', async () => {
    const put = await alice.put('GDRIVE', envelopeText(), ALICE_PAIRS, { notifyPortal: false });
    assert.equal(put.status, 201);
    assert.equal(put.body.backup.portalNotified, false);
    assert.deepEqual(await control(portal, 'calls'), [], 'Portal not told yet');

    const notified = await alice.notify('GDRIVE');
    assert.equal(notified.status, 200);
    assert.equal(notified.body.backup.portalNotified, true);
    const calls = await control(portal, 'calls');
    assert.deepEqual(calls.map((c) => c.status), ['STORED_CLIENT_BACKUP_SHARE']);

    const wrongType = await alice.put('GDRIVE', envelopeText(), ALICE_PAIRS, { notifyPortal: 'no' });
    assert.equal(wrongType.status, 400);
    assert.equal(wrongType.body.error.code, 'INVALID_FIELD_TYPE');
  });

  test('ICLOUD is a client backup method like the others', async () => {
    const put = await alice.put('ICLOUD', envelopeText(), ALICE_PAIRS, { notifyPortal: false });
    assert.equal(put.status, 201);
    assert.equal(put.body.backup.backupMethod, 'ICLOUD');
    assert.equal((await alice.confirm('ICLOUD', put.body.backup.backupId)).status, 200);
    assert.deepEqual((await alice.list()).body.backups.map((b) => b.backupMethod), ['ICLOUD']);
  });

  test('a re-key of the confirmed version Portal was told of counts as told, without asking Portal', async () => {
    const first = await alice.put('PASSWORD', envelopeText(), ALICE_PAIRS);
    assert.equal(first.body.backup.portalNotified, true);
    await alice.confirm('PASSWORD', first.body.backup.backupId);
    const callsBefore = (await control(portal, 'calls')).length;

    // changeBackupKey's PUT: same pairs, rekeyOf the confirmed version.
    const rekeyed = await alice.put('PASSWORD', envelopeText(), ALICE_PAIRS, { notifyPortal: false, rekeyOf: first.body.backup.backupId });
    assert.equal(rekeyed.status, 201);
    assert.equal(rekeyed.body.backup.portalNotified, true, 'the pairs Portal holds as stored are the same');
    const confirmed = await alice.confirm('PASSWORD', rekeyed.body.backup.backupId);
    assert.equal(confirmed.body.backup.portalNotified, true);
    assert.equal((await control(portal, 'calls')).length, callsBefore, 'Portal was asked nothing');
    const got = await alice.get('PASSWORD');
    assert.equal(got.body.previous, null, 'the old version is gone after the confirm');

    // Any other claim claims nothing: another version, other pairs, an unconfirmed one.
    const stale = await alice.put('PASSWORD', envelopeText(), ALICE_PAIRS, { notifyPortal: false, rekeyOf: first.body.backup.backupId });
    assert.equal(stale.body.backup.portalNotified, false, 'not the confirmed version');
    const otherPairs = await alice.put('PASSWORD', envelopeText(), [ALICE_PAIRS[0]], { notifyPortal: false, rekeyOf: rekeyed.body.backup.backupId });
    assert.equal(otherPairs.body.backup.portalNotified, false, 'other pairs');
    const malformed = await alice.put('PASSWORD', envelopeText(), ALICE_PAIRS, { rekeyOf: 'not/an/id' });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.code, 'INVALID_BACKUP_ID');
    // The last confirmed version stays what recovery opens.
    assert.equal((await alice.get('PASSWORD')).body.previous.backupId, rekeyed.body.backup.backupId);
  });

  test('nothing stored: GET is 404, list is empty', async () => {
    const got = await alice.get('GDRIVE');
    assert.equal(got.status, 404);
    assert.equal(got.body.error.code, 'NOT_FOUND');
    assert.deepEqual((await alice.list()).body, { clientId: 'client-alice', backups: [] });
  });

  test('one client never reads or overwrites another\'s backup', async () => {
    const aliceText = envelopeText();
    await alice.put('GDRIVE', aliceText, ALICE_PAIRS);
    assert.equal((await bob.get('GDRIVE')).status, 404);
    assert.deepEqual((await bob.list()).body.backups, []);
    const bobPut = await bob.put('GDRIVE', envelopeText(), BOB_PAIRS);
    assert.equal(bobPut.status, 201);
    assert.equal(bobPut.body.clientId, 'client-bob');
    assert.equal((await alice.get('GDRIVE')).body.current.cipherText, aliceText);
    assert.equal((await bob.remove('GDRIVE')).status, 204);
    assert.equal((await alice.get('GDRIVE')).body.current.cipherText, aliceText);
  });

  test('a missing or rejected token is 401 and touches nothing', async () => {
    await alice.put('GDRIVE', envelopeText(), ALICE_PAIRS);
    const before = await dumpKv(worker);
    const anonymous = clientApi(worker, {});
    const stranger = clientApi(worker, { token: 'test-token-unknown' });
    for (const api of [anonymous, stranger]) {
      for (const res of [await api.get('GDRIVE'), await api.list(), await api.put('GDRIVE', envelopeText(), ALICE_PAIRS), await api.remove('GDRIVE')]) {
        assert.equal(res.status, 401);
        assert.equal(res.body.error.code, 'UNAUTHENTICATED');
      }
    }
    const basic = await anonymous.call('GET', '/GDRIVE', undefined, { Authorization: 'Basic dGVzdA==' });
    assert.equal(basic.status, 401);
    assert.deepEqual(await dumpKv(worker), before);
  });

  test('Portal down or failing is 503, never a pass', async () => {
    const carol = await freshClient(portal);
    const api = clientApi(worker, carol);
    await control(portal, 'down', { down: true });
    const down = await api.list();
    assert.equal(down.status, 503);
    assert.equal(down.body.error.code, 'PORTAL_UNAVAILABLE');
    await control(portal, 'down', { down: false });
    for (const status of [500, 502, 429]) {
      await control(portal, 'fail', { count: 1, status, path: '/clients/me' });
      const failing = await api.put('GDRIVE', envelopeText(), carol.pairs);
      assert.equal(failing.status, 503, `Portal ${status}`);
    }
    assert.deepEqual(await dumpKv(worker), {});
    // Once Portal is back the same token works.
    assert.equal((await api.list()).status, 200);
  });

  test('Portal slower than 5 s counts as down', async () => {
    const carol = await freshClient(portal);
    await control(portal, 'slow', { ms: 7000 });
    const started = Date.now();
    const res = await clientApi(worker, carol).list();
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'PORTAL_UNAVAILABLE');
    assert.ok(Date.now() - started < 6500);
    await control(portal, 'slow', { ms: 0 });
  });

  test('a verified token is remembered briefly, not re-asked every request', async () => {
    const carol = await freshClient(portal);
    const api = clientApi(worker, carol);
    assert.equal((await api.list()).status, 200);
    await control(portal, 'down', { down: true });
    assert.equal((await api.list()).status, 200);
    await control(portal, 'down', { down: false });
    const raw = JSON.stringify(await dumpKv(worker));
    assert.ok(!raw.includes(carol.token));
  });

  test('when telling Portal fails the backup stays stored, and /notify retries', async () => {
    await control(portal, 'fail', { count: 1, status: 500, path: 'backup-share-pairs' });
    const cipherText = envelopeText();
    const put = await alice.put('GDRIVE', cipherText, ALICE_PAIRS);
    assert.equal(put.status, 201);
    assert.equal(put.body.backup.portalNotified, false);
    assert.deepEqual(await control(portal, 'calls'), []);
    const got = await alice.get('GDRIVE');
    assert.equal(got.body.current.cipherText, cipherText);
    assert.equal(got.body.current.portalNotified, false);
    assert.equal((await alice.list()).body.backups[0].portalNotified, false);

    const notified = await alice.notify('GDRIVE');
    assert.equal(notified.status, 200);
    assert.equal(notified.body.backup.portalNotified, true);
    assert.equal(notified.body.backup.backupId, put.body.backup.backupId);
    const calls = await control(portal, 'calls');
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0].backupSharePairIds, ALICE_PAIRS);
    assert.equal((await alice.get('GDRIVE')).body.current.portalNotified, true);
    assert.equal((await alice.notify('PASSWORD')).status, 404);
  });

  test('the last confirmed backup survives until a new one is confirmed', async () => {
    const v1 = await alice.put('GDRIVE', envelopeText(), ALICE_PAIRS);
    assert.equal((await alice.confirm('GDRIVE', v1.body.backup.backupId)).body.backup.confirmed, true);
    const v1Text = (await alice.get('GDRIVE')).body.current.cipherText;

    const v2 = await alice.put('GDRIVE', envelopeText(), ALICE_PAIRS);
    let got = (await alice.get('GDRIVE')).body;
    assert.equal(got.current.backupId, v2.body.backup.backupId);
    assert.equal(got.previous.backupId, v1.body.backup.backupId);
    assert.equal(got.previous.cipherText, v1Text);
    assert.equal(got.previous.confirmed, true);

    // v2 was never confirmed (the backup failed half-way): v3 replaces it, v1 stays.
    const v3 = await alice.put('GDRIVE', envelopeText(), ALICE_PAIRS);
    got = (await alice.get('GDRIVE')).body;
    assert.equal(got.current.backupId, v3.body.backup.backupId);
    assert.equal(got.previous.backupId, v1.body.backup.backupId);

    const stale = await alice.confirm('GDRIVE', v2.body.backup.backupId);
    assert.equal(stale.status, 409);
    assert.equal(stale.body.error.code, 'NOT_CURRENT');
    assert.equal((await alice.confirm('GDRIVE', v3.body.backup.backupId)).status, 200);
    got = (await alice.get('GDRIVE')).body;
    assert.equal(got.current.confirmed, true);
    assert.equal(got.previous, null);
  });

  test('each version is its own write-once KV blob; list asks the client\'s object, not KV', async () => {
    const gdrive = await alice.put('GDRIVE', envelopeText(), ALICE_PAIRS);
    const password = await alice.put('PASSWORD', envelopeText(), ALICE_PAIRS);
    const blobs = Object.keys(await dumpKv(worker)).sort();
    assert.deepEqual(blobs, [
      `envelope/client-alice/GDRIVE/${gdrive.body.backup.backupId}`,
      `envelope/client-alice/PASSWORD/${password.body.backup.backupId}`,
    ]);
    // Nothing else is kept in KV: confirm and notify change the object only.
    await alice.confirm('GDRIVE', gdrive.body.backup.backupId);
    await alice.notify('GDRIVE');
    assert.deepEqual(Object.keys(await dumpKv(worker)).sort(), blobs);
    assert.deepEqual((await alice.list()).body.backups.map((b) => b.backupMethod), ['GDRIVE', 'PASSWORD']);
  });

  test('a version no longer named is deleted from KV once its key may be written again', async () => {
    const v1 = await alice.put('GDRIVE', envelopeText(), ALICE_PAIRS);
    await alice.confirm('GDRIVE', v1.body.backup.backupId);
    const v2 = await alice.put('GDRIVE', envelopeText(), ALICE_PAIRS);
    const v3 = await alice.put('GDRIVE', envelopeText(), ALICE_PAIRS); // v2 was never confirmed
    const key = (put) => `envelope/client-alice/GDRIVE/${put.body.backup.backupId}`;
    // v2's blob waits out KV's one write per second per key before its delete.
    assert.ok(key(v2) in await dumpKv(worker));
    await waitFor(async () => !(key(v2) in await dumpKv(worker)));
    assert.deepEqual(Object.keys(await dumpKv(worker)).sort(), [key(v1), key(v3)].sort());
    await alice.confirm('GDRIVE', v3.body.backup.backupId);
    await waitFor(async () => !(key(v1) in await dumpKv(worker)));
    assert.equal((await alice.remove('GDRIVE')).status, 204);
    await waitFor(async () => Object.keys(await dumpKv(worker)).length === 0);
  });

  test('a PASSKEY backup (envelope key kind 3) is stored, read back and listed like the others', async () => {
    // PBAK, version 1, kind 3, a 32-byte credential id, PRF salt, nonce, a 4 KiB ciphertext and its tag.
    const head = Buffer.from([0x50, 0x42, 0x41, 0x4b, 1, 3, 0, 32]);
    const cipherText = Buffer.concat([head, randomBytes(32 + 32 + 12 + 4096 + 16)]).toString('base64url');
    const put = await alice.put('PASSKEY', cipherText, ALICE_PAIRS);
    assert.equal(put.status, 201);
    assert.equal(put.body.backup.backupMethod, 'PASSKEY');
    assert.equal((await alice.get('PASSKEY')).body.current.cipherText, cipherText);
    await alice.put('GDRIVE', envelopeText(), ALICE_PAIRS);
    assert.deepEqual((await alice.list()).body.backups.map((b) => b.backupMethod), ['GDRIVE', 'PASSKEY']);
    // A credential id length of 0 is no envelope.
    const empty = Buffer.concat([head.subarray(0, 6), Buffer.from([0, 0]), randomBytes(200)]).toString('base64url');
    assert.equal((await alice.put('PASSKEY', empty, ALICE_PAIRS)).body.error.code, 'INVALID_CIPHERTEXT');
  });

  test('a method the browser module does not support is refused and nothing is stored', async () => {
    for (const method of ['YUBIKEY', 'GDRIVE-SECP256K1', 'gdrive']) {
      const put = await alice.put(method, envelopeText(), ALICE_PAIRS);
      assert.equal(put.status, 400, method);
      assert.equal(put.body.error.code, 'UNSUPPORTED_BACKUP_METHOD');
      assert.equal((await alice.get(method)).body.error.code, 'UNSUPPORTED_BACKUP_METHOD');
    }
    assert.deepEqual(await dumpKv(worker), {});
  });

  test('delete removes a backup; deleting again is 404', async () => {
    await alice.put('GDRIVE', envelopeText(), ALICE_PAIRS);
    await alice.put('PASSWORD', envelopeText(), ALICE_PAIRS);
    const removed = await alice.remove('GDRIVE');
    assert.equal(removed.status, 204);
    assert.equal(removed.text, '');
    assert.equal((await alice.get('GDRIVE')).status, 404);
    assert.equal((await alice.remove('GDRIVE')).status, 404);
    assert.deepEqual((await alice.list()).body.backups.map((b) => b.backupMethod), ['PASSWORD']);
  });

  test('malformed uploads are refused and change nothing', async () => {
    await alice.put('GDRIVE', envelopeText(), ALICE_PAIRS);
    const before = await dumpKv(worker);
    const good = envelopeText();
    const cases = [
      ['not JSON', () => alice.call('PUT', '/GDRIVE', '{nope'), 400, 'INVALID_JSON'],
      ['text/plain', () => alice.call('PUT', '/GDRIVE', { cipherText: good, backupSharePairIds: ALICE_PAIRS }, { 'Content-Type': 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['no cipherText', () => alice.call('PUT', '/GDRIVE', { backupSharePairIds: ALICE_PAIRS }), 400, 'MISSING_FIELD'],
      ['cipherText not base64url', () => alice.put('GDRIVE', 'not base64 !!', ALICE_PAIRS), 400, 'INVALID_CIPHERTEXT'],
      ['cipherText not an envelope', () => alice.put('GDRIVE', Buffer.from('hello world, not sealed').toString('base64url'), ALICE_PAIRS), 400, 'INVALID_CIPHERTEXT'],
      ['no pair ids', () => alice.put('GDRIVE', good, []), 400, 'INVALID_SHARE_PAIR_IDS'],
      ['hostile pair id', () => alice.put('GDRIVE', good, ['../x']), 400, 'INVALID_SHARE_PAIR_IDS'],
      ['too many pair ids', () => alice.put('GDRIVE', good, Array(17).fill('p')), 400, 'INVALID_SHARE_PAIR_IDS'],
      ['unknown field', () => alice.call('PUT', '/GDRIVE', { cipherText: good, backupSharePairIds: ALICE_PAIRS, clientId: 'client-bob' }), 400, 'UNKNOWN_FIELD'],
      ['method with a colon', () => alice.put('a:b', good, ALICE_PAIRS), 400, 'INVALID_BACKUP_METHOD'],
      ['method with an escaped path', () => alice.put('a%2F..%2Fb', good, ALICE_PAIRS), 400, 'INVALID_BACKUP_METHOD'],
      ['method 10 KB', () => alice.put('G'.repeat(10_240), good, ALICE_PAIRS), 400, 'INVALID_BACKUP_METHOD'],
      ['confirm without backupId', () => alice.call('POST', '/GDRIVE/confirm', {}), 400, 'MISSING_FIELD'],
      ['PATCH', () => alice.call('PATCH', '/GDRIVE', {}), 405, 'METHOD_NOT_ALLOWED'],
      ['unknown route', () => alice.call('GET', '/GDRIVE/versions'), 404, 'ROUTE_NOT_FOUND'],
    ];
    for (const [name, send, status, code] of cases) {
      const res = await send();
      assert.equal(res.status, status, name);
      assert.match(res.headers.get('content-type'), /^application\/json/, name);
      assert.equal(res.body.error.code, code, name);
    }
    // Over 256 KiB: 413 (or the connection closed unread, see statusOrReset).
    const oversize = await statusOrReset(() =>
      worker.fetch('/v1/client-backups/GDRIVE', {
        method: 'PUT',
        headers: { Authorization: `Bearer ${ALICE.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ cipherText: envelopeText(200_000), backupSharePairIds: ALICE_PAIRS }),
      }),
    );
    assert.ok(oversize === 413 || oversize === 'reset', `got ${oversize}`);
    assert.deepEqual(await dumpKv(worker), before);
  });
});

describe('client backups with NOTIFY_PORTAL="false"', () => {
  const { portal, worker } = useStack({ portal: true, worker: { notifyPortal: 'false' } });

  test('the backup is stored and Portal is not called', async () => {
    const put = await clientApi(worker, ALICE).put('GDRIVE', envelopeText(), ALICE_PAIRS);
    assert.equal(put.status, 201);
    assert.equal(put.body.backup.portalNotified, false);
    assert.deepEqual(await control(portal, 'calls'), []);
  });
});
