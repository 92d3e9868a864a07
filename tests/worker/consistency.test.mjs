// The Worker against Workers KV as Cloudflare runs it, not as Miniflare
// does: SHARES is tests/worker/kv-model.mjs at one location, whose list()
// lags every write by a minute, whose get() caches (negative answers too)
// and which refuses a second write of a key within a second.
// Portal checks each delivery with a fetch right after its 200; that check
// must hold here, for deliveries that overlap, with no list() to help.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALICE, backupSharePairId, clientApi, envelopeText, fetchShares, postBackup, shareText, useStack,
} from './harness.mjs';

describe('on eventually consistent KV (list() lags a minute)', () => {
  const { worker } = useStack({ portal: true, worker: { eventualKv: true } });

  test('overlapping per-curve deliveries: each is in the fetch right after its 200, and all stay', async () => {
    const methods = ['GDRIVE-SECP256K1', 'GDRIVE-ED25519', 'PASSWORD-SECP256K1', 'PASSWORD-ED25519', 'PASSKEY-SECP256K1', 'PASSKEY-ED25519'];
    for (const round of [1, 2]) {
      const held = await Promise.all(methods.map(async (backupMethod) => {
        const share = shareText('client-7', backupMethod, round);
        const stored = await postBackup(worker, { backupMethod, clientId: 'client-7', share });
        assert.equal(stored.status, 200);
        return (await fetchShares(worker, 'client-7')).body.backupShares.includes(share);
      }));
      assert.deepEqual(held, methods.map(() => true), `round ${round}`);
      const { body } = await fetchShares(worker, 'client-7');
      assert.deepEqual(body.backupShares, [...methods].sort().map((m) => shareText('client-7', m, round)), `round ${round}`);
    }
  });

  test('a client backup is read and listed right after it is stored', async () => {
    const alice = clientApi(worker, ALICE);
    const pairs = [backupSharePairId('client-alice', 'SECP256K1')];
    const cipherText = envelopeText();
    const put = await alice.put('GDRIVE', cipherText, pairs);
    assert.equal(put.status, 201);
    assert.equal((await alice.get('GDRIVE')).body.current.cipherText, cipherText);
    assert.deepEqual((await alice.list()).body.backups.map((b) => b.backupId), [put.body.backup.backupId]);
    assert.equal((await alice.confirm('GDRIVE', put.body.backup.backupId)).body.backup.confirmed, true);
  });
});
