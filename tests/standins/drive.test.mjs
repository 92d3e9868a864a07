import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startDrive } from './drive.mjs';

const ALICE = 'drive-token-alice';
const BOB = 'drive-token-bob';
let drive;

before(async () => {
  drive = await startDrive({ port: 0 });
});
after(() => drive.close());
beforeEach(() => fetch(`${drive.url}/__control/reset`, { method: 'POST' }));

function multipart(metadata, content, contentType = 'text/plain', boundary = 'b0undary-42') {
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n${JSON.stringify(metadata)}\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Type: ${contentType}\r\n\r\n`),
    Buffer.from(content),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, contentType: `multipart/related; boundary=${boundary}` };
}

async function upload(token, name, content, { parents = ['appDataFolder'], fields } = {}) {
  const { body, contentType } = multipart({ name, parents }, content);
  const qs = new URLSearchParams({ uploadType: 'multipart', ...(fields ? { fields } : {}) });
  const res = await fetch(`${drive.url}/upload/drive/v3/files?${qs}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': contentType },
    body,
  });
  return { status: res.status, body: await res.json() };
}

async function list(token, params) {
  const res = await fetch(`${drive.url}/drive/v3/files?${new URLSearchParams(params)}`, { headers: { Authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

const control = (path, body) =>
  fetch(`${drive.url}/__control/${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

describe('Drive stand-in', () => {
  it('uploads, lists, reads and deletes a file in appDataFolder', async () => {
    const created = await upload(ALICE, 'key.txt', 'secret key bytes', { fields: 'id,name,spaces,createdTime,modifiedTime,mimeType' });
    assert.equal(created.status, 200);
    assert.equal(created.body.name, 'key.txt');
    assert.deepEqual(created.body.spaces, ['appDataFolder']);
    assert.equal(created.body.mimeType, 'text/plain');
    assert.match(created.body.createdTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const listed = await list(ALICE, { spaces: 'appDataFolder', q: "name = 'key.txt' and 'appDataFolder' in parents and trashed = false", fields: 'files(id,name,modifiedTime),nextPageToken' });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body, { files: [{ id: created.body.id, name: 'key.txt', modifiedTime: created.body.modifiedTime }] });

    const media = await fetch(`${drive.url}/drive/v3/files/${created.body.id}?alt=media`, { headers: { Authorization: `Bearer ${ALICE}` } });
    assert.equal(media.status, 200);
    assert.equal(media.headers.get('content-type'), 'text/plain');
    assert.equal(await media.text(), 'secret key bytes');

    const del = await fetch(`${drive.url}/drive/v3/files/${created.body.id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${ALICE}` } });
    assert.equal(del.status, 204);
    assert.equal(await del.text(), '');

    const gone = await fetch(`${drive.url}/drive/v3/files/${created.body.id}?alt=media`, { headers: { Authorization: `Bearer ${ALICE}` } });
    assert.equal(gone.status, 404);
    const body = await gone.json();
    assert.equal(body.error.code, 404);
    assert.equal(body.error.message, `File not found: ${created.body.id}.`);
    assert.equal(body.error.errors[0].reason, 'notFound');
  });

  it('answers the default file fields and the default list shape', async () => {
    const created = await upload(ALICE, 'a.txt', 'x');
    assert.deepEqual(Object.keys(created.body).sort(), ['id', 'kind', 'mimeType', 'name']);
    assert.equal(created.body.kind, 'drive#file');
    const listed = await list(ALICE, { spaces: 'appDataFolder' });
    assert.equal(listed.body.kind, 'drive#fileList');
    assert.equal(listed.body.incompleteSearch, false);
    assert.deepEqual(listed.body.files, [created.body]);
  });

  it('keeps two files with the same name side by side, newest first with orderBy', async () => {
    const first = await upload(ALICE, 'same.txt', 'one', { fields: 'id,modifiedTime' });
    const second = await upload(ALICE, 'same.txt', 'two', { fields: 'id,modifiedTime' });
    assert.notEqual(first.body.id, second.body.id);
    assert.ok(second.body.modifiedTime > first.body.modifiedTime, 'modifiedTime strictly increases');

    const newest = await list(ALICE, { spaces: 'appDataFolder', q: "name = 'same.txt'", orderBy: 'modifiedTime desc', fields: 'files(id)' });
    assert.deepEqual(newest.body.files.map((f) => f.id), [second.body.id, first.body.id]);
    const oldest = await list(ALICE, { spaces: 'appDataFolder', q: "name = 'same.txt'", orderBy: 'modifiedTime', fields: 'files(id)' });
    assert.deepEqual(oldest.body.files.map((f) => f.id), [first.body.id, second.body.id]);
  });

  it('matches names with escaped quotes and orders by name', async () => {
    await upload(ALICE, "b'quote.txt", 'q');
    await upload(ALICE, 'a.txt', 'a');
    const quoted = await list(ALICE, { spaces: 'appDataFolder', q: "name = 'b\\'quote.txt'" });
    assert.deepEqual(quoted.body.files.map((f) => f.name), ["b'quote.txt"]);
    const byName = await list(ALICE, { spaces: 'appDataFolder', orderBy: 'name' });
    assert.deepEqual(byName.body.files.map((f) => f.name), ['a.txt', "b'quote.txt"]);
  });

  it('pages with pageSize and nextPageToken', async () => {
    for (let i = 0; i < 5; i++) await upload(ALICE, `f${i}.txt`, String(i));
    const seen = [];
    let pageToken;
    let pages = 0;
    do {
      const page = await list(ALICE, { spaces: 'appDataFolder', orderBy: 'createdTime desc', pageSize: '2', fields: 'files(name),nextPageToken', ...(pageToken ? { pageToken } : {}) });
      assert.equal(page.status, 200);
      assert.ok(page.body.files.length <= 2);
      seen.push(...page.body.files.map((f) => f.name));
      pageToken = page.body.nextPageToken;
      pages++;
    } while (pageToken);
    assert.equal(pages, 3);
    assert.deepEqual(seen, ['f4.txt', 'f3.txt', 'f2.txt', 'f1.txt', 'f0.txt']);

    const bad = await list(ALICE, { spaces: 'appDataFolder', pageSize: '1001' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.errors[0].location, 'pageSize');
  });

  it('keeps appDataFolder files out of the drive space', async () => {
    await upload(ALICE, 'hidden.txt', 'h');
    await upload(ALICE, 'visible.txt', 'v', { parents: ['root'] });
    const driveSpace = await list(ALICE, {});
    assert.deepEqual(driveSpace.body.files.map((f) => f.name), ['visible.txt']);
  });

  it('gives each user their own Drive', async () => {
    const alices = await upload(ALICE, 'key.txt', 'alice');
    const bobList = await list(BOB, { spaces: 'appDataFolder', q: "name = 'key.txt'" });
    assert.deepEqual(bobList.body.files, []);
    const bobRead = await fetch(`${drive.url}/drive/v3/files/${alices.body.id}?alt=media`, { headers: { Authorization: `Bearer ${BOB}` } });
    assert.equal(bobRead.status, 404);
    const bobDelete = await fetch(`${drive.url}/drive/v3/files/${alices.body.id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${BOB}` } });
    assert.equal(bobDelete.status, 404);

    const inDrive = await (await fetch(`${drive.url}/__control/files?user=alice`)).json();
    assert.equal(inDrive.length, 1);
    assert.equal(inDrive[0].content, 'alice');
    assert.deepEqual(await (await fetch(`${drive.url}/__control/files?user=bob`)).json(), []);
  });

  it('answers 401 with Google\'s body for an expired or missing token', async () => {
    await control('tokens', { token: 'carol-token', user: 'carol' });
    assert.equal((await list('carol-token', { spaces: 'appDataFolder' })).status, 200);
    await control('expire', { token: 'carol-token' });
    const expired = await list('carol-token', { spaces: 'appDataFolder' });
    assert.equal(expired.status, 401);
    assert.equal(expired.body.error.status, 'UNAUTHENTICATED');
    assert.deepEqual(expired.body.error.errors[0], {
      message: 'Invalid Credentials',
      domain: 'global',
      reason: 'authError',
      location: 'Authorization',
      locationType: 'header',
    });
    const missing = await fetch(`${drive.url}/drive/v3/files`);
    assert.equal(missing.status, 401);
    assert.equal((await missing.json()).error.errors[0].reason, 'required');
  });

  it('rejects malformed multipart and unparsable q with Google 400 bodies', async () => {
    const noClose = Buffer.from('--b\r\nContent-Type: application/json\r\n\r\n{"name":"x"}\r\n--b\r\nContent-Type: text/plain\r\n\r\nbody');
    const res = await fetch(`${drive.url}/upload/drive/v3/files?uploadType=multipart`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ALICE}`, 'Content-Type': 'multipart/related; boundary=b' },
      body: noClose,
    });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(body.error.code, 400);
    assert.match(body.error.message, /Malformed multipart/);
    assert.deepEqual(await (await fetch(`${drive.url}/__control/files?user=alice`)).json(), []);

    const badQ = await list(ALICE, { spaces: 'appDataFolder', q: "name === 'x'" });
    assert.equal(badQ.status, 400);
    assert.equal(badQ.body.error.message, 'Invalid Value');
    assert.equal(badQ.body.error.errors[0].reason, 'invalid');
    assert.equal(badQ.body.error.errors[0].location, 'q');
  });

  it('keeps binary content byte for byte and supports uploadType=media', async () => {
    const bytes = Buffer.from([0, 1, 2, 13, 10, 45, 45, 98, 255]);
    const { body, contentType } = multipart({ name: 'bin', parents: ['appDataFolder'] }, bytes, 'application/octet-stream');
    const created = await (await fetch(`${drive.url}/upload/drive/v3/files?uploadType=multipart`, { method: 'POST', headers: { Authorization: `Bearer ${ALICE}`, 'Content-Type': contentType }, body })).json();
    const back = Buffer.from(await (await fetch(`${drive.url}/drive/v3/files/${created.id}?alt=media`, { headers: { Authorization: `Bearer ${ALICE}` } })).arrayBuffer());
    assert.deepEqual(back, bytes);

    const media = await fetch(`${drive.url}/upload/drive/v3/files?uploadType=media`, { method: 'POST', headers: { Authorization: `Bearer ${ALICE}`, 'Content-Type': 'text/plain' }, body: 'raw' });
    assert.equal(media.status, 200);
    assert.equal((await media.json()).name, 'Untitled');
  });

  const injected = [
    [403, 'userRateLimitExceeded', 'usageLimits', 'User rate limit exceeded.'],
    [403, 'rateLimitExceeded', 'usageLimits', 'Rate Limit Exceeded'],
    [403, 'storageQuotaExceeded', 'usageLimits', "The user's Drive storage quota has been exceeded."],
    [403, 'insufficientFilePermissions', 'global', null],
    [429, 'rateLimitExceeded', 'usageLimits', 'Rate Limit Exceeded'],
    [500, 'backendError', 'global', 'Backend Error'],
    [503, 'backendError', 'global', 'The service is currently unavailable.'],
  ];
  for (const [status, reason, domain, message] of injected) {
    it(`injects ${status} ${reason} with Google's body, then recovers`, async () => {
      await control('fail', { count: 1, status, reason, path: '/files' });
      const failed = await list(ALICE, { spaces: 'appDataFolder' });
      assert.equal(failed.status, status);
      assert.equal(failed.body.error.code, status);
      assert.equal(failed.body.error.errors[0].reason, reason);
      assert.equal(failed.body.error.errors[0].domain, domain);
      if (message) assert.equal(failed.body.error.message, message);
      assert.equal((await list(ALICE, { spaces: 'appDataFolder' })).status, 200);
    });
  }

  it('injects 401 with the authError body even for a valid token', async () => {
    await control('fail', { count: 2, status: 401 });
    assert.equal((await list(ALICE, {})).body.error.errors[0].reason, 'authError');
    assert.equal((await list(ALICE, {})).status, 401);
    assert.equal((await list(ALICE, {})).status, 200);
  });

  it('only fails requests whose path matches the filter', async () => {
    const created = await upload(ALICE, 'k', 'v');
    await control('fail', { count: 1, status: 500, path: '/upload/' });
    assert.equal((await list(ALICE, { spaces: 'appDataFolder' })).status, 200);
    assert.equal((await fetch(`${drive.url}/drive/v3/files/${created.body.id}`, { headers: { Authorization: `Bearer ${ALICE}` } })).status, 200);
    assert.equal((await upload(ALICE, 'k', 'v')).status, 500);
  });
});
