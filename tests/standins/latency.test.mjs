// The latency profiles (tests/standins/latency.mjs): `none` adds nothing,
// `realistic` delays each request by what the profile says for it, within
// its range, in the Drive, iCloud and Portal stand-ins and the edge alike,
// and the environment variable picks the profile when no option does.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startDrive } from './drive.mjs';
import { startEdge } from './edge.mjs';
import { DEFAULT_ICLOUD_API_TOKEN, DEFAULT_ICLOUD_CONTAINER, DEFAULT_ICLOUD_ENVIRONMENT, WEB_AUTH_TOKEN_HEADER, startICloud } from './icloud.mjs';
import { PROFILES, describeProfile, draw, entryFor, latencyModel, resolveProfile, seededRandom } from './latency.mjs';
import { startPortal } from './portal.mjs';

const REALISTIC = PROFILES.realistic;
const ORIGIN = 'http://127.0.0.1:8100';
// A request may take longer than its draw by the machine's own time (2
// shared cores): generous above, exact below.
const SLACK_MS = 250;

/** Times `fetch`, and finds the draw the service made for it. */
async function timed(service, url, init = {}) {
  const before = service.latency ? service.latency.draws.length : 0;
  const t0 = performance.now();
  const res = await fetch(url, init);
  await res.arrayBuffer();
  const ms = performance.now() - t0;
  const draws = service.latency ? service.latency.draws.slice(before) : [];
  return { res, ms, draws };
}

/** Asserts one answer waited its draw, and the draw lies within its profile entry. */
function assertDelayed({ ms, draws }, entry, label) {
  const mine = draws.filter((d) => d.op === entry.op);
  assert.ok(mine.length >= 1, `${label}: drawn as "${entry.op}" (draws: ${JSON.stringify(draws)})`);
  const d = mine[0];
  assert.ok(d.ms >= entry.min && d.ms <= entry.max, `${label}: draw ${d.ms} within ${entry.min}..${entry.max}`);
  assert.ok(ms >= d.ms - 1, `${label}: answered after ${ms.toFixed(1)} ms, not before its draw ${d.ms.toFixed(1)} ms`);
  assert.ok(ms <= d.ms + SLACK_MS, `${label}: answered after ${ms.toFixed(1)} ms, draw ${d.ms.toFixed(1)} ms`);
}

const routeEntry = (service, method, path, body) => entryFor(REALISTIC[service], method, path, body === undefined ? undefined : Buffer.from(JSON.stringify(body)));
const ICLOUD_DB = `/database/1/${DEFAULT_ICLOUD_CONTAINER}/${DEFAULT_ICLOUD_ENVIRONMENT}/private`;
const deleteOps = (...types) => ({ operations: types.map((operationType) => ({ operationType, record: { recordName: 'r' } })) });

