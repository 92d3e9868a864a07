// Shared machinery of the local stand-ins for Portal and Google Drive:
// JSON helpers, CORS, a request log, and the `/__control/` API tests use
// to inject failures, latency and outages. Node 20, node:http only.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

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
 * @param {() => void} o.reset     forget the service's state
 */
export async function startStandin({ name, port = 0, host = '127.0.0.1', handle, control = {}, errorBody, reset }) {
  const state = { failures: [], slowMs: 0, down: false, log: [] };

  const commonControl = {
    'POST /__control/fail': async (req, res) => {
      const body = (await readJson(req)) ?? {};
      const count = Number.isInteger(body.count) ? body.count : 1;
      if (count < 1 || !FAILABLE_STATUSES.has(body.status)) {
        return sendJson(res, 400, { error: { code: 400, message: `fail needs count >= 1 and status in ${[...FAILABLE_STATUSES]}` } });
      }
      state.failures.push({ remaining: count, status: body.status, reason: body.reason, path: body.path });
      sendJson(res, 200, { failures: state.failures });
    },
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
    'POST /__control/reset': async (_req, res) => {
      state.failures = [];
      state.slowMs = 0;
      state.down = false;
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

  function takeFailure(url) {
    const i = state.failures.findIndex((f) => !f.path || url.pathname.includes(f.path));
    if (i < 0) return null;
    const failure = state.failures[i];
    if (--failure.remaining === 0) state.failures.splice(i, 1);
    return failure;
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

    const entry = { method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), status: null, start: now(), end: null };
    state.log.push(entry);

    if (state.down) {
      // Looks like a network failure to fetch: no status line at all.
      entry.end = now();
      req.socket.destroy();
      return;
    }
    res.on('finish', () => {
      entry.status = res.statusCode;
      entry.end = now();
    });
    if (state.slowMs > 0) await sleep(state.slowMs);
    if (req.method === 'OPTIONS') return sendEmpty(res, 204);

    const failure = takeFailure(url);
    if (failure) {
      await readBody(req);
      return sendJson(res, failure.status, errorBody(failure.status, failure.reason, url));
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
  server.keepAliveTimeout = 1000;

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
