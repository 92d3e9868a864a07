// Latency profiles for the stand-ins and the edge in front of the Worker:
// how long Google Drive, iCloud (CloudKit Web Services), Portal's API and
// the Worker take to answer, as a user's browser would wait for them. One
// file holds every number and where it comes from, so a reader can check
// them.
//
//   LATENCY_PROFILE=none        (default) answer at once, as before
//   LATENCY_PROFILE=realistic   the published latencies below, with jitter
//
// startDrive / startICloud / startPortal / startEdge read the profile when
// started: their `latency` option ('none', 'realistic' or a profile object
// of the same shape), else the LATENCY_PROFILE environment variable, so the
// demo stack and the benches get it without other changes. LATENCY_SEED (or the
// `latencySeed` option) seeds the jitter; each service draws from its own
// sequence.
//
// Where the delay sits: a request's body is read, then the stand-in waits the
// drawn time, then the service handles it and answers at once. So a write
// takes effect at the end of its wait, just before its answer, as on a
// server whose time is its own processing (Drive's figures below are 10 to
// 30 ms of network and the rest Drive's work). An injected failure (`fail`,
// `drop`, `down`, tests/standins/common.mjs) is decided before the service's
// handler and answers without the profile's delay; `delay` and `slow` add to it.
// The iCloud stand-in's own `fail` (tests/standins/icloud.mjs) is served
// inside its handler, after the request is authenticated, so it waits its
// draw first, as an error CloudKit decides after its own work would.
//
// The Worker's 50 ms: added in front of it, by the edge (tests/standins/edge.mjs),
// not by Chromium's network emulation. CDP's `Network.emulateNetworkConditions`
// applies to every request of the page, the Drive and Portal stand-ins too,
// whose figures already hold their network time, and its `latency` is a floor
// from request sent to response headers rather than a round trip added to
// the Worker's own time; the newer `emulateNetworkConditionsByRule` can name
// the Worker's URL but keeps the floor semantics. The edge adds one round
// trip to every request that reaches the Worker (CORS preflights included),
// on the same clock and with the same jitter model as the stand-ins, for any
// caller (the bench, the browser tests behind tests/support/services.mjs).
// The demo (`wrangler dev`, scripts/lib/stack.mjs) has no edge: there only
// Drive and Portal are delayed.
//
// Not modelled: connection set-up (TCP and TLS, one or two more round trips
// to each origin on a session's first request), the hop from the Worker to
// its Durable Object and KV on Cloudflare, Portal's webhook calls to the
// Worker (Portal → Worker, not on the user's path; they go out at once).
import { readBody, replay, sendEmpty } from './common.mjs';

// Jitter: the Drive figures are single numbers (Xray-core's measurements do
// not give their spread). The one small-request series with a spread,
// google-apps-clj #15's direct uploads (10 runs of a 1 KB file: 625, 625,
// 669, 689, 691, 745, 834, 908, 1027, 1616 ms; median 718), runs from
// 13% below its median to 26% above without its one outlier. Each figure
// without a range of its own gets that shape, rounded: half the draws
// uniform in [0.85 m, m], half uniform in [m, 1.3 m], so the median is the
// published figure and the tail is longer above than below, as latencies are.
const SKEW = Object.freeze({ below: 0.15, above: 0.3 });
const around = (ms) => ({ ms, min: Math.round(ms * (1 - SKEW.below)), max: Math.round(ms * (1 + SKEW.above)) });

const XRAY = 'Xray-core PR #6748 (github.com/XTLS/Xray-core/pull/6748, 2026-09-11): measured from a server in the Netherlands against a real Drive account; 10-30 ms of it is network';
const CLJ = 'google-apps-clj #15 (github.com/SparkFund/google-apps-clj/issues/15): direct (non-resumable) upload of a 1 KB file, 10 runs 625-1616 ms, median 718 ms; ../shared/PORTAL.md: "small multipart uploads elsewhere: 0.6 to 1.0 s"';

// iCloud (CloudKit Web Services). No published measurement of CloudKit Web
// Services' per-request latency was found (searched: CloudKit Web Services,
// CloudKit JS and api.apple-cloudkit.com latency or response times, in web
// pages, documentation and GitHub issues). The one timing found is not a
// Web Services figure: EVCloudKitDao #11 (github.com/evermeer/EVCloudKitDao/issues/11,
// 2015-06-07) logged a BEGINSWITH query on a public database through the
// native CloudKit framework answering "somewhere between 0.7 and 1.2
// seconds" after the operation was queued: the framework's own scheduling,
// another database, another decade. So the figures below are chosen by
// analogy with Drive's, operation for operation: both are a JSON API on
// the vendor's own front end, and a key record is a dictionary of two short
// string fields, as small as a Drive file's metadata. If anything they are
// low: that one native query took three to five times files.list's 260 ms.
const ICLOUD_ANALOGY = 'no measured CloudKit Web Services figure was found (EVCloudKitDao #11, github.com/evermeer/EVCloudKitDao/issues/11: a native-framework public-database query, 0.7-1.2 s including the framework\'s queue, is the only timing found and not this API); chosen by analogy with Drive';
const deletesOnly = (body) => Array.isArray(body?.operations) && body.operations.length > 0
  && body.operations.every((op) => op?.operationType === 'delete' || op?.operationType === 'forceDelete');

