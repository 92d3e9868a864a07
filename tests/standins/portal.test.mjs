import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { backupSharePairId, custodianShare, startPortal } from './portal.mjs';

const SECRET = 'webhook-secret-for-tests';
let portal;
let receiver;
let received;
let stored; // clientId -> Map(backupMethod -> share)
let receiverStatus;

before(async () => {
  // A minimal customer server implementing Portal's two webhooks.
  receiver = http.createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw);
    received.push({ path: req.url, secret: req.headers['x-webhook-secret'], body });
    if (req.url === '/webhooks/backup') {
      if (!stored.has(body.clientId)) stored.set(body.clientId, new Map());
      if (receiverStatus === 204) stored.get(body.clientId).set(body.backupMethod, body.share);
      res.writeHead(receiverStatus);
      return res.end();
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ backupShares: [...(stored.get(body.clientId)?.values() ?? [])] }));
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  portal = await startPortal({ port: 0, webhookUrl: `http://127.0.0.1:${receiver.address().port}/webhooks`, webhookSecret: SECRET });
});
after(async () => {
  await portal.close();
  receiver.close();
});
beforeEach(async () => {
  received = [];
  stored = new Map();
  receiverStatus = 204;
  await fetch(`${portal.url}/__control/reset`, { method: 'POST' });
});

