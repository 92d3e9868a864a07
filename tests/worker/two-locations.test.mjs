// The Worker at two Cloudflare locations, A and B, over one model of Workers
// KV (tests/worker/kv-model.mjs: per-location get() caches, negative answers
// included; 1 write/s/key; list() a minute behind) and one Durable Object
// namespace. Each scenario is what the browser or Portal does, through the
// unchanged HTTP API, and what it must then read at either location.
//
// Run against another bundle (say the build before the storage redesign):
//   WORKER_SCRIPT=/tmp/old-worker-build/index.js node --test tests/worker/two-locations.test.mjs
// (with that build's wrangler.toml beside its index.js). The last line
// printed is the run's summary.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  backupSharePairId, clientApi, control, envelopeText, fetchShares, postBackup, shareText, useStack,
} from './harness.mjs';
import { DEFAULT_CACHE_TTL_S } from './kv-model.mjs';

const METHODS = ['GDRIVE', 'PASSWORD', 'PASSKEY'];
const CURVES = ['SECP256K1', 'ED25519'];
const CURVE_METHODS = METHODS.flatMap((m) => CURVES.map((c) => `${m}-${c}`));
// The object deletes replaced blobs from its alarm at least 1 s after they
// stop being named; this leaves it time to run.
const ALARM_WAIT_MS = 2_500;
// Between a backup made in an earlier session and what follows it: over
// KV's 1 write/s/key, so what a scenario shows is not that limit (the
// within-a-second cases have their own scenarios).
const EARLIER_SESSION_MS = 1_100;

/**
 * What the API must answer for one client, kept from the requests that
 * succeeded (a refused request changes nothing): current and previous per
 * method, as the versions scheme says (a PUT makes the new one current; a
 * confirmed current becomes previous, an unconfirmed one is dropped).
 */
class Expected {
  methods = new Map();
  custodian = new Map(); // backupMethod -> the share last delivered

  stored(method, backupId, cipherText, portalNotified) {
    const old = this.methods.get(method);
    const previous = !old ? null : old.current.confirmed ? old.current : old.previous;
    this.methods.set(method, { current: { backupId, cipherText, confirmed: false, portalNotified }, previous });
  }

  confirmed(method) {
    const m = this.methods.get(method);
    m.current = { ...m.current, confirmed: true };
    m.previous = null;
  }

  notified(method) {
    const m = this.methods.get(method);
    m.current = { ...m.current, portalNotified: true };
  }
}

/** The parts of a GET answer that must match: who, which ciphertext, what state. */
const versionView = (v) => (v === null ? null : { backupId: v.backupId, cipherText: v.cipherText, confirmed: v.confirmed, portalNotified: v.portalNotified });
const listView = (backups) => Object.fromEntries(
  backups.map((b) => [b.backupMethod, { backupId: b.backupId, confirmed: b.confirmed, portalNotified: b.portalNotified }]),
);