describe('latency profile: the numbers', () => {
  it('gives every entry a source and a range around its figure', () => {
    const rows = describeProfile('realistic');
    assert.ok(rows.length >= 10);
    for (const r of rows) {
      assert.ok(r.source && r.source.length > 20, `${r.service} ${r.op}: a source`);
      assert.ok(r.min > 0 && r.min <= r.ms && r.ms <= r.max, `${r.service} ${r.op}: ${r.min} <= ${r.ms} <= ${r.max}`);
    }
    // The figures issue 17 names.
    assert.equal(routeEntry('drive', 'POST', '/drive/v3/files').ms, 690);
    assert.equal(routeEntry('drive', 'PATCH', '/drive/v3/files/abc').ms, 540);
    assert.equal(routeEntry('drive', 'GET', '/drive/v3/files/abc').ms, 230);
    assert.equal(routeEntry('drive', 'GET', '/drive/v3/files').ms, 260);
    const upload = routeEntry('drive', 'POST', '/upload/drive/v3/files');
    assert.deepEqual([upload.min, upload.max], [600, 1000]);
    assert.equal(routeEntry('portal', 'PATCH', '/api/v3/clients/me/backup-share-pairs').ms, 150);
    assert.equal(routeEntry('worker', 'PUT', '/v1/client-backups/GDRIVE').ms, 50);
    // iCloud, by analogy with Drive's operation of the same kind (no measured figure exists).
    assert.equal(routeEntry('icloud', 'POST', `${ICLOUD_DB}/records/query`).ms, 260);
    assert.equal(routeEntry('icloud', 'POST', `${ICLOUD_DB}/records/lookup`).ms, 230);
    assert.equal(routeEntry('icloud', 'POST', `${ICLOUD_DB}/records/modify`, deleteOps('create')).ms, 690);
    assert.equal(routeEntry('icloud', 'GET', `${ICLOUD_DB}/users/current`).ms, 230);
    assert.equal(routeEntry('icloud', 'OPTIONS', `${ICLOUD_DB}/records/modify`).ms, 30);
    for (const r of describeProfile('realistic').filter((x) => x.service === 'icloud')) {
      assert.match(r.source, /no measured CloudKit Web Services figure/, `${r.op}: says its figure is an analogy`);
    }
  });

  it('draws an iCloud modify from its operations: deletes only as a delete, anything else as a write', () => {
    const modify = `${ICLOUD_DB}/records/modify`;
    assert.equal(routeEntry('icloud', 'POST', modify, deleteOps('forceDelete', 'delete')).ms, 500);
    assert.equal(routeEntry('icloud', 'POST', modify, deleteOps('forceDelete', 'create')).ms, 690);
    assert.equal(routeEntry('icloud', 'POST', modify, { operations: [] }).ms, 690);
    // No body, or not JSON: a write (the larger figure).
    assert.equal(entryFor(REALISTIC.icloud, 'POST', modify).ms, 690);
    assert.equal(entryFor(REALISTIC.icloud, 'POST', modify, Buffer.from('{not json')).ms, 690);
  });

  it('draws with the published figure as median, never outside the range, repeatably', () => {
    const entry = routeEntry('drive', 'GET', '/drive/v3/files');
    const random = seededRandom(42);
    const xs = Array.from({ length: 4000 }, () => draw(entry, random)).sort((a, b) => a - b);
    assert.ok(xs[0] >= entry.min && xs.at(-1) <= entry.max);
    const median = xs[xs.length / 2];
    assert.ok(Math.abs(median - entry.ms) / entry.ms < 0.03, `median ${median} near ${entry.ms}`);
    const sequence = (seed) => {
      const r = seededRandom(seed);
      return Array.from({ length: 5 }, () => draw(entry, r));
    };
    assert.deepEqual(sequence(42), sequence(42));
    assert.notDeepEqual(sequence(42), sequence(43));
  });

  it('knows none and realistic, and refuses other names', () => {
    assert.equal(resolveProfile('none'), null);
    assert.equal(resolveProfile(''), null);
    assert.equal(resolveProfile('realistic'), REALISTIC);
    assert.throws(() => resolveProfile('fast'), /unknown latency profile "fast"/);
    assert.equal(latencyModel('drive', { latency: 'none' }), null);
  });
});

describe('latency profile: the Drive stand-in', () => {
  let drive;
  before(async () => {
    drive = await startDrive({ port: 0, latency: 'realistic', latencySeed: 7 });
  });
  after(() => drive.close());
  const auth = { Authorization: 'Bearer drive-token-alice' };
  const multipart = (name) => {
    const b = 'b0undary';
    return {
      method: 'POST',
      headers: { ...auth, 'Content-Type': `multipart/related; boundary=${b}` },
      body: `--${b}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify({ name, parents: ['appDataFolder'] })}\r\n--${b}\r\nContent-Type: text/plain\r\n\r\nkey-${name}\r\n--${b}--`,
    };
  };

  it('delays each Drive operation by its own figure, preflights by the network round trip', async () => {
    const upload = `${drive.url}/upload/drive/v3/files?uploadType=multipart`;
    // Files to work on, made in parallel: two uploads and a metadata create.
    const [a, b, c] = await Promise.all([
      timed(drive, upload, multipart('a.txt')),
      timed(drive, upload, multipart('b.txt')),
      timed(drive, `${drive.url}/drive/v3/files`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'c', parents: ['appDataFolder'] }) }),
    ]);
    assertDelayed(a, routeEntry('drive', 'POST', '/upload/drive/v3/files'), 'multipart upload');
    assertDelayed(c, routeEntry('drive', 'POST', '/drive/v3/files'), 'files.create');
    assert.deepEqual([a.res.status, b.res.status, c.res.status], [200, 200, 200]);
    const files = drive.files('alice');
    const id = (name) => files.find((f) => f.name === name).id;

    // Everything else at once: each one's own wait, not the sum.
    const t0 = performance.now();
    const [list, get, media, patch, del, preflight] = await Promise.all([
      timed(drive, `${drive.url}/drive/v3/files?spaces=appDataFolder&q=${encodeURIComponent("name = 'a.txt'")}`, { headers: auth }),
      timed(drive, `${drive.url}/drive/v3/files/${id('a.txt')}`, { headers: auth }),
      timed(drive, `${drive.url}/drive/v3/files/${id('a.txt')}?alt=media`, { headers: auth }),
      timed(drive, `${drive.url}/drive/v3/files/${id('b.txt')}`, { method: 'PATCH', headers: { ...auth, 'Content-Type': 'application/json' }, body: '{"name":"b2.txt"}' }),
      timed(drive, `${drive.url}/drive/v3/files/${id('c')}`, { method: 'DELETE', headers: auth }),
      timed(drive, `${drive.url}/drive/v3/files/${id('a.txt')}`, { method: 'OPTIONS', headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'DELETE', 'Access-Control-Request-Headers': 'authorization' } }),
    ]);
    const all = performance.now() - t0;
    assertDelayed(list, routeEntry('drive', 'GET', '/drive/v3/files'), 'files.list');
    assertDelayed(get, routeEntry('drive', 'GET', '/drive/v3/files/x'), 'files.get');
    assertDelayed(media, routeEntry('drive', 'GET', '/drive/v3/files/x'), 'files.get alt=media');
    assertDelayed(patch, routeEntry('drive', 'PATCH', '/drive/v3/files/x'), 'files.update');
    assertDelayed(del, routeEntry('drive', 'DELETE', '/drive/v3/files/x'), 'files.delete');
    assertDelayed(preflight, REALISTIC.drive.preflight, 'preflight');
    assert.ok(all < 1000, `parallel requests wait side by side (${all.toFixed(0)} ms)`);

    // The answers are the service's own, as without a profile.
    assert.equal(list.res.status, 200);
    assert.equal(media.res.status, 200);
    assert.equal(del.res.status, 204);
    assert.equal(preflight.res.status, 204);
    assert.equal(preflight.res.headers.get('access-control-allow-origin'), ORIGIN);
    assert.equal(preflight.res.headers.get('access-control-max-age'), '600');
    assert.deepEqual(drive.files('alice').map((f) => f.name).sort(), ['a.txt', 'b2.txt']);
  });
});

