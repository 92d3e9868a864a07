// The edge in front of the Worker: passes everything through untouched, and
// fails on demand the way the Worker documents (docs/SERVER-API.md).
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startEdge } from './edge.mjs';

const ALLOWED = 'http://127.0.0.1:8100';
let upstream;
let received; // what reached the upstream, in order
let edge;

before(async () => {
  // Records each request and answers like the Worker: CORS only for ALLOWED.
  upstream = http.createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    received.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
    const cors = req.headers.origin === ALLOWED ? { 'Access-Control-Allow-Origin': ALLOWED, Vary: 'Origin' } : { Vary: 'Origin' };
    if (req.method === 'OPTIONS') {
      res.writeHead(req.headers.origin === ALLOWED ? 204 : 403, cors);
      return res.end();
    }
    res.writeHead(201, { 'Content-Type': 'application/json', 'X-Request-Id': 'r-1', ...cors });
    res.end(JSON.stringify({ stored: body }));
  });
  await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  edge = await startEdge({ upstream: `http://127.0.0.1:${upstream.address().port}`, port: 0 });
});
after(async () => {
  await edge.close();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});
beforeEach(async () => {
  received = [];
  await fetch(`${edge.url}/__control/reset`, { method: 'POST' });
});

const control = (path, body) =>
  fetch(`${edge.url}/__control/${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body ?? {}) });
const put = (signal) =>
  fetch(`${edge.url}/v1/client-backups/GDRIVE`, {
    method: 'PUT',
    headers: { Authorization: 'Bearer t', 'Content-Type': 'application/json', Origin: ALLOWED },
    body: '{"cipherText":"x"}',
    signal,
  });

describe('edge in front of the Worker', () => {
  it('passes requests and answers through unchanged', async () => {
    const res = await put();
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-request-id'), 'r-1');
    assert.equal(res.headers.get('access-control-allow-origin'), ALLOWED);
    assert.deepEqual(await res.json(), { stored: '{"cipherText":"x"}' });
    assert.deepEqual(received, [{ method: 'PUT', url: '/v1/client-backups/GDRIVE', authorization: 'Bearer t', body: '{"cipherText":"x"}' }]);
  });

  it('leaves CORS to the Worker: preflights go through, other origins get no grant', async () => {
    const preflight = (origin) =>
      fetch(`${edge.url}/v1/client-backups/GDRIVE`, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'PUT' } });
    assert.equal((await preflight(ALLOWED)).status, 204);
    const refused = await preflight('http://evil.example');
    assert.equal(refused.status, 403);
    assert.equal(refused.headers.get('access-control-allow-origin'), null);
    assert.deepEqual(received.map((r) => r.method), ['OPTIONS', 'OPTIONS']);
  });

  it('answers an injected failure with the Worker error body, without reaching the Worker', async () => {
    await control('fail', { count: 1, status: 429, method: 'PUT' });
    const limited = await put();
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '1');
    assert.equal(limited.headers.get('access-control-allow-origin'), ALLOWED);
    assert.deepEqual(await limited.json(), { error: { code: 'RATE_LIMITED', message: 'too many requests; retry after Retry-After seconds' } });
    assert.equal((await put()).status, 201);
    assert.equal(received.length, 1);
    assert.equal((await control('fail', { status: 502 })).status, 400, 'the Worker never answers 502 itself');
  });

  it('a dropped request never reaches the Worker', async () => {
    await control('drop', { count: 1, path: '/v1/client-backups' });
    await assert.rejects(put(), TypeError);
    assert.deepEqual(received, []);
    const log = await (await fetch(`${edge.url}/__control/log`)).json();
    assert.deepEqual(log.map((e) => [e.method, e.status]), [['PUT', null]]);
  });

  it('a delayed request reaches the Worker after its client gave up; heal waits for it', async () => {
    await control('delay', { count: 1, ms: 300, method: 'PUT' });
    await assert.rejects(put(AbortSignal.timeout(50)), (err) => err.name === 'TimeoutError');
    assert.deepEqual(received, []);
    await control('heal');
    assert.deepEqual(received.map((r) => r.body), ['{"cipherText":"x"}']);
  });

  it('a Worker that is not there looks like a dropped connection', async () => {
    const orphan = await startEdge({ upstream: 'http://127.0.0.1:1', port: 0 });
    try {
      await assert.rejects(fetch(`${orphan.url}/v1/client-backups`), TypeError);
    } finally {
      await orphan.close();
    }
  });
});