export const PROFILES = Object.freeze({
  none: null,
  realistic: Object.freeze({
    name: 'realistic',
    drive: Object.freeze({
      // Google's front end answers CORS preflights; Drive's backend never sees them.
      preflight: { op: 'CORS preflight', ...around(30), source: `${XRAY} (the network round trip to Google, upper end; Google's front end answers a preflight without Drive's own work)` },
      routes: [
        { op: 'upload: create with content (multipart or media)', method: 'POST', path: /^\/upload\/drive\/v3\/files$/, ms: 720, min: 600, max: 1000, source: CLJ },
        { op: 'upload: update content (PATCH)', method: 'PATCH', path: /^\/upload\/drive\/v3\/files\/[^/]+$/, ms: 720, min: 600, max: 1000, source: `${CLJ} (taken as the same for an update of the content)` },
        { op: 'files.create (metadata only)', method: 'POST', path: /^\/drive\/v3\/files$/, ...around(690), source: `${XRAY}: "create a file with description: 686 ms"` },
        { op: 'files.update (PATCH metadata)', method: 'PATCH', path: /^\/drive\/v3\/files\/[^/]+$/, ...around(540), source: `${XRAY}: "patch the description of an existing file: 541 ms"` },
        { op: 'files.get (metadata or alt=media)', method: 'GET', path: /^\/drive\/v3\/files\/[^/]+$/, ...around(230), source: `${XRAY}: "files.get by a known id: 229 ms"` },
        { op: 'files.list', method: 'GET', path: /^\/drive\/v3\/files$/, ...around(260), source: `${XRAY}: "files.list by prefix: 260 ms"` },
        { op: 'files.delete', method: 'DELETE', path: /^\/drive\/v3\/files\/[^/]+$/, ...around(500), source: 'glotlabs/gdrive #14 (github.com/glotlabs/gdrive/issues/14): "It takes around 0.5 seconds to delete a file" with the gdrive CLI (its own start-up included, so if anything high); no published API-only figure was found. 500 ms sits beside the other write that changes an existing file, the 541 ms patch' },
      ],
      other: { op: 'anything else', ...around(230), source: 'the files.get figure, for requests no route above names (errors, unknown paths)' },
    }),
    icloud: Object.freeze({
      // api.apple-cloudkit.com answers CORS preflights at Apple's front end, as Google's does for Drive.
      preflight: { op: 'CORS preflight', ...around(30), source: `${ICLOUD_ANALOGY}'s preflight: one network round trip to the vendor's front end, no database work (${XRAY}, upper end)` },
      routes: [
        // The body decides: a modify whose every operation is a delete is drawn as a delete.
        { op: 'records/modify, deletes only', method: 'POST', path: /\/records\/modify$/, body: deletesOnly, ...around(500), source: `${ICLOUD_ANALOGY}'s files.delete (500 ms, glotlabs/gdrive #14)` },
        { op: 'records/modify (create, update, replace)', method: 'POST', path: /\/records\/modify$/, ...around(690), source: `${ICLOUD_ANALOGY}'s files.create of a file with metadata only (${XRAY}: "create a file with description: 686 ms"): a new record of two string fields` },
        { op: 'records/query', method: 'POST', path: /\/records\/query$/, ...around(260), source: `${ICLOUD_ANALOGY}'s files.list (${XRAY}: "files.list by prefix: 260 ms"): records found by an indexed field, answered with their fields` },
        { op: 'records/lookup', method: 'POST', path: /\/records\/lookup$/, ...around(230), source: `${ICLOUD_ANALOGY}'s files.get (${XRAY}: "files.get by a known id: 229 ms"): records by name` },
        { op: 'users/current', method: 'GET', path: /\/users\/current$/, ...around(230), source: `${ICLOUD_ANALOGY}'s files.get (${XRAY}: 229 ms): one small read` },
      ],
      other: { op: 'anything else (the sign-in page, errors)', ...around(230), source: `${ICLOUD_ANALOGY}'s files.get figure, for requests no route above names` },
    }),
    portal: Object.freeze({
      preflight: { op: 'CORS preflight', ...around(150), source: 'as any request to Portal: nothing says where its preflights are answered' },
      routes: [],
      other: { op: 'any request (the page\'s and the Worker\'s: token check, PATCH)', ...around(150), source: 'issue 17: "Portal\'s API: 150 ms" (95% of users are within 50 ms of a Cloudflare location, ../shared/PORTAL.md; Portal\'s API is one more hop); no published figure' },
    }),
    worker: Object.freeze({
      preflight: { op: 'CORS preflight (answered by the Worker)', ...around(50), source: 'one round trip, as any request to the Worker' },
      routes: [],
      other: { op: 'any request: one round trip to the nearest Cloudflare location, on top of the Worker\'s own time', ...around(50), source: 'Cloudflare: 95% of users within 50 ms of a location (../shared/PORTAL.md); issue 17: "the Worker: 50 ms RTT"' },
    }),
  }),
});

