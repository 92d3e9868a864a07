// Stand-in for Portal's Client API (https://api.portalhq.io/api/v3) and for
// Portal's calls to the customer's custodian-backup webhooks. Shapes follow
// portal-hq/docs "V3 endpoints" (GET /clients/me example response, PATCH
// /clients/me/backup-share-pairs) and the self-managed backup webhook guide.
import { createHash } from 'node:crypto';
import { bearerToken, readJson, sendEmpty, sendJson, startStandin } from './common.mjs';
import { latencyModel, withLatency } from './latency.mjs';

export const DEFAULT_PORTAL_PORT = 8790;

export const DEFAULT_CLIENT_TOKENS = Object.freeze({
  'test-token-alice': 'client-alice',
  'test-token-bob': 'client-bob',
});

const PAIR_STATUSES = ['STORED_CLIENT_BACKUP_SHARE_KEY', 'STORED_CLIENT_BACKUP_SHARE'];
const CURVES = ['SECP256K1', 'ED25519'];
const WEBHOOK_TIMEOUT_MS = 10_000; // Portal's documented limit before FAILED_WEBHOOK

// Portal documents its 4xx bodies only as `{}`; real answers carry a short
// message. The stand-in answers `{"error": "<message>"}`: callers must key on
// the status code, never on this text.
function portalError(status, message) {
  const defaults = {
    400: 'Bad Request',
    401: 'Unauthorized: invalid Client API Key or Client Session Token',
    403: 'Forbidden',
    404: 'Not Found',
    429: 'Too Many Requests',
    500: 'Internal Server Error',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
    504: 'Gateway Timeout',
  };
  return { error: message ?? defaults[status] ?? 'Error' };
}

/** Backup share pair ids are stable so tests and the demo can name them. */
export function backupSharePairId(clientId, curve, backupMethod = 'GDRIVE') {
  return `bsp-${clientId}-${curve.toLowerCase()}-${backupMethod.toLowerCase()}`;
}

function newClient(clientId, createdAt) {
  const digest = createHash('sha256').update(clientId).digest('hex');
  return {
    createdAt,
    custodian: { id: 'custodian-demo', name: 'Demo Custodian' },
    ejectedAt: null,
    environment: { id: 'environment-demo', name: 'Development' },
    id: clientId,
    isAccountAbstracted: false,
    metadata: {
      namespaces: {
        eip155: { address: `0x${digest.slice(0, 40)}`, curve: 'SECP256K1' },
        solana: { address: Buffer.from(digest, 'hex').toString('base64url').slice(0, 43), curve: 'ED25519' },
      },
    },
    wallets: CURVES.map((curve) => ({
      createdAt,
      curve,
      id: `wallet-${clientId}-${curve.toLowerCase()}`,
      // One pair per backup method this project supports.
      backupSharePairs: ['GDRIVE', 'ICLOUD', 'PASSWORD', 'PASSKEY'].map((backupMethod) => ({
        backupMethod, createdAt, id: backupSharePairId(clientId, curve, backupMethod), status: 'incomplete',
      })),
      signingSharePairs: [{ createdAt, id: `ssp-${clientId}-${curve.toLowerCase()}`, status: 'completed' }],
      publicKey: JSON.stringify({ curve, X: digest.slice(0, 32), Y: digest.slice(32) }),
    })),
  };
}

/** A decimal big number of about `digits` digits, deterministic in `seed` and `label`. */
function bigDecimal(seed, label, digits) {
  let hex = '';
  for (let i = 0; hex.length * 1.2 < digits; i++) {
    hex += createHash('sha256').update(`${seed}|${label}|${i}`).digest('hex');
  }
  return BigInt(`0x${hex}`).toString(10).slice(0, digits);
}

/**
 * A custodian backup share as Portal would POST it: ~24 fields of big
 * numbers (Paillier, Pedersen, partial public keys), field names as in
 * Portal's `custodianBackupShare` example. Deterministic per clientId,
 * backupMethod and counter so a test can recompute what was sent.
 */