describe('latency profile: the Portal stand-in and the edge', () => {
  let portal;
  let edge;
  let upstream;
  before(async () => {
    portal = await startPortal({ port: 0, latency: 'realistic' });
    upstream = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(req.method === 'OPTIONS' ? 204 : 200, { 'Access-Control-Allow-Origin': ORIGIN }).end(req.method === 'OPTIONS' ? undefined : 'ok'));
    });
    await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    edge = await startEdge({ upstream: `http://127.0.0.1:${upstream.address().port}`, latency: 'realistic' });
  });
  after(async () => {
    await portal.close();
    await edge.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it('delays every Portal request, the preflight too, by about 150 ms', async () => {
    const auth = { Authorization: 'Bearer test-token-alice' };
    const [me, patch, preflight] = await Promise.all([
      timed(portal, `${portal.url}/api/v3/clients/me`, { headers: auth }),
      timed(portal, `${portal.url}/api/v3/clients/me/backup-share-pairs`, {
        method: 'PATCH', headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ status: 'STORED_CLIENT_BACKUP_SHARE_KEY', backupSharePairIds: ['bsp-client-alice-secp256k1-gdrive'] }),
      }),
      timed(portal, `${portal.url}/api/v3/clients/me/backup-share-pairs`, { method: 'OPTIONS', headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'PATCH' } }),
    ]);
    assertDelayed(me, REALISTIC.portal.other, 'GET clients/me');
    assertDelayed(patch, REALISTIC.portal.other, 'PATCH backup-share-pairs');
    assertDelayed(preflight, REALISTIC.portal.preflight, 'preflight');
    assert.equal(me.res.status, 200);
    assert.equal(patch.res.status, 204);
    assert.equal(preflight.res.status, 204);
  });

  it('adds one round trip of about 50 ms in front of the Worker, preflights included', async () => {
    for (const init of [{}, { method: 'PUT', body: 'x' }, { method: 'OPTIONS', headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'PUT' } }]) {
      const t = await timed(edge, `${edge.url}/v1/client-backups/GDRIVE`, init);
      assertDelayed(t, init.method === 'OPTIONS' ? REALISTIC.worker.preflight : REALISTIC.worker.other, `edge ${init.method ?? 'GET'}`);
      assert.equal(t.res.status, init.method === 'OPTIONS' ? 204 : 200);
    }
  });
});

