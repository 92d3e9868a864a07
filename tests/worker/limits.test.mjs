// Abuse limits, in workerd: Miniflare runs the Rate Limiting binding and the
// custodian Durable Object locally, for real.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALICE, BOB, WEBHOOK_SECRET, backupSharePairId, clientApi, dumpKv, envelopeText, fetchShares, postBackup, shareText,
  useStack,
} from './harness.mjs';

const deliver = (worker, clientId, backupMethod, counter = 1, headers = {}) =>
  postBackup(worker, { backupMethod, clientId, share: shareText(clientId, backupMethod, counter) }, { headers });

async function errorOf(response) {
  return { status: response.status, retryAfter: response.headers.get('Retry-After'), code: (await response.json()).error?.code };
}

describe('custodian methods per client', () => {
  const { worker } = useStack({ worker: true });

  test('the 33rd method is refused with 409 and nothing is stored; stored ones stay replaceable', async () => {
    const methods = Array.from({ length: 32 }, (_, n) => `METHOD-${n}`);
    for (const method of methods) assert.equal((await deliver(worker, 'client-many', method)).status, 200);
    const before = await dumpKv(worker);
    const refused = await deliver(worker, 'client-many', 'METHOD-32');
    assert.deepEqual(await errorOf(refused), { status: 409, retryAfter: null, code: 'TOO_MANY_BACKUP_METHODS' });
    assert.deepEqual(await dumpKv(worker), before, 'a refused delivery wrote nothing');
    assert.equal((await deliver(worker, 'client-many', 'METHOD-7', 2)).status, 200);
    const { body } = await fetchShares(worker, 'client-many');
    assert.equal(body.backupShares.length, 32);
    assert.ok(body.backupShares.includes(shareText('client-many', 'METHOD-7', 2)));
    // Another client is not affected by this one's count.
    assert.equal((await deliver(worker, 'client-other', 'METHOD-32')).status, 200);
  });

  test('40 new methods delivered at once: exactly 32 stored, and every 200 is fetched', async () => {
    const methods = Array.from({ length: 40 }, (_, n) => `CURVE-${n}`);
    const statuses = await Promise.all(methods.map(async (method) => (await deliver(worker, 'client-burst', method)).status));
    assert.equal(statuses.filter((s) => s === 200).length, 32);
    assert.equal(statuses.filter((s) => s === 409).length, 8);
    const accepted = methods.filter((_, n) => statuses[n] === 200);
    const { body } = await fetchShares(worker, 'client-burst');
    assert.deepEqual(body.backupShares, accepted.sort().map((m) => shareText('client-burst', m)));
    const records = Object.keys(await dumpKv(worker)).filter((k) => k.startsWith('custodian/client-burst/'));
    assert.equal(records.length, 32, 'no refused delivery left a record behind');
  });
});

describe('failed webhook authentications per source address', () => {
  const { worker } = useStack({ worker: { rateLimits: { WEBHOOK_AUTH_FAILURES: 3 } } });
  const attacker = { 'CF-Connecting-IP': '203.0.113.9' };
  const portalAddress = { 'CF-Connecting-IP': '35.203.150.117' };

  test('past the limit an address gets 429 for everything; Portal\'s address is untouched', async () => {
    const wrong = (headers) =>
      postBackup(worker, { backupMethod: 'GDRIVE', clientId: 'client-1', share: shareText('client-1', 'GDRIVE') }, { secret: 'guess', headers });
    for (let n = 0; n < 3; n++) assert.equal((await wrong(attacker)).status, 401);
    const limited = await wrong(attacker);
    assert.deepEqual(await errorOf(limited), { status: 429, retryAfter: '60', code: 'RATE_LIMITED' });
    // A right guess from that address is not told apart from a wrong one.
    const rightGuess = await deliver(worker, 'client-1', 'GDRIVE', 1, attacker);
    assert.deepEqual(await errorOf(rightGuess), { status: 429, retryAfter: '60', code: 'RATE_LIMITED' });
    assert.deepEqual(await dumpKv(worker), {});
    // Portal, from its own address, delivers and fetches as usual.
    assert.equal((await deliver(worker, 'client-1', 'GDRIVE', 1, portalAddress)).status, 200);
    const fetched = await worker.fetch('/webhooks/backup/fetch', {
      method: 'POST',
      headers: { ...portalAddress, 'X-Webhook-Secret': WEBHOOK_SECRET, 'Content-Type': 'application/json' },
      body: JSON.stringify({ clientId: 'client-1' }),
    });
    assert.deepEqual(await fetched.json(), { backupShares: [shareText('client-1', 'GDRIVE')] });
  });
});

describe('client writes per clientId', () => {
  const { worker } = useStack({ portal: true, worker: { rateLimits: { CLIENT_WRITES: 3 } } });

  test('past the limit a client\'s writes get 429 and change nothing; reads and other clients go on', async () => {
    const alice = clientApi(worker, ALICE);
    const bob = clientApi(worker, BOB);
    const pairs = [backupSharePairId('client-alice', 'SECP256K1')];
    const first = await alice.put('GDRIVE', envelopeText(), pairs);
    assert.equal(first.status, 201);
    assert.equal((await alice.confirm('GDRIVE', first.body.backup.backupId)).status, 200);
    assert.equal((await alice.put('PASSWORD', envelopeText(), pairs)).status, 201);
    const before = await dumpKv(worker);
    const limited = await alice.put('GDRIVE', envelopeText(), pairs);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('Retry-After'), '60');
    assert.equal(limited.body.error.code, 'RATE_LIMITED');
    assert.equal((await alice.remove('PASSWORD')).status, 429);
    assert.deepEqual(await dumpKv(worker), before);
    const got = await alice.get('GDRIVE');
    assert.equal(got.status, 200);
    assert.equal(got.body.current.backupId, first.body.backup.backupId);
    assert.equal((await alice.list()).status, 200);
    assert.equal((await bob.put('GDRIVE', envelopeText(), [backupSharePairId('client-bob', 'SECP256K1')])).status, 201);
  });
});
