// The network in front of the real Worker (Cloudflare's edge, locally): a
// reverse proxy that passes every request and answer through unchanged, with
// the same `/__control/` API as the stand-ins so tests can drop a request,
// delay it past the module's timeout, or answer it the way the Worker does
// when it fails (docs/SERVER-API.md). The Worker itself still runs for real
// in workerd; only the wire between it and its callers is faulty on demand.
import http from 'node:http';
import { startStandin } from './common.mjs';
import { latencyModel, withLatency } from './latency.mjs';

// The Worker's documented error answers for the statuses a test may inject:
// `{"error": {"code", "message"}}`, with Retry-After where it says to retry.
const WORKER_ERRORS = Object.freeze({
  401: ['UNAUTHENTICATED', 'missing or rejected bearer token'],
  403: ['ORIGIN_NOT_ALLOWED', 'origin not allowed'],
  404: ['NOT_FOUND', 'no backup stored for this method'],
  429: ['RATE_LIMITED', 'too many requests; retry after Retry-After seconds'],
  500: ['INTERNAL', 'internal error'],
  503: ['STORAGE_UNAVAILABLE', 'storage is unavailable; try again'],
});

export function workerErrorBody(status) {
  const [code, message] = WORKER_ERRORS[status];
  return { error: { code, message } };
}

function workerErrorHeaders(status) {
  const headers = { 'Cache-Control': 'no-store' };
  if (status === 429 || status === 503) headers['Retry-After'] = '1';
  return headers;
}

/**
 * Starts the edge.
 * @param {object} o
 * @param {string} o.upstream  the Worker's own address, e.g. http://127.0.0.1:41234
 * @param {number} [o.port=0]
 * @param {string} [o.host]
 * @param {string|object} [o.latency] 'none', 'realistic' or a profile
 *        (tests/standins/latency.mjs): the round trip to the Worker, added
 *        to every request before it is passed on, preflights included;
 *        default LATENCY_PROFILE, else none.
 * @param {number} [o.latencySeed] seeds the jitter (else LATENCY_SEED)
 */
export async function startEdge({ upstream, port = 0, host, latency, latencySeed }) {
  const delays = latencyModel('worker', { latency, seed: latencySeed });
  const target = new URL(upstream);
  // A new connection to the Worker per request: a pooled one the Worker is
  // closing that instant would look like a dropped request nobody injected.
  const agent = new http.Agent({ keepAlive: false });

  // Resolves once the Worker's whole answer is in: `heal` waits for that,
  // even when the caller gave up long before.
  function handle(req, res) {
    return new Promise((resolve) => {
      const forwarded = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
        (answer) => {
          const chunks = [];
          answer.on('data', (chunk) => chunks.push(chunk));
          answer.on('end', () => {
            // The Worker's own CORS headers only: it decides which origins may read.
            for (const name of res.getHeaderNames()) res.removeHeader(name);
            res.writeHead(answer.statusCode, answer.headers);
            res.end(Buffer.concat(chunks));
            resolve();
          });
          answer.on('error', () => {
            req.socket.destroy();
            resolve();
          });
        },
      );
      forwarded.on('error', () => {
        // The Worker is not there: to its caller, a connection that died.
        req.socket.destroy();
        resolve();
      });
      req.pipe(forwarded);
    });
  }

  const standin = await startStandin({
    name: 'edge',
    port,
    host,
    handle: withLatency(handle, delays),
    errorBody: workerErrorBody,
    errorHeaders: workerErrorHeaders,
    failableStatuses: Object.keys(WORKER_ERRORS).map(Number),
    answersPreflight: false,
    reset: () => {},
  });
  const close = standin.close;
  return {
    ...standin,
    /** The latency model (its profile name and recent draws), or null without one. */
    latency: delays,
    close() {
      agent.destroy();
      return close();
    },
  };
}
