// Shared machinery of the local stand-ins for Portal and Google Drive (and
// the edge in front of the real Worker): JSON helpers, CORS, a request log,
// and the `/__control/` API tests use to inject failures, dropped
// connections, latency and outages. Node 20, node:http only.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';

export const CONTROL_PREFIX = '/__control/';

/** Milliseconds on a clock shared by every stand-in in this process. */
export function now() {
  return performance.timeOrigin + performance.now();
}

export function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=UTF-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendEmpty(res, status, headers = {}) {
  res.writeHead(status, headers);
  res.end();
}

export function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Parses a JSON body; answers `undefined` for an empty body, throws SyntaxError on bad JSON. */
export async function readJson(req) {
  const raw = await readBody(req);
  if (raw.length === 0) return undefined;
  return JSON.parse(raw.toString('utf8'));
}

/** A Bearer token from the Authorization header, or null. */
export function bearerToken(req) {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m ? m[1] : null;
}

function corsHeaders(req) {
  const origin = req.headers.origin;
  if (!origin) return {};
  return {
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Allow-Headers': 'Authorization, Content-Type',
    'Access-Control-Allow-Methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
    'Access-Control-Max-Age': '600',
    Vary: 'Origin',
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const FAILABLE_STATUSES = new Set([400, 401, 403, 404, 429, 500, 502, 503, 504]);

/**
 * A fault rule from `fail`, `drop` or `delay`: which requests it hits (every
 * one whose method equals `method` and whose path contains `path`, or is
 * `path` with `exact: true`, after letting `skip` of them through) and how
 * many (`count`).
 */
function faultRule(kind, body, extra) {
  const count = body.count === undefined ? 1 : body.count;
  const skip = body.skip === undefined ? 0 : body.skip;
  if (!Number.isInteger(count) || count < 1) return { error: 'count must be an integer >= 1' };
  if (!Number.isInteger(skip) || skip < 0) return { error: 'skip must be an integer >= 0' };
  for (const key of ['method', 'path']) {
    if (body[key] !== undefined && (typeof body[key] !== 'string' || !body[key])) return { error: `${key} must be a non-empty string` };
  }
  if (body.exact !== undefined && (typeof body.exact !== 'boolean' || body.path === undefined)) return { error: 'exact must be a boolean, with path' };
  return { rule: { kind, remaining: count, skip, method: body.method?.toUpperCase(), path: body.path, exact: body.exact === true, ...extra } };
}

/**
 * A request whose body was read already, replayed to the service's handler:
 * a delayed request then takes effect even if its client gave up meanwhile,
 * as on a slow server that received the whole request.
 */
export function replay(req, body) {
  return Object.assign(Readable.from(body.length ? [body] : []), {
    headers: req.headers,
    method: req.method,
    url: req.url,
    socket: req.socket,
  });
}

/**
 * Starts one stand-in.
 *
 * @param {object} o
 * @param {string} o.name          for the "listening" line and errors
 * @param {number} [o.port=0]      0 picks a free port
 * @param {string} [o.host]
 * @param {(req, res, url) => Promise<void>} o.handle   the service's own routes
 * @param {Record<string, (req, res, url) => Promise<void>>} [o.control]
 *        extra control routes, keyed "METHOD /__control/name"
 * @param {(status: number, reason?: string, url?: URL) => object} o.errorBody
 *        the service's real error body for an injected failure
 * @param {(status: number) => object} [o.errorHeaders]  headers sent with it
 * @param {Iterable<number>} [o.failableStatuses]  statuses `fail` accepts
 * @param {boolean} [o.answersPreflight=true]  false: CORS preflights go to `handle`
 * @param {() => void} o.reset     forget the service's state
 * @param {() => void} [o.onHeal]  also forget the service's own fault rules
 *        (a service that keeps rules of its own, e.g. icloud.mjs's `fail`)
 *        on `heal` and `reset`
 */
export async function startStandin({
  name,
  port = 0,
  host = '127.0.0.1',
  handle,
  control = {},
  errorBody,
  errorHeaders = () => ({}),
  failableStatuses = FAILABLE_STATUSES,
  answersPreflight = true,
  reset,
  onHeal = () => {},
}) {
  const state = { faults: [], slowMs: 0, down: false, log: [], inFlight: new Set() };
  const failable = new Set(failableStatuses);

  async function addRule(req, res, kind, extra = () => ({})) {
    const body = (await readJson(req)) ?? {};
    const fields = extra(body);
    const { rule, error } = fields.error ? fields : faultRule(kind, body, fields);
    if (error) return sendJson(res, 400, { error: { code: 400, message: `${kind}: ${error}` } });
    state.faults.push(rule);
    sendJson(res, 200, { faults: state.faults });
  }

  const commonControl = {
    'POST /__control/fail': (req, res) =>
      addRule(req, res, 'fail', (body) =>
        failable.has(body.status)
          ? { status: body.status, reason: body.reason }
          : { error: `status must be one of ${[...failable]}` }),
    'POST /__control/drop': (req, res) => addRule(req, res, 'drop'),
    'POST /__control/delay': (req, res) =>
      addRule(req, res, 'delay', (body) =>
        Number.isFinite(body.ms) && body.ms > 0 ? { ms: body.ms } : { error: 'ms must be a number > 0' }),
    'POST /__control/slow': async (req, res) => {
      const body = (await readJson(req)) ?? {};
      state.slowMs = Math.max(0, Number(body.ms) || 0);
      sendJson(res, 200, { ms: state.slowMs });
    },
    'POST /__control/down': async (req, res) => {
      const body = (await readJson(req)) ?? {};
      state.down = body.down !== false;
      sendJson(res, 200, { down: state.down });
    },
    'POST /__control/heal': async (_req, res) => {
      heal();
      // A delayed request may still be on its way to taking effect; the
      // caller looks at the service's state only once it has.
      await Promise.allSettled([...state.inFlight]);
      sendJson(res, 200, { healed: true });
    },
    'POST /__control/reset': async (_req, res) => {
      heal();
      state.log = [];
      reset();
      sendJson(res, 200, { reset: true });
    },
    'GET /__control/log': async (_req, res) => sendJson(res, 200, state.log),
    'POST /__control/log/clear': async (_req, res) => {
      state.log = [];
      sendJson(res, 200, { cleared: true });
    },
    ...control,
  };

  function heal() {
    state.faults = [];
    state.slowMs = 0;
    state.down = false;
    onHeal();
  }

  function takeFault(req, url) {
    const onPath = (f) => !f.path || (f.exact ? url.pathname === f.path : url.pathname.includes(f.path));
    const i = state.faults.findIndex((f) => (!f.method || f.method === req.method) && onPath(f));
    if (i < 0) return null;
    const fault = state.faults[i];
    if (fault.skip > 0) {
      fault.skip -= 1;
      return null;
    }
    if (--fault.remaining === 0) state.faults.splice(i, 1);
    return fault;
  }

  async function onRequest(req, res) {
    const url = new URL(req.url, 'http://standin.invalid');
    for (const [k, v] of Object.entries(corsHeaders(req))) res.setHeader(k, v);

    if (url.pathname.startsWith(CONTROL_PREFIX)) {
      if (req.method === 'OPTIONS') return sendEmpty(res, 204);
      const route = commonControl[`${req.method} ${url.pathname}`];
      if (!route) return sendJson(res, 404, { error: { code: 404, message: `no control route ${req.method} ${url.pathname}` } });
      return route(req, res, url);
    }

    const served = serve(req, res, url);
    state.inFlight.add(served);
    try {
      await served;
    } finally {
      state.inFlight.delete(served);
    }
  }

  async function serve(req, res, url) {
    const entry = { method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), status: null, start: now(), end: null };
    state.log.push(entry);
    const preflight = req.method === 'OPTIONS';
    // Preflights are never faulted by a rule: rules name the real request.
    const fault = preflight ? null : takeFault(req, url);

    if (state.down || fault?.kind === 'drop') {
      // Looks like a network failure to fetch: no status line at all.
      entry.end = now();
      req.socket.destroy();
      return;
    }
    res.on('finish', () => {
      entry.status = res.statusCode;
      entry.end = now();
    });
    const delayMs = state.slowMs + (fault?.kind === 'delay' ? fault.ms : 0);
    if (delayMs > 0) {
      const body = await readBody(req);
      await sleep(delayMs);
      req = replay(req, body);
    }
    if (preflight && answersPreflight) return sendEmpty(res, 204);

    if (fault?.kind === 'fail') {
      await readBody(req);
      return sendJson(res, fault.status, errorBody(fault.status, fault.reason, url), errorHeaders(fault.status));
    }
    return handle(req, res, url);
  }

  const server = http.createServer((req, res) => {
    onRequest(req, res).catch((err) => {
      if (res.headersSent) return res.destroy(err);
      const status = err instanceof SyntaxError ? 400 : 500;
      sendJson(res, status, errorBody(status, undefined, new URL(req.url, 'http://standin.invalid'), err.message));
    });
  });
  // Longer than the callers' idle pools (Chromium, workerd), as a real
  // service's front end keeps them: a caller never reuses a connection the
  // stand-in is closing that instant, which it would see as a dropped request.
  server.keepAliveTimeout = 65_000;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const { port: boundPort } = server.address();
  const url = `http://${host}:${boundPort}`;

  return {
    name,
    url,
    port: boundPort,
    server,
    state,
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