const me = (token) => fetch(`${portal.url}/api/v3/clients/me`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
const patchPairs = (token, body) =>
  fetch(`${portal.url}/api/v3/clients/me/backup-share-pairs`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('Portal stand-in', () => {
  it('answers /clients/me per token with Portal\'s client shape', async () => {
    const alice = await (await me('test-token-alice')).json();
    const bob = await (await me('test-token-bob')).json();
    assert.equal(alice.id, 'client-alice');
    assert.equal(bob.id, 'client-bob');
    assert.deepEqual(alice.custodian, { id: 'custodian-demo', name: 'Demo Custodian' });
    assert.equal(alice.ejectedAt, null);
    assert.deepEqual(alice.wallets.map((w) => w.curve), ['SECP256K1', 'ED25519']);
    const pair = alice.wallets[0].backupSharePairs[0];
    assert.deepEqual(Object.keys(pair).sort(), ['backupMethod', 'createdAt', 'id', 'status']);
    assert.equal(pair.id, backupSharePairId('client-alice', 'SECP256K1'));
    assert.equal(pair.status, 'incomplete');
  });

  it('answers 401 with a JSON error for an unknown or missing token', async () => {
    for (const res of [await me('nope'), await me(null)]) {
      assert.equal(res.status, 401);
      assert.equal(typeof (await res.json()).error, 'string');
    }
  });

  it('registers more client tokens through the control API', async () => {
    await fetch(`${portal.url}/__control/clients`, { method: 'POST', body: JSON.stringify({ token: 'carol-token', clientId: 'client-carol' }) });
    assert.equal((await (await me('carol-token')).json()).id, 'client-carol');
  });

  it('records PATCH backup-share-pairs and reflects the status', async () => {
    const id = backupSharePairId('client-alice', 'SECP256K1');
    const res = await patchPairs('test-token-alice', { status: 'STORED_CLIENT_BACKUP_SHARE_KEY', backupSharePairIds: [id] });
    assert.equal(res.status, 204);
    assert.equal(await res.text(), '');
    const calls = await (await fetch(`${portal.url}/__control/calls`)).json();
    assert.equal(calls.length, 1);
    assert.deepEqual({ ...calls[0], at: undefined }, { clientId: 'client-alice', status: 'STORED_CLIENT_BACKUP_SHARE_KEY', backupSharePairIds: [id], at: undefined });
    const client = await (await me('test-token-alice')).json();
    assert.equal(client.wallets[0].backupSharePairs[0].status, 'STORED_CLIENT_BACKUP_SHARE_KEY');
    assert.equal(client.wallets[1].backupSharePairs[0].status, 'incomplete');
  });

  it('validates the PATCH body', async () => {
    const id = backupSharePairId('client-alice', 'SECP256K1');
    const bad = [
      { status: 'STORED_CLIENT', backupSharePairIds: [id] },
      { status: 'STORED_CLIENT_BACKUP_SHARE' },
      { status: 'STORED_CLIENT_BACKUP_SHARE', backupSharePairIds: [] },
      { status: 'STORED_CLIENT_BACKUP_SHARE', backupSharePairIds: ['bsp-of-someone-else'] },
    ];
    for (const body of bad) {
      const res = await patchPairs('test-token-alice', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(typeof (await res.json()).error, 'string');
    }
    assert.equal((await patchPairs('nope', { status: 'STORED_CLIENT_BACKUP_SHARE', backupSharePairIds: [id] })).status, 401);
    assert.deepEqual(await (await fetch(`${portal.url}/__control/calls`)).json(), []);
  });

  it('accepts the old PUT stored-client-backup-share', async () => {
    const res = await fetch(`${portal.url}/api/v1/clients/me/wallet/stored-client-backup-share`, {
      method: 'PUT',
      headers: { Authorization: 'Bearer test-token-bob', 'Content-Type': 'application/json' },
      body: JSON.stringify({ backupMethod: 'GDRIVE', success: true }),
    });
    assert.equal(res.status, 204);
    const calls = await (await fetch(`${portal.url}/__control/calls`)).json();
    assert.equal(calls[0].clientId, 'client-bob');
    assert.equal(calls[0].backupMethod, 'GDRIVE');
  });

  it('POSTs the custodian share to the webhook with the secret, then fetches it back', async () => {
    const ids = ['SECP256K1', 'ED25519'].map((c) => backupSharePairId('client-alice', c));
    assert.equal((await patchPairs('test-token-alice', { status: 'STORED_CLIENT_BACKUP_SHARE', backupSharePairIds: ids })).status, 204);
    const outcomes = await (await fetch(`${portal.url}/__control/webhooks`)).json();
    assert.deepEqual(outcomes.map((o) => [o.backupMethod, o.backupStatus, o.fetchStatus, o.stored]), [
      ['GDRIVE-SECP256K1', 204, 200, true],
      ['GDRIVE-ED25519', 204, 200, true],
    ]);
    const backups = received.filter((r) => r.path === '/webhooks/backup');
    assert.equal(backups.length, 2);
    assert.ok(received.every((r) => r.secret === SECRET));
    assert.ok(received.some((r) => r.path === '/webhooks/backup/fetch' && r.body.clientId === 'client-alice'));
    const share = backups[0].body.share;
    assert.equal(share, JSON.stringify(custodianShare('client-alice', 'GDRIVE-SECP256K1', 1)));
    assert.ok(Object.keys(JSON.parse(share)).length >= 24);
    assert.ok(share.length > 2048 && share.length < 16384, `a few KiB, got ${share.length}`);
    assert.equal(outcomes[0].shareSha256, createHash('sha256').update(share).digest('hex'));
    assert.ok(!JSON.stringify(outcomes).includes(share), 'the share itself is not recorded');
    const client = await (await me('test-token-alice')).json();
    assert.equal(client.wallets[0].backupSharePairs[0].status, 'completed');
  });

  it('records a failing webhook without failing the client call', async () => {
    receiverStatus = 401;
    const res = await fetch(`${portal.url}/__control/custodian-backup`, { method: 'POST', body: JSON.stringify({ clientId: 'client-bob', backupMethod: 'GDRIVE' }) });
    const outcome = await res.json();
    assert.equal(outcome.backupStatus, 401);
    assert.equal(outcome.error, 'FAILED_WEBHOOK');
    assert.equal(outcome.stored, undefined);
  });

  it('a new custodian share for the same client and method differs from the last', async () => {
    const send = () => fetch(`${portal.url}/__control/custodian-backup`, { method: 'POST', body: JSON.stringify({ clientId: 'client-bob', backupMethod: 'GDRIVE' }) }).then((r) => r.json());
    const first = await send();
    const second = await send();
    assert.equal(second.counter, 2);
    assert.notEqual(first.shareSha256, second.shareSha256);
    assert.equal(second.stored, true);
  });

  it('injects failures with a Portal-style body', async () => {
    await fetch(`${portal.url}/__control/fail`, { method: 'POST', body: JSON.stringify({ count: 1, status: 503 }) });
    const res = await me('test-token-alice');
    assert.equal(res.status, 503);
    assert.equal(typeof (await res.json()).error, 'string');
    assert.equal((await me('test-token-alice')).status, 200);
  });
});