export const SERVICES = Object.freeze(['drive', 'icloud', 'portal', 'worker']);

/** A profile by name or as an object; `none` and unset give null. */
export function resolveProfile(latency = process.env.LATENCY_PROFILE) {
  if (latency === undefined || latency === null || latency === '' || latency === 'none') return null;
  if (typeof latency === 'object') return latency;
  if (!Object.hasOwn(PROFILES, latency)) {
    throw new Error(`unknown latency profile "${latency}" (LATENCY_PROFILE): one of ${Object.keys(PROFILES).join(', ')}`);
  }
  return PROFILES[latency];
}

/** mulberry32: a small seeded generator, so a run's jitter can be repeated. */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One draw for `entry` ({ms, min, max}): half uniform in [min, ms], half in [ms, max]. */
export function draw(entry, random) {
  const u = random();
  const v = random();
  return u < 0.5 ? entry.min + (entry.ms - entry.min) * v : entry.ms + (entry.max - entry.ms) * v;
}

/**
 * The profile's entry for a request to `service`. A route with a `body`
 * predicate matches only when it holds for the request's JSON body
 * (`body`: a Buffer, parsed only if such a route is reached; not JSON:
 * undefined).
 */
export function entryFor(serviceProfile, method, path, body) {
  if (method === 'OPTIONS') return serviceProfile.preflight;
  let parsed;
  const json = () => {
    if (parsed === undefined) {
      try {
        parsed = { value: body?.length ? JSON.parse(body.toString('utf8')) : undefined };
      } catch {
        parsed = { value: undefined };
      }
    }
    return parsed.value;
  };
  return serviceProfile.routes.find((r) => r.method === method && r.path.test(path) && (!r.body || r.body(json()))) ?? serviceProfile.other;
}

const SERVICE_SEEDS = { drive: 0x0d41fe, icloud: 0x1c10d, portal: 0x9047a1, worker: 0x3d9e };

/**
 * The latency of one service, or null for `none`. `draws` keeps the last
 * 1000 draws ({method, path, op, ms}) for tests and benches.
 */
export function latencyModel(service, { latency, seed } = {}) {
  const profile = resolveProfile(latency);
  if (!profile) return null;
  const serviceProfile = profile[service];
  if (!serviceProfile) throw new Error(`latency profile "${profile.name}" has no entry for ${service}`);
  const base = Number(seed ?? process.env.LATENCY_SEED ?? 1);
  if (!Number.isFinite(base)) throw new Error('LATENCY_SEED must be a number');
  const random = seededRandom(base ^ SERVICE_SEEDS[service]);
  const draws = [];
  return {
    profile: profile.name,
    service,
    draws,
    next(method, path, body) {
      const entry = entryFor(serviceProfile, method, path, body);
      const ms = draw(entry, random);
      draws.push({ method, path, op: entry.op, ms });
      if (draws.length > 1000) draws.shift();
      return ms;
    },
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Wraps a stand-in's handler: reads the body, waits the drawn latency, then
 * handles. With `answerPreflights`, a CORS preflight (which the stand-in
 * then passes here instead of answering it itself: startStandin's
 * `answersPreflight: false`) gets its wait and the same empty 204
 * common.mjs answers. With no model, `handle` unchanged.
 */
export function withLatency(handle, model, { answerPreflights = false } = {}) {
  if (!model) return handle;
  return async (req, res, url) => {
    // The body first: an entry may depend on it (iCloud's modify, deletes only).
    const body = await readBody(req);
    const ms = model.next(req.method, url?.pathname ?? new URL(req.url, 'http://standin.invalid').pathname, body);
    await sleep(ms);
    if (req.method === 'OPTIONS' && answerPreflights) return sendEmpty(res, 204);
    return handle(replay(req, body), res, url);
  };
}

/** Every entry of a profile, flattened, for reports: [{service, op, method?, ms, min, max, source}]. */
export function describeProfile(latency) {
  const profile = resolveProfile(latency);
  if (!profile) return [];
  return SERVICES.flatMap((service) => {
    const p = profile[service];
    if (!p) return [];
    return [...p.routes, p.other, p.preflight].map((e) => ({ service, op: e.op, method: e.method ?? (e === p.preflight ? 'OPTIONS' : '*'), ms: e.ms, min: e.min, max: e.max, source: e.source }));
  });
}
