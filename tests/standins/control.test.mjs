// The control API both stand-ins share: outages, latency, request log, CORS.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startDrive } from './drive.mjs';

const AUTH = { Authorization: 'Bearer drive-token-alice' };
let drive;

before(async () => {
  drive = await startDrive({ port: 0 });
});
after(() => drive.close());
beforeEach(() => fetch(`${drive.url}/__control/reset`, { method: 'POST' }));

const control = (path, body) =>
  fetch(`${drive.url}/__control/${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body ?? {}) });

describe('stand-in control API', () => {
  it('while down, fetch rejects like a network failure; control still answers', async () => {
    await control('down', { down: true });
    await assert.rejects(fetch(`${drive.url}/drive/v3/files`, { headers: AUTH }), TypeError);
    const log = await (await fetch(`${drive.url}/__control/log`)).json();
    assert.equal(log.length, 1);
    assert.equal(log[0].status, null);
    await control('down', { down: false });
    assert.equal((await fetch(`${drive.url}/drive/v3/files`, { headers: AUTH })).status, 200);
  });

  it('delays answers while slow', async () => {
    await control('slow', { ms: 150 });
    const t0 = performance.now();
    await fetch(`${drive.url}/drive/v3/files`, { headers: AUTH });
    assert.ok(performance.now() - t0 >= 140);
    await control('slow', { ms: 0 });
  });

  it('logs each non-control request with timings, and clears the log', async () => {
    await fetch(`${drive.url}/drive/v3/files?spaces=appDataFolder&pageSize=3`, { headers: AUTH });
    await fetch(`${drive.url}/drive/v3/files/nope`, { method: 'DELETE', headers: AUTH });
    const log = await (await fetch(`${drive.url}/__control/log`)).json();
    assert.deepEqual(
      log.map(({ method, path, query, status }) => ({ method, path, query, status })),
      [
        { method: 'GET', path: '/drive/v3/files', query: { spaces: 'appDataFolder', pageSize: '3' }, status: 200 },
        { method: 'DELETE', path: '/drive/v3/files/nope', query: {}, status: 404 },
      ],
    );
    assert.ok(log[0].start <= log[0].end && log[0].end <= log[1].start, 'sequential requests do not overlap');
    await control('log/clear');
    assert.deepEqual(await (await fetch(`${drive.url}/__control/log`)).json(), []);
  });

  it('answers CORS preflight and reflects the Origin', async () => {
    const origin = 'http://localhost:8080';
    const pre = await fetch(`${drive.url}/drive/v3/files`, {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'DELETE', 'Access-Control-Request-Headers': 'authorization' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), origin);
    assert.match(pre.headers.get('access-control-allow-headers'), /Authorization/);
    assert.match(pre.headers.get('access-control-allow-methods'), /DELETE/);
    const real = await fetch(`${drive.url}/drive/v3/files`, { headers: { ...AUTH, Origin: origin } });
    assert.equal(real.headers.get('access-control-allow-origin'), origin);
    const ctl = await fetch(`${drive.url}/__control/log`, { headers: { Origin: origin } });
    assert.equal(ctl.headers.get('access-control-allow-origin'), origin);
  });

  it('reset forgets files, failures and added tokens', async () => {
    await control('tokens', { token: 'extra', user: 'alice' });
    await control('fail', { count: 5, status: 500 });
    await control('reset');
    assert.equal((await fetch(`${drive.url}/drive/v3/files`, { headers: { Authorization: 'Bearer extra' } })).status, 401);
    assert.equal((await fetch(`${drive.url}/drive/v3/files`, { headers: AUTH })).status, 200);
  });

  it('rejects a fail rule with an unsupported status', async () => {
    assert.equal((await control('fail', { count: 1, status: 418 })).status, 400);
  });

  it('rejects rules with a bad count, skip, method or delay', async () => {
    for (const [path, body] of [
      ['drop', { count: 0 }],
      ['drop', { skip: -1 }],
      ['drop', { method: '' }],
      ['delay', { ms: 0 }],
      ['delay', {}],
    ]) {
      assert.equal((await control(path, body)).status, 400, `${path} ${JSON.stringify(body)}`);
    }
  });

  it('a fail rule hits only its method and path, after skipping', async () => {
    await control('fail', { count: 1, skip: 1, status: 503, method: 'DELETE', path: '/drive/v3/files/' });
    const del = () => fetch(`${drive.url}/drive/v3/files/nope`, { method: 'DELETE', headers: AUTH });
    assert.equal((await fetch(`${drive.url}/drive/v3/files/nope`, { headers: AUTH })).status, 404, 'GET is not DELETE');
    assert.equal((await del()).status, 404, 'the first DELETE is skipped');
    const failed = await del();
    assert.equal(failed.status, 503);
    assert.equal((await failed.json()).error.errors[0].reason, 'backendError');
    assert.equal((await del()).status, 404, 'count 1: used up');
  });

  it('an exact rule hits only that whole path', async () => {
    await control('fail', { count: 5, status: 503, method: 'GET', path: '/drive/v3/files', exact: true });
    assert.equal((await fetch(`${drive.url}/drive/v3/files/nope`, { headers: AUTH })).status, 404, 'a longer path passes');
    assert.equal((await fetch(`${drive.url}/drive/v3/files`, { headers: AUTH })).status, 503);
    assert.equal((await control('drop', { exact: true })).status, 400, 'exact without a path');
  });

  it('drop closes the next matching connections unanswered; others pass', async () => {
    await control('drop', { count: 2, method: 'GET', path: '/drive/v3/files' });
    await assert.rejects(fetch(`${drive.url}/drive/v3/files`, { headers: AUTH }), TypeError);
    assert.equal((await fetch(`${drive.url}/drive/v3/files/nope`, { method: 'DELETE', headers: AUTH })).status, 404);
    await assert.rejects(fetch(`${drive.url}/drive/v3/files`, { headers: AUTH }), TypeError);
    assert.equal((await fetch(`${drive.url}/drive/v3/files`, { headers: AUTH })).status, 200);
    const log = await (await fetch(`${drive.url}/__control/log`)).json();
    assert.deepEqual(log.map((e) => e.status), [null, 404, null, 200]);
  });

  it('a delayed request takes effect even after its client gave up, and heal waits for it', async () => {
    await control('delay', { count: 1, ms: 300, method: 'POST', path: '/upload/' });
    const body = '--b\r\nContent-Type: application/json\r\n\r\n{"name":"late.txt","parents":["appDataFolder"]}\r\n--b\r\nContent-Type: text/plain\r\n\r\nlate\r\n--b--\r\n';
    const t0 = performance.now();
    await assert.rejects(
      fetch(`${drive.url}/upload/drive/v3/files?uploadType=multipart`, {
        method: 'POST',
        headers: { ...AUTH, 'Content-Type': 'multipart/related; boundary=b' },
        body,
        signal: AbortSignal.timeout(50),
      }),
      (err) => err.name === 'TimeoutError',
    );
    const files = async () => (await (await fetch(`${drive.url}/__control/files?user=alice`)).json()).map((f) => f.content);
    assert.deepEqual(await files(), [], 'not yet');
    await control('heal');
    assert.ok(performance.now() - t0 >= 290, 'heal answered once the delayed upload was handled');
    assert.deepEqual(await files(), ['late']);
  });

  it('heal forgets rules, slowness and outages but keeps files and tokens', async () => {
    await control('tokens', { token: 'extra', user: 'alice' });
    await control('fail', { count: 5, status: 500 });
    await control('delay', { count: 5, ms: 1000 });
    await control('slow', { ms: 1000 });
    await control('down', { down: true });
    await control('heal');
    const t0 = performance.now();
    assert.equal((await fetch(`${drive.url}/drive/v3/files`, { headers: { Authorization: 'Bearer extra' } })).status, 200);
    assert.ok(performance.now() - t0 < 500);
  });
});
