// What running docs/openapi.yaml against the Worker found (Schemathesis,
// and the contract tests in contract.test.mjs): each case failed before its
// fix. docs/RELIABILITY.md section 2 lists them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ALICE, ALLOWED_ORIGIN, backupSharePairId, clientApi, control, dumpKv, envelopeText, useStack } from './harness.mjs';

const PAIRS = [backupSharePairId('client-alice', 'SECP256K1')];

describe('found by checking the Worker against its OpenAPI document', () => {
  const { portal, worker } = useStack({ portal: true, worker: true });

  test('a method no client route takes is 405 with Allow, not read as GET', async () => {
    // workers-rs's Method turns any method it does not know into GET, so
    // QUERY /v1/client-backups/GDRIVE used to answer 200 with the backup.
    // (A method workerd itself does not know, FOO, never reaches the Worker:
    // the runtime answers 501.)
    const alice = clientApi(worker, ALICE);
    assert.equal((await alice.put('GDRIVE', envelopeText(), PAIRS)).status, 201);
    for (const [method, path, allow] of [
      ['QUERY', '/GDRIVE', 'GET, PUT, DELETE, OPTIONS'],
      ['QUERY', '', 'GET, OPTIONS'],
      ['QUERY', '/GDRIVE/confirm', 'POST, OPTIONS'],
    ]) {
      const res = await alice.call(method, path);
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get('allow'), allow);
      assert.equal(res.body.error.code, 'METHOD_NOT_ALLOWED');
    }
  });

  test('a method no client route takes is 405 before the token is checked', async () => {
    // It used to be 401 without a token (and a Portal call with one).
    await control(portal, 'reset', {});
    await control(portal, 'log/clear', {});
    const anonymous = clientApi(worker, {});
    for (const [method, path] of [['PATCH', '/GDRIVE'], ['POST', ''], ['GET', '/GDRIVE/notify'], ['DELETE', '/PASSWORD/confirm']]) {
      const res = await anonymous.call(method, path);
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.body.error.code, 'METHOD_NOT_ALLOWED');
    }
    const stranger = clientApi(worker, { token: 'test-token-never-issued' });
    assert.equal((await stranger.call('PATCH', '/GDRIVE')).status, 405);
    assert.deepEqual(await control(portal, 'log'), [], 'Portal was not asked');
  });

  test('a cipherText with whitespace around it is refused, not trimmed and stored', async () => {
    const alice = clientApi(worker, ALICE);
    const before = await dumpKv(worker);
    const good = envelopeText();
    for (const padded of [` ${good}`, `${good}\n`, `\t${good} `]) {
      const res = await alice.put('PASSWORD', padded, PAIRS);
      assert.equal(res.status, 400, JSON.stringify(padded.slice(0, 3)));
      assert.equal(res.body.error.code, 'INVALID_CIPHERTEXT');
    }
    assert.deepEqual(await dumpKv(worker), before);
    assert.equal((await alice.put('PASSWORD', good, PAIRS)).status, 201);
  });

  test('confirm refuses a field other than backupId, as the document says', async () => {
    // It used to ignore it and confirm (200); PUT already refused them.
    const alice = clientApi(worker, ALICE);
    const put = await alice.put('GDRIVE', envelopeText(), PAIRS);
    const { backupId } = put.body.backup;
    const extra = await alice.call('POST', '/GDRIVE/confirm', { backupId, clientId: 'client-bob' });
    assert.equal(extra.status, 400);
    assert.equal(extra.body.error.code, 'UNKNOWN_FIELD');
    assert.equal((await alice.get('GDRIVE')).body.current.confirmed, false);
    assert.equal((await alice.confirm('GDRIVE', backupId)).status, 200);
  });

  test('a preflight is granted whatever the method segment; the request itself is refused', async () => {
    // The document first said a preflight for an unsupported method is
    // refused; the Worker grants it, so the page gets the real 400.
    const preflight = await worker.fetch('/v1/client-backups/YUBIKEY/notify', {
      method: 'OPTIONS',
      headers: { Origin: ALLOWED_ORIGIN, 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
    const res = await worker.fetch('/v1/client-backups/YUBIKEY/notify', {
      method: 'POST',
      headers: { Origin: ALLOWED_ORIGIN, Authorization: `Bearer ${ALICE.token}` },
    });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
    assert.equal((await res.json()).error.code, 'UNSUPPORTED_BACKUP_METHOD');
  });
});
