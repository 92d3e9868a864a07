// The contract check itself (tests/worker/contract.mjs): that it bites, and
// that docs/openapi.yaml's envelope patterns agree with the real Worker.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ContractViolation, checkedFetch, contractFor, loadContract } from './contract.mjs';
import { ALICE, WEBHOOK_SECRET, useStack } from './harness.mjs';

const json = (body) => JSON.stringify(body);
const error = (code) => json({ error: { code, message: 'm' } });
const headers = (extra = {}) => new Headers({ 'x-request-id': '0123456789abcdef', 'cache-control': 'no-store', ...extra });
const clientHeaders = (extra = {}) => headers({ vary: 'Origin', ...extra });
const jsonHeaders = (extra) => headers({ 'content-type': 'application/json', ...extra });
const clientJsonHeaders = (extra) => clientHeaders({ 'content-type': 'application/json', ...extra });
const summary = {
  backupMethod: 'GDRIVE', backupId: 'b1', backupSharePairIds: ['p1'], size: 88,
  createdAt: '2026-12-01T09:00:00.000Z', portalNotified: false, confirmed: false,
};

describe('the contract check', () => {
  let contract;
  before(async () => {
    contract = await loadContract();
  });

  test('allows what the document says', () => {
    const ok = [
      [{ method: 'GET', path: '/v1/client-backups' }, { status: 200, headers: clientJsonHeaders(), text: json({ clientId: 'c', backups: [summary] }) }],
      [{ method: 'PUT', path: '/v1/client-backups/GDRIVE' }, { status: 503, headers: clientJsonHeaders({ 'retry-after': '1' }), text: error('PORTAL_UNAVAILABLE') }],
      [{ method: 'DELETE', path: '/v1/client-backups/GDRIVE' }, { status: 204, headers: clientHeaders({ 'access-control-allow-origin': 'https://wallet.example' }), text: '' }],
      [{ method: 'POST', path: '/webhooks/backup' }, { status: 200, headers: jsonHeaders(), text: json({ stored: true }) }],
      [{ method: 'GET', path: '/webhooks/backup' }, { status: 405, headers: jsonHeaders({ allow: 'POST' }), text: error('METHOD_NOT_ALLOWED') }],
      [{ method: 'GET', path: '/elsewhere?x=1' }, { status: 404, headers: jsonHeaders(), text: error('ROUTE_NOT_FOUND') }],
    ];
    for (const [request, response] of ok) assert.deepEqual(contract.problems(request, response), [], `${request.method} ${request.path}`);
  });

  test('reports every kind of answer the document does not allow', () => {
    const bad = [
      ['an undocumented status', { method: 'GET', path: '/v1/client-backups' }, { status: 404, headers: clientJsonHeaders(), text: error('NOT_FOUND') }, /status 404 is not documented/],
      ['a body missing a required field', { method: 'GET', path: '/v1/client-backups' }, { status: 200, headers: clientJsonHeaders(), text: json({ backups: [] }) }, /must have required property 'clientId'/],
      ['an extra field in a summary', { method: 'PUT', path: '/v1/client-backups/GDRIVE' }, { status: 201, headers: clientJsonHeaders(), text: json({ clientId: 'c', backup: { ...summary, cipherText: 'x' } }) }, /unevaluated properties/],
      ['an error code the status does not list', { method: 'GET', path: '/v1/client-backups/GDRIVE' }, { status: 404, headers: clientJsonHeaders(), text: error('NOT_CURRENT') }, /error\/code must be equal to constant/],
      ['a missing X-Request-Id', { method: 'POST', path: '/webhooks/backup' }, { status: 200, headers: new Headers({ 'cache-control': 'no-store', 'content-type': 'application/json' }), text: json({ stored: true }) }, /required header x-request-id is missing/],
      ['a cacheable answer', { method: 'POST', path: '/webhooks/backup' }, { status: 200, headers: jsonHeaders({ 'cache-control': 'max-age=60' }), text: json({ stored: true }) }, /header cache-control/],
      ['a CORS grant on a webhook', { method: 'POST', path: '/webhooks/backup' }, { status: 200, headers: jsonHeaders({ 'access-control-allow-origin': '*' }), text: json({ stored: true }) }, /access-control-allow-origin is not documented/],
      ['no Vary on a client route', { method: 'GET', path: '/v1/client-backups' }, { status: 200, headers: jsonHeaders(), text: json({ clientId: 'c', backups: [] }) }, /required header vary is missing/],
      ['a 503 without Retry-After', { method: 'GET', path: '/v1/client-backups' }, { status: 503, headers: clientJsonHeaders(), text: error('STORAGE_UNAVAILABLE') }, /required header retry-after is missing/],
      ['a Retry-After that is not seconds', { method: 'PUT', path: '/v1/client-backups/GDRIVE' }, { status: 429, headers: clientJsonHeaders({ 'retry-after': 'soon' }), text: error('RATE_LIMITED') }, /header retry-after/],
      ['a Retry-After on a 400', { method: 'GET', path: '/v1/client-backups/x' }, { status: 400, headers: clientJsonHeaders({ 'retry-after': '1' }), text: error('INVALID_BACKUP_METHOD') }, /retry-after is not documented/],
      ['a 204 with a body', { method: 'DELETE', path: '/v1/client-backups/GDRIVE' }, { status: 204, headers: clientHeaders(), text: 'gone' }, /no body is documented/],
      ['an error as text/plain', { method: 'GET', path: '/v1/client-backups' }, { status: 401, headers: clientHeaders({ 'content-type': 'text/plain' }), text: 'no' }, /Content-Type "text\/plain" is not documented/],
      ['a body that is not JSON', { method: 'GET', path: '/v1/client-backups' }, { status: 401, headers: clientJsonHeaders(), text: 'no' }, /body is not JSON/],
      ['an unknown path answered', { method: 'GET', path: '/v1/client-backups/GDRIVE/versions' }, { status: 200, headers: jsonHeaders(), text: json({}) }, /x-unmatched-paths: expected 404, got 200/],
      ['an undocumented method answered', { method: 'PATCH', path: '/v1/client-backups/GDRIVE' }, { status: 200, headers: clientJsonHeaders(), text: json({}) }, /x-other-methods: expected 405, got 200/],
      ['a 405 with the wrong Allow', { method: 'PATCH', path: '/webhooks/backup/fetch' }, { status: 405, headers: jsonHeaders({ allow: 'GET, POST' }), text: error('METHOD_NOT_ALLOWED') }, /header allow/],
      ['a preflight grant without Max-Age', { method: 'OPTIONS', path: '/v1/client-backups' }, { status: 204, headers: clientHeaders({ 'access-control-allow-origin': 'https://w.example', 'access-control-allow-methods': 'GET, OPTIONS', 'access-control-allow-headers': 'Authorization, Content-Type' }), text: '' }, /required header access-control-max-age is missing/],
      ['a fetched share that is not a JSON object', { method: 'POST', path: '/webhooks/backup/fetch' }, { status: 200, headers: jsonHeaders(), text: json({ backupShares: ['[1]'] }) }, /must match format "json-object"/],
      ['a ciphertext that is not an envelope', { method: 'GET', path: '/v1/client-backups/GDRIVE' }, { status: 200, headers: clientJsonHeaders(), text: json({ clientId: 'c', current: { ...summary, cipherText: 'aGVsbG8' }, previous: null }) }, /must match pattern/],
    ];
    for (const [name, request, response, expected] of bad) {
      const problems = contract.problems(request, response);
      assert.ok(problems.length > 0, `${name}: not reported`);
      assert.match(problems.join('\n'), expected, name);
    }
  });
});

