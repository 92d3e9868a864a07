// GET /v1/custodian-backups: the caller's custodian methods and when Portal
// delivered each, in workerd against the Portal stand-in. Never a share,
// never another client's.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALICE, ALLOWED_ORIGIN, BOB, dumpKv, postBackup, shareFragments, shareText, useStack,
} from './harness.mjs';

describe('custodian backup list for the wallet', () => {
  // A fresh Worker per test: the clients' Durable Objects start empty.
  const { worker } = useStack({ portal: true, worker: true, fresh: 'each' });

  const list = async ({ token } = ALICE, init = {}) => {
    const headers = { ...(init.headers ?? {}) };
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await worker.fetch('/v1/custodian-backups', { ...init, headers });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, body: text ? JSON.parse(text) : null };
  };
  const deliver = async (clientId, backupMethod, counter = 1) => {
    const share = shareText(clientId, backupMethod, counter);
    const res = await postBackup(worker, { backupMethod, clientId, share });
    assert.equal(res.status, 200);
    return share;
  };

  test('nothing delivered: 200 with an empty list', async () => {
    const { status, body } = await list();
    assert.equal(status, 200);
    assert.deepEqual(body, { clientId: ALICE.clientId, backups: [] });
  });

  test('each delivered method is listed right after its 200, with when it came, and no share', async () => {
    const before = Date.now();
    const shares = await Promise.all(['GDRIVE-SECP256K1', 'GDRIVE-ED25519'].map((m) => deliver(ALICE.clientId, m)));
    const after = Date.now();
    const { status, body, text } = await list();
    assert.equal(status, 200);
    assert.equal(body.clientId, ALICE.clientId);
    assert.deepEqual(body.backups.map((b) => b.backupMethod), ['GDRIVE-ED25519', 'GDRIVE-SECP256K1']);
    for (const { receivedAt } of body.backups) {
      const at = Date.parse(receivedAt);
      assert.ok(at >= before - 1000 && at <= after + 1000, `${receivedAt} is not between the deliveries' start and end`);
    }
    for (const share of shares) {
      for (const fragment of shareFragments(share)) assert.ok(!text.includes(fragment), 'a share fragment is in the answer');
    }
  });

  test('a new delivery for a method moves its receivedAt, and stays one entry', async () => {
    await deliver(ALICE.clientId, 'PASSWORD', 1);
    const first = (await list()).body.backups;
    await new Promise((done) => setTimeout(done, 20));
    await deliver(ALICE.clientId, 'PASSWORD', 2);
    const second = (await list()).body.backups;
    assert.equal(second.length, 1);
    assert.ok(Date.parse(second[0].receivedAt) > Date.parse(first[0].receivedAt));
  });

  test('client B learns nothing about client A', async () => {
    await deliver(ALICE.clientId, 'GDRIVE-SECP256K1');
    await deliver(ALICE.clientId, 'ICLOUD-ALICE-ONLY');
    const bobs = await list(BOB);
    assert.equal(bobs.status, 200);
    assert.deepEqual(bobs.body, { clientId: BOB.clientId, backups: [] });
    await deliver(BOB.clientId, 'PASSWORD');
    assert.deepEqual((await list(BOB)).body.backups.map((b) => b.backupMethod), ['PASSWORD']);
    assert.deepEqual((await list()).body.backups.map((b) => b.backupMethod), ['GDRIVE-SECP256K1', 'ICLOUD-ALICE-ONLY']);
    // A client id in the query or a header changes nothing: Portal names the caller.
    const probe = await worker.fetch(`/v1/custodian-backups?clientId=${ALICE.clientId}`, {
      headers: { Authorization: `Bearer ${BOB.token}`, 'X-Client-Id': ALICE.clientId },
    });
    assert.deepEqual((await probe.json()).backups.map((b) => b.backupMethod), ['PASSWORD']);
  });

  test('no token or a token Portal refuses: 401, and nothing about anyone', async () => {
    await deliver(ALICE.clientId, 'GDRIVE');
    for (const token of [undefined, 'not-a-token-portal-knows']) {
      const { status, body, text } = await list({ token });
      assert.equal(status, 401);
      assert.equal(body.error.code, 'UNAUTHENTICATED');
      assert.ok(!text.includes('GDRIVE'));
    }
  });

  test('GET only: other methods are 405 with Allow, and nothing changes', async () => {
    await deliver(ALICE.clientId, 'GDRIVE');
    const kvBefore = await dumpKv(worker);
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const { status, headers, body } = await list(ALICE, { method });
      assert.equal(status, 405);
      assert.equal(headers.get('allow'), 'GET, OPTIONS');
      assert.equal(body.error.code, 'METHOD_NOT_ALLOWED');
    }
    assert.deepEqual(await dumpKv(worker), kvBefore);
    assert.deepEqual((await list()).body.backups.map((b) => b.backupMethod), ['GDRIVE']);
  });

  test('the browser may call it from an allowed origin only', async () => {
    const preflight = await worker.fetch('/v1/custodian-backups', {
      method: 'OPTIONS',
      headers: { Origin: ALLOWED_ORIGIN, 'Access-Control-Request-Method': 'GET' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
    assert.equal(preflight.headers.get('access-control-allow-methods'), 'GET, OPTIONS');
    const refused = await worker.fetch('/v1/custodian-backups', {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'GET' },
    });
    assert.equal(refused.status, 403);
    const { headers } = await list(ALICE, { headers: { Origin: ALLOWED_ORIGIN } });
    assert.equal(headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
  });
});
