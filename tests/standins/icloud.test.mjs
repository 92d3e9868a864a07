// The CloudKit Web Services stand-in against what Apple's reference says
// (tests/standins/icloud.mjs names the page for each behaviour).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  DEFAULT_ICLOUD_API_TOKEN as API,
  DEFAULT_ICLOUD_CONTAINER as C,
  DEFAULT_ICLOUD_ENVIRONMENT as E,
  ICLOUD_ERRORS,
  MAX_OPERATIONS,
  WEB_AUTH_TOKEN_HEADER,
  startICloud,
  userRecordName,
} from './icloud.mjs';

let icloud;

before(async () => {
  icloud = await startICloud({ port: 0 });
});
after(() => icloud.close());
beforeEach(() => fetch(`${icloud.url}/__control/reset`, { method: 'POST' }));

const control = async (path, body) => {
  const res = await fetch(`${icloud.url}/__control/${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body ?? {}) });
  return { status: res.status, body: await res.json() };
};
const signIn = async (user, extra = {}) => (await control('tokens', { user, ...extra })).body.token;

function endpoint(operation, { token, apiToken = API, database = 'private', container = C, environment = E, rawQuery } = {}) {
  const qs = new URLSearchParams();
  if (apiToken) qs.set('ckAPIToken', apiToken);
  // URLSearchParams encodes '+', '/' and '=' as the reference asks (%2B, %2F, %3D).
  if (token) qs.set('ckWebAuthToken', token);
  return `${icloud.url}/database/1/${container}/${environment}/${database}/${operation}?${rawQuery ?? qs}`;
}

/** One request; `next` is the token the answer hands back. */
async function call(operation, token, body, { method = 'POST', headers = {}, ...where } = {}) {
  const res = await fetch(endpoint(operation, { token, ...where }), {
    method,
    // Apple's own examples send text/plain (no CORS preflight from a page).
    headers: { 'Content-Type': 'text/plain', ...headers },
    body: method === 'GET' ? undefined : JSON.stringify(body ?? {}),
  });
  return { status: res.status, body: await res.json(), next: res.headers.get(WEB_AUTH_TOKEN_HEADER), headers: res.headers };
}

/** A signed-in user that always sends the last token it was given, as a client must. */
async function session(user) {
  let token = await signIn(user);
  return {
    get token() {
      return token;
    },
    async call(operation, body, options) {
      const answer = await call(operation, token, body, options);
      if (answer.next) token = answer.next;
      return answer;
    },
  };
}

const keyRecord = (recordName, key, extra = {}) => ({
  operationType: 'create',
  record: { recordName, recordType: 'PortalBackupKey', fields: { key: { value: key, type: 'STRING' }, clientId: { value: 'client-alice' }, ...extra } },
});

describe('iCloud (CloudKit Web Services) stand-in', () => {
  it('creates a record, reads it back, lists it and deletes it (records/modify, lookup, query)', async () => {
    const alice = await session('alice');
    const created = await alice.call('records/modify', { operations: [keyRecord('key-1', 'c2VjcmV0')], zoneID: { zoneName: '_defaultZone' } });
    assert.equal(created.status, 200);
    assert.equal(created.body.records.length, 1);
    const record = created.body.records[0];
    assert.equal(record.recordName, 'key-1');
    assert.equal(record.recordType, 'PortalBackupKey');
    assert.deepEqual(record.fields, { key: { value: 'c2VjcmV0', type: 'STRING' }, clientId: { value: 'client-alice', type: 'STRING' } });
    assert.equal(typeof record.recordChangeTag, 'string');
    assert.equal(record.created.userRecordName, userRecordName('alice'));
    assert.match(record.created.userRecordName, /^_[0-9a-f]{32}$/);
    assert.equal(typeof record.created.timestamp, 'number');
    assert.equal(typeof record.created.deviceID, 'string');
    assert.deepEqual(record.created, record.modified);

    const lookedUp = await alice.call('records/lookup', { records: [{ recordName: 'key-1' }] });
    assert.equal(lookedUp.status, 200);
    assert.deepEqual(lookedUp.body.records, [record]);

    const listed = await alice.call('records/query', {
      query: { recordType: 'PortalBackupKey', filterBy: [{ fieldName: 'clientId', comparator: 'EQUALS', fieldValue: { value: 'client-alice', type: 'STRING' } }] },
    });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body, { records: [record] });

    const deleted = await alice.call('records/modify', { operations: [{ operationType: 'forceDelete', record: { recordName: 'key-1' } }] });
    assert.equal(deleted.status, 200);
    assert.deepEqual(deleted.body.records, [{ recordName: 'key-1', deleted: true }]);
    const gone = await alice.call('records/lookup', { records: [{ recordName: 'key-1' }] });
    assert.equal(gone.body.records[0].serverErrorCode, 'NOT_FOUND');
    assert.deepEqual((await alice.call('records/query', { query: { recordType: 'PortalBackupKey' } })).body.records, []);
  });

  it('answers a create of an existing recordName with a per-record CONFLICT, and keeps the record', async () => {
    const alice = await session('alice');
    await alice.call('records/modify', { operations: [keyRecord('key-1', 'first')] });
    const again = await alice.call('records/modify', { operations: [keyRecord('key-1', 'second'), keyRecord('key-2', 'other')] });
    assert.equal(again.status, 200, 'the default zone is not atomic: the batch answers 200');
    const [conflict, ok] = again.body.records;
    assert.equal(conflict.recordName, 'key-1');
    assert.equal(conflict.serverErrorCode, 'CONFLICT');
    assert.equal(conflict.reason, 'record to insert already exists');
    assert.match(conflict.uuid, /^[0-9a-f-]{36}$/);
    assert.equal(ok.recordName, 'key-2');
    const [kept] = icloud.records('alice').filter((r) => r.recordName === 'key-1');
    assert.equal(kept.fields.key.value, 'first');
  });

  it('answers a lookup of a missing record with a per-record NOT_FOUND, next to the found ones', async () => {
    const alice = await session('alice');
    await alice.call('records/modify', { operations: [keyRecord('here', 'k')] });
    const res = await alice.call('records/lookup', { records: [{ recordName: 'missing' }, { recordName: 'here' }] });
    assert.equal(res.status, 200);
    const [missing, here] = res.body.records;
    assert.deepEqual(Object.keys(missing).sort(), ['reason', 'recordName', 'serverErrorCode', 'uuid']);
    assert.equal(missing.recordName, 'missing');
    assert.equal(missing.serverErrorCode, 'NOT_FOUND');
    assert.equal(here.recordName, 'here');
  });

  describe('web auth token', () => {
    it('is single-use: each answer carries the next token; the spent one gets 421 AUTHENTICATION_REQUIRED with redirectURL', async () => {
      const first = await signIn('alice');
      const ok = await call('users/current', first, undefined, { method: 'GET', database: 'public' });
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.body, { userRecordName: userRecordName('alice') });
      assert.ok(ok.next && ok.next !== first, 'the answer carries a new token');
      assert.equal(ok.headers.get('access-control-expose-headers').includes(WEB_AUTH_TOKEN_HEADER), true);

      const reused = await call('users/current', first, undefined, { method: 'GET', database: 'public' });
      assert.equal(reused.status, 421);
      assert.equal(reused.body.serverErrorCode, 'AUTHENTICATION_REQUIRED');
      assert.equal(reused.body.reason, 'request needs authorization');
      assert.match(reused.body.uuid, /^[0-9a-f-]{36}$/);
      const redirect = new URL(reused.body.redirectURL);
      assert.equal(redirect.pathname, '/signin');
      assert.equal(redirect.searchParams.get('container'), C);
      assert.equal(reused.next, null, 'a refused token gets no successor');

      const second = await call('users/current', ok.next, undefined, { method: 'GET', database: 'public' });
      assert.equal(second.status, 200);
      assert.ok(second.next && second.next !== ok.next);
    });

    it('holds +, / and =, so a client that does not encode them is refused', async () => {
      const token = await signIn('alice');
      assert.match(token, /\+/);
      assert.match(token, /\//);
      assert.match(token, /=$/);
      // A bare '+' in a query string is a space.
      const unencoded = await call('users/current', null, undefined, { method: 'GET', rawQuery: `ckAPIToken=${API}&ckWebAuthToken=${token}` });
      assert.equal(unencoded.status, 421);
      const encoded = token.replaceAll('+', '%2B').replaceAll('/', '%2F').replaceAll('=', '%3D');
      const ok = await call('users/current', null, undefined, { method: 'GET', rawQuery: `ckAPIToken=${API}&ckWebAuthToken=${encoded}` });
      assert.equal(ok.status, 200);
    });

    it('is spent by the first of two requests that bring it at once', async () => {
      const token = await signIn('alice');
      const answers = await Promise.all([1, 2].map(() => call('records/query', token, { query: { recordType: 'PortalBackupKey' } })));
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 421]);
    });

    it('rotates on error answers too: a BAD_REQUEST carries the next token', async () => {
      const token = await signIn('alice');
      const bad = await call('records/modify', token, { operations: 'not a list' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.serverErrorCode, 'BAD_REQUEST');
      assert.ok(bad.next);
      assert.equal((await call('records/query', bad.next, { query: { recordType: 'X' } })).status, 200);
    });

    it('expires (30 minutes by default; control expire) and is refused like a spent one', async () => {
      const token = await signIn('alice');
      assert.equal((await control('expire', { token })).body.expired, true);
      const res = await call('records/query', token, { query: { recordType: 'X' } });
      assert.equal(res.status, 421);
      assert.equal(res.body.serverErrorCode, 'AUTHENTICATION_REQUIRED');

      const { body } = await control('tokens', { user: 'alice' });
      const life = body.expiresAt - Date.now();
      assert.ok(life > 29 * 60_000 && life <= 30 * 60_000, `about 30 minutes, got ${life} ms`);
      const kept = (await control('tokens', { user: 'alice', keepSignedIn: true })).body;
      assert.ok(kept.expiresAt - Date.now() > 13 * 24 * 3600_000, '"Keep me signed in": 2 weeks');
    });

    it('expires on its own after its life', async () => {
      const short = await startICloud({ webAuthTokenTtlMs: 50 });
      try {
        const token = short.issueToken('alice');
        await new Promise((r) => setTimeout(r, 80));
        const qs = new URLSearchParams({ ckAPIToken: API, ckWebAuthToken: token });
        const res = await fetch(`${short.url}/database/1/${C}/${E}/public/users/current?${qs}`);
        assert.equal(res.status, 421);
      } finally {
        await short.close();
      }
    });

    it('is refused without one (421 with redirectURL), and for another container', async () => {
      const none = await call('records/query', null, { query: { recordType: 'X' } });
      assert.equal(none.status, 421);
      assert.equal(none.body.serverErrorCode, 'AUTHENTICATION_REQUIRED');
      assert.ok(none.body.redirectURL);

      await control('api-tokens', { apiToken: 'other-api-token', container: 'iCloud.com.example.other' });
      const token = await signIn('alice');
      const elsewhere = await call('records/query', token, { query: { recordType: 'X' } }, { container: 'iCloud.com.example.other', apiToken: 'other-api-token' });
      assert.equal(elsewhere.status, 421);
      assert.equal((await call('records/query', token, { query: { recordType: 'X' } })).status, 200, 'not spent by the other container');
    });

    it('revoke signs a user out: every token of theirs is refused', async () => {
      const a = await signIn('alice');
      const b = await signIn('alice');
      const bob = await signIn('bob');
      assert.equal((await control('revoke', { user: 'alice' })).body.revoked, 2);
      for (const token of [a, b]) assert.equal((await call('records/query', token, { query: { recordType: 'X' } })).status, 421);
      assert.equal((await call('records/query', bob, { query: { recordType: 'X' } })).status, 200);
    });

    it('comes from the sign-in page redirectURL opens, posted to the opener or sent to the callback', async () => {
      const { body } = await call('records/query', null, { query: { recordType: 'X' } });
      const page = await fetch(body.redirectURL);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type'), /text\/html/);
      assert.match(await page.text(), /<form method="post"/);

      const signedIn = await fetch(body.redirectURL, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'user=carol' });
      const html = await signedIn.text();
      assert.match(html, /postMessage\(\{ ckWebAuthToken \}/);
      const token = JSON.parse(/const ckWebAuthToken = ("[^"]+");/.exec(html)[1]);
      const res = await call('users/current', token, undefined, { method: 'GET', database: 'public' });
      assert.equal(res.status, 200);
      assert.equal(res.body.userRecordName, userRecordName('carol'));

      await control('api-tokens', { apiToken: API, signInCallback: 'http://localhost:8787/icloud-callback' });
      const redirected = await fetch(body.redirectURL, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'user=carol', redirect: 'manual' });
      assert.equal(redirected.status, 302);
      const location = new URL(redirected.headers.get('location'));
      assert.equal(location.origin + location.pathname, 'http://localhost:8787/icloud-callback');
      assert.match(location.search, /ckWebAuthToken=[^&]*%2B/, 'the token is URL-encoded in the callback');
      assert.equal((await call('users/current', location.searchParams.get('ckWebAuthToken'), undefined, { method: 'GET', database: 'public' })).status, 200);
    });
  });

  describe('API token', () => {
    it('is required (400) and must belong to the container and environment (401 AUTHENTICATION_FAILED)', async () => {
      const token = await signIn('alice');
      const missing = await call('records/query', token, { query: { recordType: 'X' } }, { apiToken: null });
      assert.equal(missing.status, 400);
      assert.equal(missing.body.serverErrorCode, 'BAD_REQUEST');
      const wrong = await call('records/query', token, { query: { recordType: 'X' } }, { apiToken: 'nope' });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.serverErrorCode, 'AUTHENTICATION_FAILED');
      assert.deepEqual(Object.keys(wrong.body).sort(), ['reason', 'serverErrorCode', 'uuid']);
      const production = await call('records/query', token, { query: { recordType: 'X' } }, { environment: 'production' });
      assert.equal(production.status, 401);
      assert.equal((await call('records/query', token, { query: { recordType: 'X' } })).status, 200, 'the web token was not spent by refused requests');
    });
  });

  it('keeps a private database per user', async () => {
    const alice = await session('alice');
    const bob = await session('bob');
    await alice.call('records/modify', { operations: [keyRecord('key-1', 'alice-key')] });
    const bobLookup = await bob.call('records/lookup', { records: [{ recordName: 'key-1' }] });
    assert.equal(bobLookup.body.records[0].serverErrorCode, 'NOT_FOUND');
    assert.deepEqual((await bob.call('records/query', { query: { recordType: 'PortalBackupKey' } })).body.records, []);
    const bobDelete = await bob.call('records/modify', { operations: [{ operationType: 'forceDelete', record: { recordName: 'key-1' } }] });
    assert.equal(bobDelete.body.records[0].serverErrorCode, 'NOT_FOUND');
    // Bob may use the same name in his own database.
    assert.equal((await bob.call('records/modify', { operations: [keyRecord('key-1', 'bob-key')] })).body.records[0].recordName, 'key-1');

    const inAlice = await (await fetch(`${icloud.url}/__control/records?user=alice`)).json();
    assert.deepEqual(inAlice.map((r) => [r.recordName, r.fields.key.value, r.container, r.environment]), [['key-1', 'alice-key', C, E]]);
    const inBob = await (await fetch(`${icloud.url}/__control/records?user=bob`)).json();
    assert.deepEqual(inBob.map((r) => r.fields.key.value), ['bob-key']);
  });

  describe('records/modify', () => {
    it('update and delete need the current recordChangeTag; a stale one is CONFLICT, none is BAD_REQUEST', async () => {
      const alice = await session('alice');
      const [created] = (await alice.call('records/modify', { operations: [keyRecord('k', 'v1')] })).body.records;
      const updated = await alice.call('records/modify', {
        operations: [{ operationType: 'update', record: { recordName: 'k', recordChangeTag: created.recordChangeTag, fields: { key: { value: 'v2' } } } }],
      });
      const [after] = updated.body.records;
      assert.equal(after.fields.key.value, 'v2');
      assert.equal(after.fields.clientId.value, 'client-alice', 'update changes only the fields given');
      assert.notEqual(after.recordChangeTag, created.recordChangeTag);
      assert.ok(after.modified.timestamp > created.modified.timestamp);
      assert.deepEqual(after.created, created.created);

      const stale = await alice.call('records/modify', { operations: [{ operationType: 'delete', record: { recordName: 'k', recordChangeTag: created.recordChangeTag } }] });
      assert.equal(stale.body.records[0].serverErrorCode, 'CONFLICT');
      const untagged = await alice.call('records/modify', { operations: [{ operationType: 'replace', record: { recordName: 'k', fields: {} } }] });
      assert.equal(untagged.body.records[0].serverErrorCode, 'BAD_REQUEST');

      const replaced = await alice.call('records/modify', {
        operations: [{ operationType: 'replace', record: { recordName: 'k', recordChangeTag: after.recordChangeTag, fields: { key: { value: 'v3' } } } }],
      });
      assert.deepEqual(Object.keys(replaced.body.records[0].fields), ['key'], 'replace clears the fields not given');
      const deleted = await alice.call('records/modify', {
        operations: [{ operationType: 'delete', record: { recordName: 'k', recordChangeTag: replaced.body.records[0].recordChangeTag } }],
      });
      assert.deepEqual(deleted.body.records, [{ recordName: 'k', deleted: true }]);
    });

    it('forceUpdate and forceReplace create a missing record; update and delete of one are NOT_FOUND', async () => {
      const alice = await session('alice');
      const res = await alice.call('records/modify', {
        operations: [
          { operationType: 'forceUpdate', record: { recordName: 'a', recordType: 'T', fields: { n: { value: 1 } } } },
          { operationType: 'forceReplace', record: { recordName: 'b', recordType: 'T', fields: { d: { value: 2.5 } } } },
          { operationType: 'update', record: { recordName: 'c', recordChangeTag: 'x', fields: {} } },
          { operationType: 'delete', record: { recordName: 'd', recordChangeTag: 'x' } },
          { operationType: 'forceUpdate', record: { recordName: 'e', fields: {} } },
        ],
      });
      const [a, b, c, d, e] = res.body.records;
      assert.deepEqual(a.fields.n, { value: 1, type: 'INT64' });
      assert.deepEqual(b.fields.d, { value: 2.5, type: 'DOUBLE' });
      assert.equal(c.serverErrorCode, 'NOT_FOUND');
      assert.equal(d.serverErrorCode, 'NOT_FOUND');
      assert.equal(e.serverErrorCode, 'BAD_REQUEST', 'no recordType for a record that does not exist');
    });

    it('names a record with a random UUID when none is given', async () => {
      const alice = await session('alice');
      const res = await alice.call('records/modify', { operations: [{ operationType: 'create', record: { recordType: 'T', fields: {} } }] });
      assert.match(res.body.records[0].recordName, /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
    });

    it('keeps a field\'s type: another type is a per-record BAD_REQUEST', async () => {
      const alice = await session('alice');
      await alice.call('records/modify', { operations: [{ operationType: 'create', record: { recordName: 'a', recordType: 'T', fields: { n: { value: 1 } } } }] });
      const res = await alice.call('records/modify', { operations: [{ operationType: 'create', record: { recordName: 'b', recordType: 'T', fields: { n: { value: 'one' } } } }] });
      assert.equal(res.body.records[0].serverErrorCode, 'BAD_REQUEST');
      assert.match(res.body.records[0].reason, /defined to be: INT64/);
      const badBytes = await alice.call('records/modify', { operations: [{ operationType: 'create', record: { recordName: 'c', recordType: 'T', fields: { b: { value: 'not base64!', type: 'BYTES' } } } }] });
      assert.equal(badBytes.body.records[0].serverErrorCode, 'BAD_REQUEST');
    });

    it('returns only desiredKeys, and numbers as strings with numbersAsStrings', async () => {
      const alice = await session('alice');
      const res = await alice.call('records/modify', {
        operations: [{ operationType: 'create', record: { recordName: 'a', recordType: 'T', fields: { n: { value: 7 }, s: { value: 'x' } } } }],
        desiredKeys: ['n'],
        numbersAsStrings: true,
      });
      assert.deepEqual(res.body.records[0].fields, { n: { value: '7', type: 'INT64' } });
      const perOperation = await alice.call('records/modify', {
        operations: [{ operationType: 'create', record: { recordName: 'b', recordType: 'T', fields: { n: { value: 8 }, s: { value: 'y' } } }, desiredKeys: ['s'] }],
        desiredKeys: ['n'],
      });
      assert.deepEqual(perOperation.body.records[0].fields, { s: { value: 'y', type: 'STRING' } }, 'an operation\'s desiredKeys wins');
    });

    it('refuses a malformed request whole: BAD_REQUEST for bad JSON, a bad operationType, two operations on one record, too many operations', async () => {
      const alice = await session('alice');
      const badJson = await fetch(endpoint('records/modify', { token: alice.token }), { method: 'POST', body: '{not json' });
      assert.equal(badJson.status, 400);
      assert.equal((await badJson.json()).serverErrorCode, 'BAD_REQUEST');
      for (const body of [
        { operations: [{ operationType: 'upsert', record: { recordName: 'a' } }] },
        { operations: [keyRecord('a', 'x'), { operationType: 'forceDelete', record: { recordName: 'a' } }] },
        { operations: Array.from({ length: MAX_OPERATIONS + 1 }, (_, i) => keyRecord(`k${i}`, 'x')) },
      ]) {
        const token = await signIn('alice');
        const res = await call('records/modify', token, body);
        assert.equal(res.status, 400);
        assert.equal(res.body.serverErrorCode, 'BAD_REQUEST');
      }
      assert.deepEqual(icloud.records('alice'), [], 'nothing of a refused request was applied');
    });

    it('has only _defaultZone: another zone is 404 ZONE_NOT_FOUND', async () => {
      const alice = await session('alice');
      const res = await alice.call('records/modify', { operations: [keyRecord('a', 'x')], zoneID: { zoneName: 'myCustomZone' } });
      assert.equal(res.status, 404);
      assert.equal(res.body.serverErrorCode, 'ZONE_NOT_FOUND');
    });

    it('answers QUOTA_EXCEEDED for a record that does not fit the user\'s iCloud storage', async () => {
      const alice = await session('alice');
      await control('quota', { user: 'alice', bytes: 200 });
      const res = await alice.call('records/modify', { operations: [keyRecord('small', 'x'), keyRecord('big', 'y'.repeat(300))] });
      assert.equal(res.status, 200);
      assert.equal(res.body.records[0].recordName, 'small');
      assert.equal(res.body.records[1].serverErrorCode, 'QUOTA_EXCEEDED');
      await control('quota', { user: 'alice', bytes: null });
      assert.equal((await alice.call('records/modify', { operations: [keyRecord('big', 'y'.repeat(300))] })).body.records[0].recordName, 'big');
    });
  });

  describe('records/query', () => {
    it('filters, sorts, pages with resultsLimit and continuationMarker', async () => {
      const alice = await session('alice');
      const operations = [];
      for (let i = 0; i < 5; i++) operations.push(keyRecord(`k${i}`, `v${i}`, { clientId: { value: i % 2 ? 'odd' : 'even' } }));
      await alice.call('records/modify', { operations });

      const query = { recordType: 'PortalBackupKey', sortBy: [{ systemFieldName: 'createdTimestamp', ascending: false }] };
      const seen = [];
      let continuationMarker;
      let pages = 0;
      do {
        const page = await alice.call('records/query', { query, resultsLimit: 2, ...(continuationMarker ? { continuationMarker } : {}) });
        assert.equal(page.status, 200);
        assert.ok(page.body.records.length <= 2);
        seen.push(...page.body.records.map((r) => r.recordName));
        continuationMarker = page.body.continuationMarker;
        pages += 1;
      } while (continuationMarker);
      assert.equal(pages, 3);
      assert.deepEqual(seen, ['k4', 'k3', 'k2', 'k1', 'k0']);

      const even = await alice.call('records/query', {
        query: { recordType: 'PortalBackupKey', filterBy: [{ fieldName: 'clientId', comparator: 'EQUALS', fieldValue: { value: 'even' } }], sortBy: [{ fieldName: 'key' }] },
      });
      assert.deepEqual(even.body.records.map((r) => r.recordName), ['k0', 'k2', 'k4']);
      const named = await alice.call('records/query', {
        query: { recordType: 'PortalBackupKey', filterBy: [{ systemFieldName: 'recordName', comparator: 'IN', fieldValue: { value: ['k1', 'k3'], type: 'STRING_LIST' } }] },
      });
      assert.deepEqual(named.body.records.map((r) => r.recordName), ['k1', 'k3']);

      const first = await alice.call('records/query', { query, resultsLimit: 2 });
      const otherQuery = await alice.call('records/query', { query: { recordType: 'PortalBackupKey' }, continuationMarker: first.body.continuationMarker });
      assert.equal(otherQuery.status, 400, 'a marker belongs to its query');
    });

    it('refuses a query without recordType, or with an unknown comparator (400 BAD_REQUEST)', async () => {
      const alice = await session('alice');
      for (const body of [
        {},
        { query: {} },
        { query: { recordType: 'T', filterBy: [{ fieldName: 'a', comparator: 'LIKE', fieldValue: { value: 'x' } }] } },
        { query: { recordType: 'T', filterBy: [{ fieldName: 'a', comparator: 'EQUALS' }] } },
        { query: { recordType: 'T' }, resultsLimit: 0 },
      ]) {
        const res = await alice.call('records/query', body);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(res.body.serverErrorCode, 'BAD_REQUEST');
      }
    });
  });

  describe('injected faults (control fail)', () => {
    for (const [code, [status]] of Object.entries(ICLOUD_ERRORS)) {
      it(`answers ${code} with HTTP ${status} and CloudKit's error body, then recovers`, async () => {
        const alice = await session('alice');
        await control('fail', { serverErrorCode: code, operation: 'records/query' });
        const failed = await alice.call('records/query', { query: { recordType: 'T' } });
        assert.equal(failed.status, status);
        assert.equal(failed.body.serverErrorCode, code);
        assert.equal(typeof failed.body.reason, 'string');
        assert.match(failed.body.uuid, /^[0-9a-f-]{36}$/);
        const keys = ['reason', 'serverErrorCode', 'uuid'];
        if (code === 'THROTTLED' || code === 'TRY_AGAIN_LATER') {
          keys.push('retryAfter');
          assert.equal(failed.body.retryAfter, 1);
        }
        if (code === 'AUTHENTICATION_REQUIRED') keys.push('redirectURL');
        assert.deepEqual(Object.keys(failed.body).sort(), keys.sort());
        if (status === 401 || status === 421) {
          assert.equal(failed.next, null, 'signed out: no next token');
          const again = await call('records/query', await signIn('alice'), { query: { recordType: 'T' } });
          assert.equal(again.status, 200);
        } else {
          assert.ok(failed.next, 'the token still rotates');
          assert.equal((await alice.call('records/query', { query: { recordType: 'T' } })).status, 200);
        }
      });
    }

    it('throttles with the retryAfter given, by status too', async () => {
      const alice = await session('alice');
      await control('fail', { status: 429, retryAfter: 7 });
      const res = await alice.call('users/current', undefined, { method: 'GET', database: 'public' });
      assert.equal(res.status, 429);
      assert.equal(res.body.serverErrorCode, 'THROTTLED');
      assert.equal(res.body.retryAfter, 7);
      await control('fail', { serverErrorCode: 'TRY_AGAIN_LATER', retryAfter: null });
      const noRetry = await alice.call('users/current', undefined, { method: 'GET', database: 'public' });
      assert.equal(noRetry.status, 503);
      assert.equal('retryAfter' in noRetry.body, false);
    });

    it('fails only the operation type named, count times, after skip', async () => {
      const alice = await session('alice');
      await alice.call('records/modify', { operations: [keyRecord('old', 'x')] });
      await control('fail', { serverErrorCode: 'TRY_AGAIN_LATER', operationType: 'forceDelete', count: 2, skip: 1 });
      const create = await alice.call('records/modify', { operations: [keyRecord('new', 'y')] });
      assert.equal(create.status, 200, 'a create is not a forceDelete');
      const del = () => alice.call('records/modify', { operations: [{ operationType: 'forceDelete', record: { recordName: 'old' } }] });
      // The skipped one goes through and deletes 'old'; the next two fail whole.
      assert.deepEqual((await del()).body.records, [{ recordName: 'old', deleted: true }]);
      assert.equal((await del()).status, 503);
      assert.equal((await del()).status, 503);
      assert.equal((await del()).body.records[0].serverErrorCode, 'NOT_FOUND');
    });

    it('fails one record of a batch with scope "record", the others applied', async () => {
      const alice = await session('alice');
      await control('fail', { serverErrorCode: 'QUOTA_EXCEEDED', scope: 'record', recordName: 'b' });
      const res = await alice.call('records/modify', { operations: [keyRecord('a', '1'), keyRecord('b', '2'), keyRecord('c', '3')] });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.records.map((r) => r.serverErrorCode ?? r.recordName), ['a', 'QUOTA_EXCEEDED', 'c']);
      assert.equal(res.body.records[1].recordName, 'b');
      assert.deepEqual(icloud.records('alice').map((r) => r.recordName), ['a', 'c']);

      await control('fail', { serverErrorCode: 'THROTTLED', scope: 'record', operation: 'records/lookup', retryAfter: 2 });
      const looked = await alice.call('records/lookup', { records: [{ recordName: 'a' }, { recordName: 'c' }] });
      assert.equal(looked.body.records[0].serverErrorCode, 'THROTTLED');
      assert.equal(looked.body.records[0].retryAfter, 2);
      assert.equal(looked.body.records[1].recordName, 'c');
    });

    it('refuses a rule with an unknown code or a status CloudKit does not use', async () => {
      assert.equal((await control('fail', { serverErrorCode: 'TEAPOT' })).status, 400);
      assert.equal((await control('fail', { status: 418 })).status, 400);
      assert.equal((await control('fail', { serverErrorCode: 'THROTTLED', status: 503 })).status, 400);
    });

    it('heal and reset forget the rules; reset also the records and tokens', async () => {
      const alice = await session('alice');
      await control('fail', { serverErrorCode: 'INTERNAL_ERROR', count: 5 });
      await control('heal');
      assert.equal((await alice.call('records/modify', { operations: [keyRecord('a', '1')] })).status, 200);
      await control('reset');
      assert.deepEqual(icloud.records('alice'), []);
      assert.equal((await call('records/query', alice.token, { query: { recordType: 'T' } })).status, 421);
    });

    it('a dropped request never reached CloudKit: its token is still good', async () => {
      const token = await signIn('alice');
      await control('drop', { path: '/records/query' });
      await assert.rejects(call('records/query', token, { query: { recordType: 'T' } }), TypeError);
      assert.equal((await call('records/query', token, { query: { recordType: 'T' } })).status, 200);
    });

    it('a delayed request the client gave up on still spent its token', async () => {
      const token = await signIn('alice');
      await control('delay', { ms: 200, path: '/records/modify' });
      const aborted = fetch(endpoint('records/modify', { token }), {
        method: 'POST',
        body: JSON.stringify({ operations: [keyRecord('late', 'x')] }),
        signal: AbortSignal.timeout(50),
      });
      await assert.rejects(aborted);
      await control('heal');
      assert.deepEqual(icloud.records('alice').map((r) => r.recordName), ['late'], 'the write took effect');
      assert.equal((await call('records/query', token, { query: { recordType: 'T' } })).status, 421);
    });
  });

  it('answers CORS preflights and lets a page read the next token', async () => {
    const origin = 'http://127.0.0.1:8100';
    const pre = await fetch(endpoint('records/modify'), {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), origin);
    assert.match(pre.headers.get('access-control-allow-headers'), /Content-Type/);
    assert.match(pre.headers.get('access-control-allow-methods'), /POST/);

    const res = await call('records/query', await signIn('alice'), { query: { recordType: 'T' } }, { headers: { Origin: origin } });
    assert.equal(res.headers.get('access-control-allow-origin'), origin);
    assert.ok(res.headers.get('access-control-expose-headers').split(/,\s*/).includes(WEB_AUTH_TOKEN_HEADER));
    const refused = await call('records/query', null, { query: { recordType: 'T' } }, { headers: { Origin: origin } });
    assert.equal(refused.headers.get('access-control-allow-origin'), origin, 'errors are readable by the page too');
  });

  it('snapshots and restores the records (the demo keeps them across runs)', async () => {
    const alice = await session('alice');
    await alice.call('records/modify', { operations: [keyRecord('kept', 'x')] });
    const snapshot = JSON.parse(JSON.stringify(icloud.snapshot()));
    const other = await startICloud();
    try {
      other.restore(snapshot);
      assert.deepEqual(other.records('alice'), icloud.records('alice'));
    } finally {
      await other.close();
    }
  });
});