describe('latency profile: the iCloud stand-in', () => {
  let icloud;
  before(async () => {
    icloud = await startICloud({ port: 0, latency: 'realistic', latencySeed: 11 });
  });
  after(() => icloud.close());

  it('delays each CloudKit operation by its own figure, preflights by the network round trip, and still rotates the token', async () => {
    let token = icloud.issueToken('alice');
    const url = (operation) => `${icloud.url}${ICLOUD_DB}/${operation}?ckAPIToken=${DEFAULT_ICLOUD_API_TOKEN}&ckWebAuthToken=${encodeURIComponent(token)}`;
    // One request at a time: a web auth token is good for one.
    const post = async (operation, body) => {
      const t = await timed(icloud, url(operation), { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(body) });
      assert.equal(t.res.status, 200, `${operation}: answered`);
      token = t.res.headers.get(WEB_AUTH_TOKEN_HEADER);
      assert.ok(token, `${operation}: the next token`);
      return t;
    };
    const fields = { keyName: { value: 'k', type: 'STRING' }, key: { value: 'secret', type: 'STRING' } };
    const create = await post('records/modify', { operations: [{ operationType: 'create', record: { recordName: 'R1', recordType: 'PortalBackupKey', fields } }] });
    assertDelayed(create, routeEntry('icloud', 'POST', `${ICLOUD_DB}/records/modify`, deleteOps('create')), 'modify create');
    const query = await post('records/query', { query: { recordType: 'PortalBackupKey', filterBy: [{ fieldName: 'keyName', comparator: 'EQUALS', fieldValue: { value: 'k' } }] } });
    assertDelayed(query, routeEntry('icloud', 'POST', `${ICLOUD_DB}/records/query`), 'query');
    const lookup = await post('records/lookup', { records: [{ recordName: 'R1' }] });
    assertDelayed(lookup, routeEntry('icloud', 'POST', `${ICLOUD_DB}/records/lookup`), 'lookup');
    const del = await post('records/modify', { operations: [{ operationType: 'forceDelete', record: { recordName: 'R1' } }] });
    assertDelayed(del, routeEntry('icloud', 'POST', `${ICLOUD_DB}/records/modify`, deleteOps('forceDelete')), 'modify forceDelete');
    const preflight = await timed(icloud, url('records/modify'), { method: 'OPTIONS', headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' } });
    assertDelayed(preflight, REALISTIC.icloud.preflight, 'preflight');

    // The answers are the service's own, as without a profile.
    assert.equal(query.res.status, 200);
    assert.equal(preflight.res.status, 204);
    assert.equal(preflight.res.headers.get('access-control-allow-origin'), ORIGIN);
    assert.deepEqual(icloud.records('alice'), []);
  });

  it('answers at once without a profile', async () => {
    const plain = await startICloud({ port: 0, latency: 'none' });
    try {
      assert.equal(plain.latency, null);
      const token = plain.issueToken('bob');
      const t = await timed(plain, `${plain.url}${ICLOUD_DB}/users/current?ckAPIToken=${DEFAULT_ICLOUD_API_TOKEN}&ckWebAuthToken=${encodeURIComponent(token)}`);
      assert.equal(t.res.status, 200);
      assert.ok(t.ms < 100, `no profile: answered in ${t.ms.toFixed(1)} ms`);
    } finally {
      await plain.close();
    }
  });
});

describe('latency profile: choosing it', () => {
  it('reads LATENCY_PROFILE when no option says, and none is the default', async () => {
    const saved = process.env.LATENCY_PROFILE;
    try {
      delete process.env.LATENCY_PROFILE;
      const plain = await startPortal({ port: 0 });
      assert.equal(plain.latency, null);
      const quick = await timed(plain, `${plain.url}/api/v3/clients/me`, { headers: { Authorization: 'Bearer test-token-alice' } });
      await plain.close();
      assert.ok(quick.ms < 100, `no profile: answered in ${quick.ms.toFixed(1)} ms`);

      process.env.LATENCY_PROFILE = 'realistic';
      const slow = await startPortal({ port: 0 });
      assert.equal(slow.latency.profile, 'realistic');
      const t = await timed(slow, `${slow.url}/api/v3/clients/me`, { headers: { Authorization: 'Bearer test-token-alice' } });
      await slow.close();
      assertDelayed(t, REALISTIC.portal.other, 'from the environment');

      const cloud = await startICloud({ port: 0 });
      assert.equal(cloud.latency.profile, 'realistic');
      await cloud.close();

      // An option wins over the environment.
      const off = await startDrive({ port: 0, latency: 'none' });
      assert.equal(off.latency, null);
      await off.close();
      const cloudOff = await startICloud({ port: 0, latency: 'none' });
      assert.equal(cloudOff.latency, null);
      await cloudOff.close();

      process.env.LATENCY_PROFILE = 'slowish';
      await assert.rejects(startDrive({ port: 0 }), /unknown latency profile "slowish"/);
    } finally {
      if (saved === undefined) delete process.env.LATENCY_PROFILE;
      else process.env.LATENCY_PROFILE = saved;
    }
  });
});