describe('two locations over Cloudflare-like KV', () => {
  // Many writes by one client: limits are tests/worker/limits.test.mjs's.
  const { portal, locations } = useStack({ portal: true, locations: { rateLimits: { CLIENT_WRITES: 100_000 } } });
  const tally = { scenarios: 0, wrong: 0 };
  const wallets = [];

  after(() => {
    const { a, b, model } = locations;
    const { total } = model.statistics();
    // The figures docs/RELIABILITY.md quotes.
    console.log(
      `two-locations summary: scenarios ${tally.scenarios}, requests ${a.requests + b.requests}, `
      + `KV writes ${total.writes}, writesRefused ${total.writesRefused}, staleServed ${total.staleServed} (model), `
      + `503s ${a.unavailable + b.unavailable}, wrong answers ${tally.wrong}`,
    );
  });

  /**
   * A scenario is a test whose failed checks are all counted (`wrong
   * answers`) and reported together; `check.must` stops it (nothing after
   * it could run). Unless `unavailable` says a 503 may happen, none may.
   */
  function scenario(name, fn, { unavailable = false } = {}) {
    test(name, async () => {
      tally.scenarios++;
      const { a, b } = locations;
      const failures = [];
      // A wrong answer is counted and kept; `must` also stops the scenario.
      const compare = (actual, expected, what, stop) => {
        try {
          assert.deepStrictEqual(actual, expected, what);
        } catch (error) {
          tally.wrong++;
          failures.push(error);
          if (stop) throw report(failures);
        }
      };
      const check = {
        equal: (actual, expected, what) => compare(actual, expected, what, false),
        must: (actual, expected, what) => compare(actual, expected, what, true),
        unavailable,
      };
      const unavailableBefore = a.unavailable + b.unavailable;
      await fn(check);
      // Each 503 already failed its own check (and counted): this names the rule.
      const unavailableNow = a.unavailable + b.unavailable - unavailableBefore;
      if (!unavailable && unavailableNow) failures.push(new Error(`${unavailableNow} answers 503 where none may be`));
      if (failures.length) throw report(failures);
    });
  }

  /** Every failed check of a scenario in one error. */
  const report = (failures) => new Error(`${failures.length} failed:\n${failures.map((f) => f.message.replace(/\n+/g, ' ')).join('\n')}`);

  let clients = 0;
  /** A client Portal knows, seen from both locations. */
  async function wallet(label) {
    const clientId = `client-${label}-${++clients}`;
    const token = `test-token-${clientId}`;
    await control(portal, 'clients', { token, clientId });
    const w = {
      clientId,
      at: { a: clientApi(locations.a, { token }), b: clientApi(locations.b, { token }) },
      expected: new Expected(),
      pairs: (method) => CURVES.map((curve) => backupSharePairId(clientId, curve, method)),
    };
    wallets.push(w);
    return w;
  }

  /** PUT with notifyPortal: false, as the browser sends it; null if refused. */
  async function put(check, w, at, method, cipherText = envelopeText()) {
    const stored = await w.at[at].put(method, cipherText, w.pairs(method), { notifyPortal: false });
    check.equal(stored.status, 201, `PUT ${method} at ${at}: ${stored.text}`);
    if (stored.status !== 201) return null;
    w.expected.stored(method, stored.body.backup.backupId, cipherText, stored.body.backup.portalNotified);
    return stored.body.backup.backupId;
  }

  /** The browser's whole backup: PUT, confirm, notify, one right after the other. */
  async function fullCycle(check, w, at, method) {
    const backupId = await put(check, w, at, method);
    if (backupId === null) return null;
    const confirmed = await w.at[at].confirm(method, backupId);
    check.equal(confirmed.status, 200, `confirm ${method} at ${at}: ${confirmed.text}`);
    if (confirmed.status === 200) w.expected.confirmed(method);
    const notified = await w.at[at].notify(method);
    check.equal([notified.status, notified.body?.backup?.portalNotified], [200, true], `notify ${method} at ${at}: ${notified.text}`);
    if (notified.status === 200) w.expected.notified(method);
    return backupId;
  }

  /** A 503 where the scenario allows one must say when to retry. */
  function allowedUnavailable(check, answer, what) {
    if (!check.unavailable || answer.status !== 503) return false;
    check.equal(Number(answer.headers.get('Retry-After')) > 0, true, `${what}: 503 without Retry-After`);
    return true;
  }

  async function expectGet(check, w, at, method) {
    const got = await w.at[at].get(method);
    const what = `GET ${method} at ${at}`;
    if (allowedUnavailable(check, got, what)) return;
    const want = w.expected.methods.get(method);
    if (!want) return check.equal(got.status, 404, `${what}: ${got.text}`);
    check.equal(got.status, 200, `${what}: ${got.text}`);
    if (got.status !== 200) return;
    check.equal(
      { current: versionView(got.body.current), previous: versionView(got.body.previous) },
      { current: want.current, previous: want.previous },
      what,
    );
  }

  async function expectList(check, w, at) {
    const listed = await w.at[at].list();
    const what = `list at ${at}`;
    if (allowedUnavailable(check, listed, what)) return;
    check.equal(listed.status, 200, `${what}: ${listed.text}`);
    const want = Object.fromEntries([...w.expected.methods].map(([m, { current }]) => [m, {
      backupId: current.backupId, confirmed: current.confirmed, portalNotified: current.portalNotified,
    }]));
    check.equal(listView(listed.body?.backups ?? []), want, what);
  }

  /** Portal's delivery of one custodian share (counter: which one). */
  async function deliver(check, w, at, backupMethod, counter) {
    const share = shareText(w.clientId, backupMethod, counter);
    const delivered = await postBackup(locations[at], { backupMethod, clientId: w.clientId, share });
    check.equal(delivered.status, 200, `delivery ${backupMethod} #${counter} at ${at}`);
    if (delivered.status === 200) w.expected.custodian.set(backupMethod, share);
    return share;
  }

  async function expectShares(check, w, at) {
    const fetched = await fetchShares(locations[at], w.clientId);
    if (allowedUnavailable(check, fetched, `fetch at ${at}`)) return;
    check.equal(fetched.status, 200, `fetch at ${at}`);
    check.equal([...(fetched.body.backupShares ?? [])].sort(), [...w.expected.custodian.values()].sort(), `fetch at ${at}: the latest share of every method`);
  }

  async function expectCustodianList(check, w, at) {
    const listed = await w.at[at].custodianList();
    if (allowedUnavailable(check, listed, `custodian list at ${at}`)) return;
    check.equal(listed.status, 200, `custodian list at ${at}`);
    check.equal((listed.body?.backups ?? []).map((b) => b.backupMethod).sort(), [...w.expected.custodian.keys()].sort(), `custodian list at ${at}`);
  }

  scenario('every client method: PUT, confirm, notify one right after the other', async (check) => {
    const w = await wallet('cycle');
    for (const method of METHODS) await fullCycle(check, w, 'a', method);
    for (const at of ['a', 'b']) {
      for (const method of METHODS) await expectGet(check, w, at, method);
      await expectList(check, w, at);
    }
  });

  scenario('two backups of one method within a second, both whole: the second is current', async (check) => {
    for (const second of ['a', 'b']) {
      const w = await wallet(`twice-${second}`);
      const started = Date.now();
      await fullCycle(check, w, 'a', 'GDRIVE');
      await fullCycle(check, w, second, 'GDRIVE');
      // Else this machine is too slow for the scenario to mean anything.
      assert.ok(Date.now() - started < 1_000, `both cycles took ${Date.now() - started} ms`);
      for (const at of ['a', 'b']) await expectGet(check, w, at, 'GDRIVE');
      await expectList(check, w, 'b');
    }
  });

  for (const [variant, readFirst] of [
    ['B had read nothing', async () => {}],
    ['B had read a 404', async (check, w) => {
      await expectGet(check, w, 'b', 'GDRIVE');
      await expectList(check, w, 'b');
      await expectCustodianList(check, w, 'b');
    }],
    ['B had read the previous backup', async (check, w) => {
      await fullCycle(check, w, 'a', 'GDRIVE');
      await sleep(EARLIER_SESSION_MS);
      await expectGet(check, w, 'b', 'GDRIVE');
      await expectList(check, w, 'b');
      await expectCustodianList(check, w, 'b');
    }],
  ]) {
    scenario(`a backup at A is current at B at once (${variant})`, async (check) => {
      const w = await wallet('a-then-b');
      await readFirst(check, w);
      await fullCycle(check, w, 'a', 'GDRIVE');
      // Portal's deliveries for the pairs the notify reported.
      for (const curve of CURVES) await deliver(check, w, 'a', `GDRIVE-${curve}`, 1);
      await expectGet(check, w, 'b', 'GDRIVE');
      await expectList(check, w, 'b');
      await expectCustodianList(check, w, 'b');
    });
  }

  scenario('a backup that fails half-way at A: B still has the last confirmed one as previous', async (check) => {
    const w = await wallet('half-way');
    await fullCycle(check, w, 'a', 'PASSWORD');
    await sleep(EARLIER_SESSION_MS);
    await expectGet(check, w, 'b', 'PASSWORD');
    await expectList(check, w, 'b');
    // The second backup is stored, then the browser goes away: no confirm.
    await put(check, w, 'a', 'PASSWORD');
    for (const at of ['b', 'a']) {
      await expectGet(check, w, at, 'PASSWORD');
      await expectList(check, w, at);
    }
    // The browser recovers from `previous`: it must be the confirmed one.
    check.equal(w.expected.methods.get('PASSWORD').previous?.confirmed, true, 'the test kept a confirmed previous');
  });

  scenario("Portal's per-curve deliveries at A, its fetches at B at once", async (check) => {
    const w = await wallet('custodian');
    // Each delivery is checked by a fetch right after its 200, as Portal does.
    await Promise.all(CURVE_METHODS.map(async (backupMethod) => {
      const share = await deliver(check, w, 'a', backupMethod, 1);
      const fetched = await fetchShares(locations.b, w.clientId);
      check.equal([fetched.status, fetched.body.backupShares?.includes(share)], [200, true], `${backupMethod} in B's fetch after its 200`);
    }));
    for (const at of ['a', 'b']) await expectShares(check, w, at);
    await expectCustodianList(check, w, 'b');
    // Redeliveries within a second of the first: at A, then at B.
    await deliver(check, w, 'a', 'GDRIVE-SECP256K1', 2);
    for (const at of ['b', 'a']) await expectShares(check, w, at);
    await deliver(check, w, 'b', 'PASSWORD-ED25519', 2);
    for (const at of ['a', 'b']) await expectShares(check, w, at);
  });

  scenario('a delete at A is seen at B at once, even where B had read it', async (check) => {
    const w = await wallet('delete');
    await fullCycle(check, w, 'a', 'PASSKEY');
    await sleep(EARLIER_SESSION_MS);
    await expectGet(check, w, 'b', 'PASSKEY');
    await expectList(check, w, 'b');
    const removed = await w.at.a.remove('PASSKEY');
    check.equal(removed.status, 204, `DELETE at a: ${removed.text}`);
    if (removed.status === 204) w.expected.methods.delete('PASSKEY');
    for (const at of ['b', 'a']) {
      await expectGet(check, w, at, 'PASSKEY');
      await expectList(check, w, at);
    }
    // And a backup made again after it.
    await fullCycle(check, w, 'a', 'PASSKEY');
    await expectGet(check, w, 'b', 'PASSKEY');
  });

  scenario('read-your-writes off and writes late elsewhere: never a wrong or older answer', async (check) => {
    const { model } = locations;
    const propagationDelayMs = 1_500;
    model.configure({ readYourWrites: false, propagationDelayMs });
    try {
      const w = await wallet('late');
      await fullCycle(check, w, 'a', 'GDRIVE');
      for (const at of ['a', 'b']) await expectGet(check, w, at, 'GDRIVE');
      await fullCycle(check, w, 'a', 'GDRIVE');
      for (const at of ['b', 'a']) {
        await expectGet(check, w, at, 'GDRIVE');
        await expectList(check, w, at);
      }
      // Half-way at B, after the reads above.
      await put(check, w, 'b', 'GDRIVE');
      for (const at of ['a', 'b']) await expectGet(check, w, at, 'GDRIVE');
      await Promise.all(CURVES.map((curve) => deliver(check, w, 'a', `GDRIVE-${curve}`, 1)));
      for (const at of ['b', 'a']) await expectShares(check, w, at);
      await deliver(check, w, 'b', 'GDRIVE-ED25519', 2);
      for (const at of ['a', 'b']) await expectShares(check, w, at);
      // A 503 lasts only while KV is behind: once writes have propagated and
      // the "not found" answers cached meanwhile ran out, both serve.
      model.advance(propagationDelayMs + DEFAULT_CACHE_TTL_S * 1000);
      check.unavailable = false;
      for (const at of ['a', 'b']) {
        await expectGet(check, w, at, 'GDRIVE');
        await expectShares(check, w, at);
      }
      check.unavailable = true;
      const removed = await w.at.b.remove('GDRIVE');
      check.equal(removed.status, 204, `DELETE at b: ${removed.text}`);
      if (removed.status === 204) w.expected.methods.delete('GDRIVE');
      for (const at of ['a', 'b']) await expectGet(check, w, at, 'GDRIVE');
    } finally {
      model.configure({ readYourWrites: true, propagationDelayMs: 0 });
    }
  }, { unavailable: true });

  scenario('after every scenario: no KV write refused, every blob named, no leftovers', async (check) => {
    await sleep(ALARM_WAIT_MS);
    const { model } = locations;
    check.equal(model.statistics().total.writesRefused, 0, 'KV writes refused (1 write/s/key)');
    const named = new Set();
    const custodianLeft = new Map();
    for (const w of wallets) {
      for (const [method, { current, previous }] of w.expected.methods) {
        for (const v of [current, previous]) if (v) named.add(`envelope/${w.clientId}/${method}/${v.backupId}`);
      }
      for (const backupMethod of w.expected.custodian.keys()) custodianLeft.set(`custodian/${w.clientId}/${backupMethod}/`, 1);
    }
    const kv = model.dump();
    const leftovers = [];
    for (const key of Object.keys(kv)) {
      const custodianPrefix = key.startsWith('custodian/') ? key.slice(0, key.lastIndexOf('/') + 1) : null;
      if (named.has(key)) named.delete(key);
      else if (custodianPrefix && custodianLeft.get(custodianPrefix) === 1) custodianLeft.set(custodianPrefix, 0);
      else leftovers.push(key);
    }
    check.equal(leftovers, [], 'KV keys nothing names');
    check.equal([...named], [], 'named client envelopes missing from KV');
    check.equal([...custodianLeft].filter(([, n]) => n).map(([p]) => p), [], 'custodian methods without their share in KV');
  });
});