export function custodianShare(clientId, backupMethod, counter = 1) {
  const seed = `${clientId}|${backupMethod}|${counter}`;
  const n = (label, digits) => bigDecimal(seed, label, digits);
  const curve = backupMethod.includes('ED25519') ? 'ed25519' : 'secp256k1';
  return {
    backupSharePairId: backupSharePairId(clientId, curve.toUpperCase(), backupMethod.split('-')[0]),
    clientBk: n('clientBk', 78),
    clientId,
    clientPartialPubKey_x: n('clientPartialPubKey_x', 78),
    clientPartialPubKey_y: n('clientPartialPubKey_y', 78),
    pailler_p: n('pailler_p', 309),
    pailler_q: n('pailler_q', 309),
    pedersenClient_n: n('pedersenClient_n', 617),
    pedersenClient_s: n('pedersenClient_s', 617),
    pedersenClient_t: n('pedersenClient_t', 617),
    pedersenServer_n: n('pedersenServer_n', 617),
    pedersenServer_s: n('pedersenServer_s', 617),
    pedersenServer_t: n('pedersenServer_t', 617),
    serverBk: n('serverBk', 78),
    serverPartialPubKey_x: n('serverPartialPubKey_x', 78),
    serverPartialPubKey_y: n('serverPartialPubKey_y', 78),
    share: n('share', 78),
    ssid: createHash('sha256').update(`${seed}|ssid`).digest('hex'),
    x: n('x', 78),
    y: n('y', 78),
    yClient_x: n('yClient_x', 78),
    yClient_y: n('yClient_y', 78),
    yServer_x: n('yServer_x', 78),
    yServer_y: n('yServer_y', 78),
  };
}

/**
 * Starts the Portal stand-in.
 * @param {object} [o]
 * @param {number} [o.port=0]
 * @param {string} [o.webhookUrl]    the customer's webhooks root, e.g. http://127.0.0.1:8787/webhooks
 * @param {string} [o.webhookSecret] sent as X-Webhook-Secret
 * @param {string|object} [o.latency] 'none', 'realistic' or a profile
 *        (tests/standins/latency.mjs); default LATENCY_PROFILE, else none.
 *        It delays Portal's answers, not its webhook calls.
 * @param {number} [o.latencySeed] seeds the jitter (else LATENCY_SEED)
 */
