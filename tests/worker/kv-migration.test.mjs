// The Worker started on Workers KV as the Worker before the storage
// redesign left it: fixtures/kv-layout-v1.json holds the v1 client records
// (`client/{clientId}/{method}`) and `client-notified/` markers that Worker
// wrote (fixtures/make-kv-layout-v1.mjs made it by driving a build of it).
// Every client must find the same backups whatever its first request, at
// either location, and the legacy keys must be gone once they are moved.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  backupSharePairId, clientApi, control, envelopeText, KvModel, useStack,
} from './harness.mjs';

const FIXTURE = JSON.parse(readFileSync(new URL('./fixtures/kv-layout-v1.json', import.meta.url), 'utf8'));
const METHODS = ['GDRIVE', 'PASSWORD', 'PASSKEY'];
const ALARM_WAIT_MS = 2_500; // replaced and moved keys go from the object's alarm, >= 1 s later

/** What the v1 layout says a method holds, the notified marker applied as the old Worker did. */
function legacyBackup(clientId, method) {
  const text = FIXTURE.kv[`client/${clientId}/${method}`];
  if (text === undefined) return null;
  const record = JSON.parse(text);
  const marker = FIXTURE.kv[`client-notified/${clientId}/${method}`];
  const view = (v) => v && {
    backupId: v.backupId, cipherText: v.cipherText, confirmed: v.confirmed, portalNotified: v.portalNotified || v.backupId === marker,
  };
  return { current: view(record.current), previous: view(record.previous ?? null) };
}
const versionView = (v) => v && { backupId: v.backupId, cipherText: v.cipherText, confirmed: v.confirmed, portalNotified: v.portalNotified };

describe('moving today\'s KV layout (v1 client records) to the new one', () => {
  const model = new KvModel();
  const { portal, locations } = useStack({ portal: true, locations: { model, rateLimits: { CLIENT_WRITES: 100_000 } } });
  // Before any request: the snapshot in KV, its clients known to Portal.
  before(async () => {
    // The snapshot is the fixture's own, layout and all; it pins what it holds.
    assert.equal(FIXTURE.clients.length, 6);
    model.seed(FIXTURE.kv);
    for (const { token, clientId } of FIXTURE.clients) await control(portal, 'clients', { token, clientId });
  });

  const client = (firstOperation) => {
    const { clientId, token } = FIXTURE.clients.find((c) => c.firstOperation === firstOperation);
    const expected = Object.fromEntries(METHODS.map((m) => [m, legacyBackup(clientId, m)]));
    return { clientId, expected, at: { a: clientApi(locations.a, { token }), b: clientApi(locations.b, { token }) } };
  };

  /** GET of every method and the list, at both locations, against `expected`. */
  async function readsBack({ expected, at }) {
    for (const where of ['b', 'a']) {
      for (const method of METHODS) {
        const got = await at[where].get(method);
        if (!expected[method]) {
          assert.equal(got.status, 404, `GET ${method} at ${where}`);
          continue;
        }
        assert.equal(got.status, 200, `GET ${method} at ${where}: ${got.text}`);
        assert.deepEqual({ current: versionView(got.body.current), previous: versionView(got.body.previous) }, expected[method], `GET ${method} at ${where}`);
      }
      const listed = await at[where].list();
      assert.equal(listed.status, 200);
      assert.deepEqual(
        Object.fromEntries(listed.body.backups.map((b) => [b.backupMethod, { backupId: b.backupId, confirmed: b.confirmed, portalNotified: b.portalNotified }])),
        Object.fromEntries(METHODS.filter((m) => expected[m]).map((m) => {
          const { backupId, confirmed, portalNotified } = expected[m].current;
          return [m, { backupId, confirmed, portalNotified }];
        })),
        `list at ${where}`,
      );
    }
  }

  test('the snapshot holds what the old Worker wrote for each client', () => {
    for (const { clientId } of FIXTURE.clients) {
      const gdrive = legacyBackup(clientId, 'GDRIVE');
      assert.equal(gdrive.current.confirmed, false);
      assert.equal(gdrive.current.portalNotified, true, 'from the marker');
      assert.equal(gdrive.previous.confirmed, true);
      assert.equal(legacyBackup(clientId, 'PASSWORD').previous, null);
      assert.equal(legacyBackup(clientId, 'PASSKEY').current.portalNotified, false);
    }
  });

  test('first request a list, then reads: the same backups', async () => {
    await readsBack(client('list'));
  });

  test('first request a GET: the same backups', async () => {
    const c = client('get');
    const got = await c.at.b.get('GDRIVE');
    assert.equal(got.status, 200);
    assert.deepEqual({ current: versionView(got.body.current), previous: versionView(got.body.previous) }, c.expected.GDRIVE);
    await readsBack(c);
  });

  test('first request a PUT: the confirmed legacy backup becomes previous', async () => {
    const c = client('put');
    const cipherText = envelopeText();
    const pairs = ['SECP256K1', 'ED25519'].map((curve) => backupSharePairId(c.clientId, curve, 'PASSWORD'));
    const put = await c.at.a.put('PASSWORD', cipherText, pairs, { notifyPortal: false });
    assert.equal(put.status, 201, put.text);
    c.expected.PASSWORD = {
      current: { backupId: put.body.backup.backupId, cipherText, confirmed: false, portalNotified: false },
      previous: c.expected.PASSWORD.current,
    };
    await readsBack(c);
  });

  test('first request a confirm of the unconfirmed legacy version', async () => {
    const c = client('confirm');
    const confirmed = await c.at.b.confirm('GDRIVE', c.expected.GDRIVE.current.backupId);
    assert.equal(confirmed.status, 200, confirmed.text);
    assert.equal(confirmed.body.backup.confirmed, true);
    c.expected.GDRIVE = { current: { ...c.expected.GDRIVE.current, confirmed: true }, previous: null };
    await readsBack(c);
  });

  test('first request a notify: the marker counts, and Portal is told of what it was not', async () => {
    const c = client('notify');
    const gdrive = await c.at.a.notify('GDRIVE');
    assert.equal(gdrive.status, 200);
    assert.equal(gdrive.body.backup.backupId, c.expected.GDRIVE.current.backupId);
    assert.equal(gdrive.body.backup.portalNotified, true);
    const passkey = await c.at.b.notify('PASSKEY');
    assert.equal(passkey.status, 200);
    assert.equal(passkey.body.backup.portalNotified, true);
    assert.ok((await control(portal, 'calls')).some((call) => call.clientId === c.clientId && call.backupSharePairIds.includes(backupSharePairId(c.clientId, 'SECP256K1', 'PASSKEY'))));
    c.expected.PASSKEY.current.portalNotified = true;
    await readsBack(c);
  });

  test('first request a DELETE: that method goes, the others stay', async () => {
    const c = client('delete');
    const removed = await c.at.b.remove('PASSKEY');
    assert.equal(removed.status, 204, removed.text);
    c.expected.PASSKEY = null;
    await readsBack(c);
  });

  test('once moved: no legacy key left, no KV write refused, the moved backups still read', async () => {
    await sleep(ALARM_WAIT_MS);
    const legacy = Object.keys(model.dump()).filter((key) => key.startsWith('client/') || key.startsWith('client-notified/'));
    assert.deepEqual(legacy, []);
    assert.equal(model.statistics().total.writesRefused, 0);
    // Read from what KV holds now, not from a location's cache.
    model.clearCaches();
    await readsBack(client('list'));
  });
});