describe('the contract check on the real Worker', () => {
  // Many PUTs by one client: the write limit is not what this tests.
  const { worker } = useStack({ portal: true, worker: { rateLimits: { CLIENT_WRITES: 10_000 } } });

  test('the harness fetch throws on an answer the document does not allow', async () => {
    // The real Worker's answer with one thing the document forbids added.
    const withGrant = checkedFetch(async (path, init) => {
      const real = await worker.mf.dispatchFetch(`http://worker.test${path}`, init);
      const changed = new Headers(real.headers);
      changed.set('Access-Control-Allow-Origin', '*');
      return new Response(await real.arrayBuffer(), { status: real.status, headers: changed });
    });
    const send = (fetchFn) => fetchFn('/webhooks/backup/fetch', {
      method: 'POST',
      headers: { 'X-Webhook-Secret': WEBHOOK_SECRET, 'Content-Type': 'application/json' },
      body: json({ clientId: 'client-1' }),
    });
    assert.equal((await send(worker.fetch)).status, 200);
    await assert.rejects(send(withGrant), (err) => err instanceof ContractViolation && /access-control-allow-origin/.test(err.message));
  });

  test('a document that lacks one of the Worker\'s answers reports it', async () => {
    const real = await loadContract();
    const api = structuredClone(real.api);
    delete api.paths['/v1/client-backups/{backupMethod}'].get.responses['404'];
    const narrowed = contractFor(api);
    const response = await worker.mf.dispatchFetch('http://worker.test/v1/client-backups/PASSWORD', {
      headers: { Authorization: `Bearer ${ALICE.token}` },
    });
    const exchange = [{ method: 'GET', path: '/v1/client-backups/PASSWORD' }, { status: response.status, headers: response.headers, text: await response.text() }];
    assert.equal(response.status, 404);
    assert.deepEqual(real.problems(...exchange), []);
    assert.match(narrowed.problems(...exchange).join('\n'), /status 404 is not documented/);
  });

  test('the document\'s cipherText patterns accept exactly the envelopes the Worker accepts', async () => {
    const { api } = await loadContract();
    const patterns = api.components.schemas.EnvelopeText.oneOf.map((s) => new RegExp(s.pattern, 'u'));
    const documented = (text) => patterns.some((p) => p.test(text));
    const envelope = ({ version = 1, kind = 1, m = 65536, t = 3, p = 1, rest }) => {
      const params = Buffer.alloc(9);
      params.writeUInt32BE(m >>> 0, 0);
      params.writeUInt32BE(t >>> 0, 4);
      params[8] = p;
      const head = Buffer.from([0x50, 0x42, 0x41, 0x4b, version, kind]);
      return Buffer.concat(kind === 2 ? [head, params, randomBytes(rest ?? 60)] : [head, randomBytes(rest ?? 60)]).toString('base64url');
    };
    const texts = [];
    for (const rest of [27, 28, 29, 30, 31, 32, 33]) texts.push(envelope({ rest }));
    for (const kind of [0, 3, 255]) texts.push(envelope({ kind }));
    texts.push(envelope({ version: 2 }), envelope({ version: 0 }));
    for (const p of [0, 1, 2, 16, 17]) {
      for (const m of [8 * p - 1, 8 * p, 127, 128, 255, 256, 1048575, 1048576, 1048577, 0x01000000]) {
        for (const t of [0, 1, 64, 65]) texts.push(envelope({ kind: 2, m: Math.max(m, 0), t, p }));
      }
    }
    for (const rest of [43, 44, 45, 46]) texts.push(envelope({ kind: 2, rest }));
    // Passkey (kind 3): u16 credential id length, the id, PRF salt, nonce,
    // tag. Its pattern states a part exactly: ids of 1 to 255 bytes in at
    // least 324 bytes; in and around that part both must agree.
    const passkey = (idLength, total) => {
      const head = Buffer.from([0x50, 0x42, 0x41, 0x4b, 1, 3, idLength >> 8, idLength & 255]);
      return Buffer.concat([head, randomBytes(Math.max(total - 8, 0))]).toString('base64url');
    };
    for (const idLength of [1, 16, 32, 255]) for (const total of [324, 325, 326, 600]) texts.push(passkey(idLength, total));
    for (const total of [324, 1200]) texts.push(passkey(0, total));
    texts.push(passkey(1024, 1200), passkey(0xffff, 1200), passkey(1, 6), passkey(1, 7));
    const good = envelope({});
    // Text forms the decoder refuses: unused bits set (67 bytes leave 4
    // unused bits in the last character, which is then one of A Q g w), a
    // stray length, padding, the standard alphabet.
    const odd = envelope({ rest: 61 });
    texts.push(`${odd.slice(0, -1)}${String.fromCharCode(odd.charCodeAt(odd.length - 1) + 1)}`);
    texts.push(`${good}A`, `${good}=`, good.replace(/.$/, '+'));
    texts.push('UEJBSwEB', '', 'not base64 !!', ` ${good}`, `${good}\n`);
    const disagreements = [];
    let accepted = 0;
    for (const cipherText of texts) {
      const res = await worker.fetch('/v1/client-backups/GDRIVE', {
        method: 'PUT',
        headers: { Authorization: `Bearer ${ALICE.token}`, 'Content-Type': 'application/json' },
        body: json({ cipherText, backupSharePairIds: ['p1'], notifyPortal: false }),
      });
      const body = await res.json();
      const workerAccepts = res.status === 201;
      if (workerAccepts) accepted++;
      else assert.equal(body.error.code, cipherText === '' ? body.error.code : 'INVALID_CIPHERTEXT', cipherText);
      if (workerAccepts !== documented(cipherText)) disagreements.push(`${cipherText}: Worker ${res.status}, document ${documented(cipherText)}`);
    }
    assert.deepEqual(disagreements, []);
    // 6 random-key lengths, 40 password cost combinations, 3 password lengths, 16 passkey envelopes.
    assert.equal(accepted, 65, `accepted ${accepted} of ${texts.length}`);

    // What the passkey pattern leaves out on purpose (a regular expression
    // cannot tie the length field to the text's length): the Worker still
    // takes ids up to WebAuthn's 1023 bytes and short envelopes.
    for (const [idLength, total] of [[256, 1200], [1023, 1200], [32, 140]]) {
      const cipherText = passkey(idLength, total);
      const res = await worker.fetch('/v1/client-backups/PASSKEY', {
        method: 'PUT',
        headers: { Authorization: `Bearer ${ALICE.token}`, 'Content-Type': 'application/json' },
        body: json({ cipherText, backupSharePairIds: ['p1'], notifyPortal: false }),
      });
      assert.equal(res.status, 201, `id ${idLength}, ${total} bytes`);
      assert.equal(documented(cipherText), false, `id ${idLength}, ${total} bytes`);
    }
  });
});