export async function startPortal({ port = 0, host, webhookUrl, webhookSecret, latency, latencySeed } = {}) {
  const delays = latencyModel('portal', { latency, seed: latencySeed });
  let tokens;
  let clients;
  let calls;
  let webhooks;
  let shareCounters;
  const pending = new Set();

  function reset() {
    tokens = new Map(Object.entries(DEFAULT_CLIENT_TOKENS));
    clients = new Map();
    calls = [];
    webhooks = [];
    shareCounters = new Map();
  }
  reset();

  function clientFor(clientId) {
    if (!clients.has(clientId)) clients.set(clientId, newClient(clientId, new Date().toISOString()));
    return clients.get(clientId);
  }

  function authenticate(req, res) {
    const clientId = tokens.get(bearerToken(req));
    if (!clientId) {
      sendJson(res, 401, portalError(401));
      return null;
    }
    return clientFor(clientId);
  }

  function pairsOf(client) {
    return client.wallets.flatMap((w) => w.backupSharePairs.map((pair) => ({ wallet: w, pair })));
  }

  // Portal POSTs the custodian share, then fetches it back to check it was
  // stored. Outcomes are recorded, never thrown: a failing webhook must not
  // break the client's request.
  function sendCustodianBackup(clientId, backupMethod) {
    const key = `${clientId}|${backupMethod}`;
    const counter = (shareCounters.get(key) ?? 0) + 1;
    shareCounters.set(key, counter);
    const record = { clientId, backupMethod, counter, at: new Date().toISOString() };
    webhooks.push(record);
    if (!webhookUrl) {
      record.error = 'no webhookUrl configured';
      return Promise.resolve(record);
    }
    const share = JSON.stringify(custodianShare(clientId, backupMethod, counter));
    // Only a digest is kept: the share itself is a secret.
    record.shareSha256 = createHash('sha256').update(share).digest('hex');
    const headers = { 'Content-Type': 'application/json', 'X-Webhook-Secret': webhookSecret ?? '' };
    const root = webhookUrl.replace(/\/+$/, '');
    const run = (async () => {
      try {
        const backup = await fetch(`${root}/backup`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ backupMethod, clientId, share }),
          signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        });
        record.backupStatus = backup.status;
        await backup.arrayBuffer();
        if (!backup.ok) {
          record.error = 'FAILED_WEBHOOK';
          return record;
        }
        const fetched = await fetch(`${root}/backup/fetch`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ clientId }),
          signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        });
        record.fetchStatus = fetched.status;
        const text = await fetched.text();
        let body = null;
        try {
          body = JSON.parse(text);
        } catch {
          // recorded below as not stored
        }
        const shares = Array.isArray(body?.backupShares) ? body.backupShares : body?.backupShare ? [body.backupShare] : [];
        record.stored = fetched.ok && shares.includes(share);
        if (!record.stored) record.error = 'share not returned by /backup/fetch';
      } catch (err) {
        record.error = err.name === 'TimeoutError' ? 'FAILED_WEBHOOK: timeout' : `FAILED_WEBHOOK: ${err.message}`;
      }
      return record;
    })();
    pending.add(run);
    run.finally(() => pending.delete(run));
    return run;
  }

  async function handle(req, res, url) {
    if (req.method === 'GET' && url.pathname === '/api/v3/clients/me') {
      const client = authenticate(req, res);
      if (client) sendJson(res, 200, client);
      return;
    }
    if (req.method === 'PATCH' && url.pathname === '/api/v3/clients/me/backup-share-pairs') {
      const client = authenticate(req, res);
      if (!client) return;
      const body = await readJson(req).catch(() => null);
      if (!body || typeof body !== 'object') return sendJson(res, 400, portalError(400, 'Body must be a JSON object'));
      if (!PAIR_STATUSES.includes(body.status)) {
        return sendJson(res, 400, portalError(400, `status must be one of ${PAIR_STATUSES.join(', ')}`));
      }
      const ids = body.backupSharePairIds;
      if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => typeof id === 'string' && id)) {
        return sendJson(res, 400, portalError(400, 'backupSharePairIds must be a non-empty array of strings'));
      }
      const byId = new Map(pairsOf(client).map((p) => [p.pair.id, p]));
      const unknown = ids.filter((id) => !byId.has(id));
      if (unknown.length) return sendJson(res, 400, portalError(400, `Unknown backup share pair ids: ${unknown.join(', ')}`));

      for (const id of ids) {
        // The docs' example shows "completed" for a pair whose both halves are stored.
        byId.get(id).pair.status = body.status === 'STORED_CLIENT_BACKUP_SHARE' ? 'completed' : body.status;
      }
      calls.push({ clientId: client.id, status: body.status, backupSharePairIds: ids, at: new Date().toISOString() });
      sendEmpty(res, 204);
      if (body.status === 'STORED_CLIENT_BACKUP_SHARE') {
        for (const id of ids) {
          const { wallet, pair } = byId.get(id);
          sendCustodianBackup(client.id, `${pair.backupMethod}-${wallet.curve}`);
        }
      }
      return;
    }
    // Pre-v3 form, still accepted by Portal.
    if (req.method === 'PUT' && /^\/api\/v[12]\/clients\/me\/wallet\/stored-client-backup-share$/.test(url.pathname)) {
      const client = authenticate(req, res);
      if (!client) return;
      const body = await readJson(req).catch(() => null);
      if (!body || typeof body.backupMethod !== 'string' || typeof body.success !== 'boolean') {
        return sendJson(res, 400, portalError(400, 'backupMethod (string) and success (boolean) are required'));
      }
      const ids = [];
      for (const { pair } of pairsOf(client)) {
        if (pair.backupMethod === body.backupMethod) {
          ids.push(pair.id);
          if (body.success) pair.status = 'completed';
        }
      }
      calls.push({ clientId: client.id, backupMethod: body.backupMethod, success: body.success, backupSharePairIds: ids, at: new Date().toISOString() });
      return sendEmpty(res, 204);
    }
    sendJson(res, 404, portalError(404, `Cannot ${req.method} ${url.pathname}`));
  }

  const control = {
    'POST /__control/clients': async (req, res) => {
      const body = (await readJson(req)) ?? {};
      if (typeof body.token !== 'string' || !body.token || typeof body.clientId !== 'string' || !body.clientId) {
        return sendJson(res, 400, { error: { code: 400, message: 'token and clientId are required' } });
      }
      tokens.set(body.token, body.clientId);
      sendJson(res, 200, clientFor(body.clientId));
    },
    'GET /__control/calls': async (_req, res) => sendJson(res, 200, calls),
    'GET /__control/webhooks': async (_req, res) => {
      await Promise.allSettled([...pending]);
      sendJson(res, 200, webhooks);
    },
    'POST /__control/custodian-backup': async (req, res) => {
      const body = (await readJson(req)) ?? {};
      if (typeof body.clientId !== 'string' || typeof body.backupMethod !== 'string') {
        return sendJson(res, 400, { error: { code: 400, message: 'clientId and backupMethod are required' } });
      }
      sendJson(res, 200, await sendCustodianBackup(body.clientId, body.backupMethod));
    },
  };

  const standin = await startStandin({
    name: 'portal', port, host, handle: withLatency(handle, delays, { answerPreflights: true }), control,
    errorBody: (status, _reason, _url, message) => portalError(status, message), reset,
    // With a latency profile its preflights wait too (withLatency answers them).
    ...(delays ? { answersPreflight: false } : {}),
  });
  return {
    ...standin,
    /** The latency model (its profile name and recent draws), or null without one. */
    latency: delays,
    get calls() {
      return calls;
    },
    get webhooks() {
      return webhooks;
    },
    /** Resolves once every webhook call in flight has finished. */
    async settled() {
      await Promise.allSettled([...pending]);
      return webhooks;
    },
  };
}
