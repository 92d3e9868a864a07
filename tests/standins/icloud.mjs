// Stand-in for CloudKit Web Services, the subset a web page needs to keep a
// small secret as a record in the user's iCloud private database: create,
// read back, list and delete records, and the web auth token that names the
// user. Faithful to Apple's "CloudKit Web Services Reference"
// (REF below, Apple's Documentation Archive, last revised 2016-06-13); each
// behaviour names the page it follows. Where the reference is silent, the
// comment says what was chosen and why (tests/standins/README.md lists them).
//
// What it serves:
//   POST /database/1/{container}/{environment}/private/records/modify
//   POST /database/1/{container}/{environment}/private/records/lookup
//   POST /database/1/{container}/{environment}/private/records/query
//   GET  /database/1/{container}/{environment}/{database}/users/current
//   GET|POST /signin   Apple's sign-in window, as the `redirectURL` opens it
// each with ?ckAPIToken=...&ckWebAuthToken=... in the query string.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readBody, readJson, sendJson, startStandin } from './common.mjs';
import { latencyModel, withLatency } from './latency.mjs';

const REF = 'https://developer.apple.com/library/archive/documentation/DataManagement/Conceptual/CloudKitWebServicesReference';
export const ICLOUD_REFERENCE = Object.freeze({
  index: `${REF}/index.html`,
  composing: `${REF}/SettingUpWebServices.html`,
  modify: `${REF}/ModifyRecords.html`,
  lookup: `${REF}/LookupRecords.html`,
  query: `${REF}/QueryingRecords.html`,
  currentUser: `${REF}/GetCurrentUser.html`,
  types: `${REF}/Types.html`,
  errors: `${REF}/ErrorCodes.html`,
  limits: `${REF}/PropertyMetrics.html`,
});

export const DEFAULT_ICLOUD_PORT = 8792;
// SettingUpWebServices.html: "The container ID begins with iCloud."
export const DEFAULT_ICLOUD_CONTAINER = 'iCloud.com.example.portalbackup';
export const DEFAULT_ICLOUD_ENVIRONMENT = 'development';
// An API token belongs to one container in one environment (CloudKit
// framework, CKFetchWebAuthTokenOperation: "You must create an API token for
// each container in each environment").
export const DEFAULT_ICLOUD_API_TOKEN = 'icloud-api-token-demo';
export const DEFAULT_ICLOUD_API_TOKENS = Object.freeze({
  [DEFAULT_ICLOUD_API_TOKEN]: Object.freeze({ container: DEFAULT_ICLOUD_CONTAINER, environment: DEFAULT_ICLOUD_ENVIRONMENT }),
});

// The header each answer carries the next web auth token in. The reference
// says a new token "is provided in the response" without naming where
// (SettingUpWebServices.html, "Use and Duration of the Web Authentication
// Token"); Apple's servers send it in this header and expose it to pages
// (a real answer: "access-control-expose-headers: X-Apple-Request-UUID,
// X-Apple-CloudKit-Web-Auth-Token,X-Responding-Instance,Via",
// "x-apple-cloudkit-web-auth-token: 106__54__..."), and CloudKit JS reads it.
export const WEB_AUTH_TOKEN_HEADER = 'X-Apple-CloudKit-Web-Auth-Token';
const EXPOSED_HEADERS = `X-Apple-Request-UUID, ${WEB_AUTH_TOKEN_HEADER}`;

// SettingUpWebServices.html, "Use and Duration of the Web Authentication
// Token": "By default, the web authentication token expires 30 minutes after
// it is created. If the user selects 'Keep me signed in' during the sign-in
// window, the duration of the token is 2 weeks."
export const WEB_AUTH_TOKEN_TTL_MS = 30 * 60_000;
export const KEEP_SIGNED_IN_TTL_MS = 14 * 24 * 60 * 60_000;

// PropertyMetrics.html ("Data Size Limits"): 200 operations in a request,
// 200 records in a response.
export const MAX_OPERATIONS = 200;
export const MAX_RECORDS_PER_RESPONSE = 200;

// ErrorCodes.html: every serverErrorCode and its HTTP status.
export const ICLOUD_ERRORS = Object.freeze({
  ACCESS_DENIED: [403, 'You don’t have permission to access the endpoint, record, zone, or database.'],
  ATOMIC_ERROR: [400, 'An atomic batch operation failed.'],
  AUTHENTICATION_FAILED: [401, 'Authentication was rejected.'],
  // The reason is the one in SettingUpWebServices.html's example answer.
  AUTHENTICATION_REQUIRED: [421, 'request needs authorization'],
  BAD_REQUEST: [400, 'The request was not valid.'],
  CONFLICT: [409, 'The recordChangeTag value expired. (Retry the request with the latest tag.)'],
  EXISTS: [409, 'The resource that you attempted to create already exists.'],
  INTERNAL_ERROR: [500, 'An internal error occurred.'],
  NOT_FOUND: [404, 'The resource was not found.'],
  QUOTA_EXCEEDED: [413, 'You exceeded the user’s iCloud quota.'],
  THROTTLED: [429, 'The request was throttled. Try the request again later.'],
  TRY_AGAIN_LATER: [503, 'An internal error occurred. Try the request again.'],
  VALIDATING_REFERENCE_ERROR: [412, 'The request violates a validating reference constraint.'],
  ZONE_NOT_FOUND: [404, 'The zone specified in the request was not found.'],
});
// For `fail` given a status only: the code ErrorCodes.html lists first for it
// (CONFLICT for 409: a create of an existing name answers CONFLICT, see below).
const CODE_FOR_STATUS = Object.freeze({
  400: 'BAD_REQUEST', 401: 'AUTHENTICATION_FAILED', 403: 'ACCESS_DENIED', 404: 'NOT_FOUND', 409: 'CONFLICT',
  412: 'VALIDATING_REFERENCE_ERROR', 413: 'QUOTA_EXCEEDED', 421: 'AUTHENTICATION_REQUIRED', 429: 'THROTTLED',
  500: 'INTERNAL_ERROR', 503: 'TRY_AGAIN_LATER',
});
// Codes a client may retry: they carry `retryAfter` (ModifyRecords.html,
// Record Fetch Error Dictionary: "If this key is not set, the operation
// can't be retried"), 1 s unless a `fail` rule says otherwise.
const RETRYABLE = new Set(['THROTTLED', 'TRY_AGAIN_LATER']);

// ModifyRecords.html, "Operation Type Values".
const OPERATION_TYPES = new Set(['create', 'update', 'forceUpdate', 'replace', 'forceReplace', 'delete', 'forceDelete']);
const DEFAULT_ZONE = '_defaultZone'; // Types.html, Zone ID Dictionary
const OPERATIONS = Object.freeze({
  'records/modify': 'POST', // ModifyRecords.html
  'records/lookup': 'POST', // LookupRecords.html
  'records/query': 'POST', // QueryingRecords.html
  'users/current': 'GET', // GetCurrentUser.html
});
const SIGNIN_PATH = '/signin';

// ---- CloudKit's answers ----------------------------------------------------

/**
 * A whole-request error: `{uuid, serverErrorCode, reason}` as in
 * SettingUpWebServices.html's example, plus `retryAfter` / `redirectURL`
 * (the keys of ModifyRecords.html's Record Fetch Error Dictionary).
 */
export function icloudError(code, reason = ICLOUD_ERRORS[code][1], extra = {}) {
  return { uuid: randomUUID(), serverErrorCode: code, reason, ...extra };
}

/** A per-record error in a `records` array (ModifyRecords.html, Record Fetch Error Dictionary). */
function recordError(recordName, code, reason = ICLOUD_ERRORS[code][1], extra = {}) {
  return { recordName, reason, serverErrorCode: code, uuid: randomUUID(), ...extra };
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// ---- field values (Types.html: CKValue, Record Field Dictionary) -----------

// The reference describes a field as `{ value: CKValue, type: string
// (optional) }` without listing the type strings; these are the ones
// CloudKit answers with (STRING, INT64, DOUBLE, BYTES, TIMESTAMP, REFERENCE,
// LOCATION, ASSETID and their _LIST forms). Assets need assets/upload, which
// this stand-in does not serve.
const SCALAR_TYPES = new Set(['STRING', 'INT64', 'DOUBLE', 'BYTES', 'TIMESTAMP', 'REFERENCE', 'LOCATION']);
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,254}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function inferType(value) {
  if (typeof value === 'string') return 'STRING';
  if (typeof value === 'boolean') return 'INT64';
  if (typeof value === 'number') return Number.isInteger(value) ? 'INT64' : 'DOUBLE';
  if (Array.isArray(value)) {
    if (value.length === 0) throw new Error('the type of an empty list cannot be inferred; give "type"');
    return `${inferType(value[0])}_LIST`;
  }
  if (isObject(value) && typeof value.recordName === 'string') return 'REFERENCE';
  if (isObject(value) && typeof value.latitude === 'number' && typeof value.longitude === 'number') return 'LOCATION';
  throw new Error('the value\'s type cannot be inferred; give "type"');
}

function checkScalar(type, value, numbersAsStrings) {
  if (numbersAsStrings && (type === 'INT64' || type === 'DOUBLE') && typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) {
    value = Number(value);
  }
  switch (type) {
    case 'STRING':
      if (typeof value === 'string') return value;
      break;
    case 'INT64':
      if (typeof value === 'boolean') return value ? 1 : 0;
      if (Number.isSafeInteger(value)) return value;
      break;
    case 'DOUBLE':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      break;
    case 'BYTES': // Types.html: "Represented by a Base64-encoded string."
      if (typeof value === 'string' && BASE64.test(value)) return value;
      break;
    case 'TIMESTAMP': // Types.html: milliseconds since 1970-01-01
      if (Number.isSafeInteger(value)) return value;
      break;
    case 'REFERENCE': // Types.html, Reference Dictionary
      if (isObject(value) && typeof value.recordName === 'string' && value.recordName
        && (value.action === undefined || ['NONE', 'DELETE_SELF', 'VALIDATE'].includes(value.action))) {
        return { ...value };
      }
      break;
    case 'LOCATION': // Types.html, Location Dictionary
      if (isObject(value) && typeof value.latitude === 'number' && typeof value.longitude === 'number') return { ...value };
      break;
    default:
  }
  throw new Error(`the value is not a valid ${type}`);
}

/** A request's field dictionary as stored: `{value, type}`, or null to clear the field. */
function normalizeField(name, field, numbersAsStrings) {
  if (!FIELD_NAME.test(name)) throw new Error(`invalid field name '${name}'`);
  if (!isObject(field) || !('value' in field)) throw new Error(`field '${name}' must be a dictionary with a "value"`);
  if (field.value === null) return null;
  const type = field.type ?? inferType(field.value);
  if (typeof type !== 'string') throw new Error(`field '${name}': "type" must be a string`);
  if (type === 'ASSET' || type === 'ASSETID' || type === 'ASSETID_LIST') throw new Error(`field '${name}': assets are not supported by this stand-in`);
  if (type.endsWith('_LIST')) {
    const element = type.slice(0, -'_LIST'.length);
    if (!SCALAR_TYPES.has(element)) throw new Error(`field '${name}': unknown type ${type}`);
    if (!Array.isArray(field.value)) throw new Error(`field '${name}': the value is not a valid ${type}`);
    try {
      return { value: field.value.map((v) => checkScalar(element, v, numbersAsStrings)), type };
    } catch {
      throw new Error(`field '${name}': the value is not a valid ${type}`);
    }
  }
  if (!SCALAR_TYPES.has(type)) throw new Error(`field '${name}': unknown type ${type}`);
  try {
    return { value: checkScalar(type, field.value, numbersAsStrings), type };
  } catch (err) {
    throw new Error(`field '${name}': ${err.message}`);
  }
}

const clone = (v) => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

function isNumberType(type) {
  return type === 'INT64' || type === 'DOUBLE' || type === 'INT64_LIST' || type === 'DOUBLE_LIST';
}

/** A stored record as a Record Dictionary (Types.html: common and response keys). */
function present(record, { desiredKeys, numbersAsStrings } = {}) {
  const fields = {};
  for (const [name, field] of Object.entries(record.fields)) {
    if (Array.isArray(desiredKeys) && !desiredKeys.includes(name)) continue;
    let value = clone(field.value);
    // LookupRecords.html etc.: numbersAsStrings, "whether number fields should be represented by strings".
    if (numbersAsStrings && isNumberType(field.type)) value = Array.isArray(value) ? value.map(String) : String(value);
    fields[name] = { value, type: field.type };
  }
  return {
    recordName: record.recordName,
    recordType: record.recordType,
    fields,
    recordChangeTag: record.recordChangeTag,
    created: { ...record.created },
    modified: { ...record.modified },
    deleted: false,
  };
}

const recordBytes = (fields) => Buffer.byteLength(JSON.stringify(fields));

// ---- queries (Types.html: Query, Filter and Sort Descriptor Dictionaries) --

// QueryingRecords.html, Discussion: system fields and their names.
const SYSTEM_FIELDS = Object.freeze({
  recordName: (r) => r.recordName,
  createdTimestamp: (r) => r.created.timestamp,
  modifiedTimestamp: (r) => r.modified.timestamp,
  createdUserRecordName: (r) => r.created.userRecordName,
  modifiedUserRecordName: (r) => r.modified.userRecordName,
});
const SYSTEM_FIELD_ALIASES = Object.freeze({
  ___recordId: 'recordName',
  ___createTime: 'createdTimestamp',
  ___modTime: 'modifiedTimestamp',
  ___createdBy: 'createdUserRecordName',
  ___modifiedBy: 'modifiedUserRecordName',
});

const comparable = (v) => (isObject(v) && typeof v.recordName === 'string' ? v.recordName : v);
const same = (a, b) => a !== undefined && comparable(a) === comparable(b);
const ordered = (a, b, test) => a !== undefined && b !== undefined && typeof comparable(a) === typeof comparable(b) && test(comparable(a), comparable(b));

// Types.html, Comparator Values: the ones this stand-in evaluates.
const COMPARATORS = Object.freeze({
  EQUALS: (a, b) => same(a, b),
  NOT_EQUALS: (a, b) => !same(a, b),
  LESS_THAN: (a, b) => ordered(a, b, (x, y) => x < y),
  LESS_THAN_OR_EQUALS: (a, b) => ordered(a, b, (x, y) => x <= y),
  GREATER_THAN: (a, b) => ordered(a, b, (x, y) => x > y),
  GREATER_THAN_OR_EQUALS: (a, b) => ordered(a, b, (x, y) => x >= y),
  BEGINS_WITH: (a, b) => typeof a === 'string' && typeof b === 'string' && a.startsWith(b),
  NOT_BEGINS_WITH: (a, b) => !(typeof a === 'string' && typeof b === 'string' && a.startsWith(b)),
  IN: (a, b) => Array.isArray(b) && b.some((x) => same(a, x)),
  NOT_IN: (a, b) => !(Array.isArray(b) && b.some((x) => same(a, x))),
  LIST_CONTAINS: (a, b) => Array.isArray(a) && a.some((x) => same(x, b)),
  NOT_LIST_CONTAINS: (a, b) => !(Array.isArray(a) && a.some((x) => same(x, b))),
  LIST_CONTAINS_ALL: (a, b) => Array.isArray(a) && Array.isArray(b) && b.every((y) => a.some((x) => same(x, y))),
  NOT_LIST_CONTAINS_ALL: (a, b) => !(Array.isArray(a) && Array.isArray(b) && b.every((y) => a.some((x) => same(x, y)))),
});
// Documented in Types.html, not evaluated here (text search and locations).
const UNSUPPORTED_COMPARATORS = new Set(['NEAR', 'CONTAINS_ALL_TOKENS', 'CONTAINS_ANY_TOKENS', 'NOT_LIST_CONTAINS_ANY', 'LIST_MEMBER_BEGINS_WITH', 'NOT_LIST_MEMBER_BEGINS_WITH']);

/** The getter for a filter's or sort descriptor's field, or an error message. */
function fieldGetter(entry, what) {
  if (typeof entry.systemFieldName === 'string') {
    const get = SYSTEM_FIELDS[entry.systemFieldName];
    return get ?? `${what}: systemFieldName '${entry.systemFieldName}' is not one this stand-in knows`;
  }
  if (typeof entry.fieldName !== 'string' || !entry.fieldName) return `${what}: fieldName is required`;
  const alias = SYSTEM_FIELD_ALIASES[entry.fieldName];
  if (alias) return SYSTEM_FIELDS[alias];
  if (entry.fieldName.startsWith('___')) return `${what}: fieldName '${entry.fieldName}' is not one this stand-in knows`;
  return (r) => r.fields[entry.fieldName]?.value;
}

// ---- web auth tokens -------------------------------------------------------

let tokenSerial = 0;
/**
 * A new web auth token. Apple's look like `106__54__<base64>__<base64>` with
 * '+', '/' and '=' in them, which is why SettingUpWebServices.html says to
 * encode them ("replace '+' with '%2B', '/' with '%2F', and '=' with '%3D'");
 * these always contain all three, so a client that forgets is refused.
 */
function newWebAuthToken() {
  tokenSerial += 1;
  for (;;) {
    const body = randomBytes(31).toString('base64'); // 31 bytes: always ends in '='
    if (body.includes('+') && body.includes('/')) return `16__${tokenSerial}__${body}`;
  }
}

/** The user record name CloudKit gives `user` in `container`: '_' and 32 hex digits. */
export function userRecordName(user, container = DEFAULT_ICLOUD_CONTAINER) {
  return `_${createHash('sha256').update(`${container}\0${user}`).digest('hex').slice(0, 32)}`;
}

function randomTag() {
  return randomBytes(6).readUIntBE(0, 6).toString(36).padStart(9, '0').slice(-9);
}

// ---- the service -----------------------------------------------------------

/**
 * Starts the CloudKit stand-in.
 * @param {object} [o]
 * @param {number} [o.port=0]
 * @param {string} [o.host]
 * @param {number} [o.webAuthTokenTtlMs]  a token's life (default 30 minutes)
 * @param {string|object} [o.latency] 'none', 'realistic' or a profile
 *        (tests/standins/latency.mjs); default LATENCY_PROFILE, else none
 *        (every answer at once, as without it).
 * @param {number} [o.latencySeed] seeds the jitter (else LATENCY_SEED)
 */
export async function startICloud({ port = 0, host, webAuthTokenTtlMs = WEB_AUTH_TOKEN_TTL_MS, latency, latencySeed } = {}) {
  const delays = latencyModel('icloud', { latency, seed: latencySeed });
  let apiTokens; // apiToken -> {container, environment, signInCallback?}
  let tokens; // web auth token -> {user, container, environment, ttlMs, deviceID, expiresAt}
  let databases; // `${container}\n${environment}\n${user}` -> Map(recordName -> record)
  let schema; // `${container}\n${environment}\n${recordType}\n${field}` -> type
  let quotas; // user -> bytes
  let faults; // `fail` rules
  let lastTime = 0;

  function reset() {
    apiTokens = new Map(Object.entries(DEFAULT_ICLOUD_API_TOKENS).map(([k, v]) => [k, { ...v }]));
    tokens = new Map();
    databases = new Map();
    schema = new Map();
    quotas = new Map();
    faults = [];
  }
  reset();

  const dbKey = (container, environment, user) => `${container}\n${environment}\n${user}`;
  function databaseOf(container, environment, user) {
    const key = dbKey(container, environment, user);
    if (!databases.has(key)) databases.set(key, new Map());
    return databases.get(key);
  }
  function usage(user) {
    let bytes = 0;
    for (const [key, db] of databases) {
      if (key.split('\n')[2] !== user) continue;
      for (const r of db.values()) bytes += recordBytes(r.fields);
    }
    return bytes;
  }

  // Strictly increasing timestamps, even for two writes in the same millisecond.
  function timestamp() {
    lastTime = Math.max(Date.now(), lastTime + 1);
    return lastTime;
  }

  function issueToken({ user, container = DEFAULT_ICLOUD_CONTAINER, environment = DEFAULT_ICLOUD_ENVIRONMENT, ttlMs = webAuthTokenTtlMs, deviceID }, token = newWebAuthToken()) {
    tokens.set(token, {
      user, container, environment, ttlMs,
      deviceID: deviceID ?? createHash('sha256').update(`device\0${user}\0${randomUUID()}`).digest('hex').toUpperCase(),
      expiresAt: Date.now() + ttlMs,
    });
    return token;
  }

  /**
   * The session a request's `ckWebAuthToken` names, or null. SettingUpWebServices.html,
   * "Use and Duration of the Web Authentication Token": "Each token is intended
   * for a single round trip to the server. Whenever a token is sent to the
   * server, a new token is provided in the response from the server. Once the
   * response is received, the previous token is no longer valid." So a token
   * is spent the moment a request brings it (two requests with one token: the
   * second is refused), and its replacement goes out with the answer.
   */
  function spendToken(url, container, environment) {
    // URLSearchParams decodes %2B, %2F, %3D, and a bare '+' to a space (which no token holds).
    const token = url.searchParams.get('ckWebAuthToken');
    if (!token) return null;
    const entry = tokens.get(token);
    if (!entry || entry.container !== container || entry.environment !== environment) return null;
    tokens.delete(token);
    if (entry.expiresAt <= Date.now()) return null;
    const { expiresAt: _spent, ...session } = entry;
    return session;
  }

  function redirectURL(req, container, environment) {
    const q = new URLSearchParams({ container, environment });
    return `http://${req.headers.host ?? 'localhost'}${SIGNIN_PATH}?${q}`;
  }

  /**
   * Sends an answer. A request that brought a valid token gets the next one
   * in WEB_AUTH_TOKEN_HEADER, errors included ("Whenever a token is sent to
   * the server, a new token is provided in the response"), except when the
   * answer says the user must sign in again (401, 421): then there is no
   * session to continue.
   */
  function answer(res, ctx, status, body) {
    const headers = {
      'X-Apple-Request-UUID': randomUUID(),
      'X-Apple-CloudKit-Version': '1.0',
      'Access-Control-Expose-Headers': EXPOSED_HEADERS,
      'Cache-Control': 'no-store',
    };
    if (ctx.session && status !== 401 && status !== 421) headers[WEB_AUTH_TOKEN_HEADER] = issueToken(ctx.session);
    sendJson(res, status, body, headers);
  }
  const fail = (res, ctx, code, reason, extra) => answer(res, ctx, ICLOUD_ERRORS[code][0], icloudError(code, reason, extra));

  // ---- injected faults ----

  /** Does rule `f` name this request (request scope) or this item (record scope)? */
  function ruleMatches(f, request, item) {
    if (f.method && f.method !== request.method) return false;
    if (f.path && !(f.exact ? request.pathname === f.path : request.pathname.includes(f.path))) return false;
    if (f.operation && f.operation !== request.operation) return false;
    const items = item ? [item] : request.items;
    if (f.operationType && !items.some((i) => i.operationType === f.operationType)) return false;
    if (f.recordName && !items.some((i) => i.recordName === f.recordName)) return false;
    return true;
  }
  function take(f) {
    if (f.skip > 0) {
      f.skip -= 1;
      return null;
    }
    if (--f.remaining === 0) faults.splice(faults.indexOf(f), 1);
    return f;
  }
  function takeRequestFault(request) {
    const f = faults.find((r) => r.scope === 'request' && ruleMatches(r, request));
    return f ? take(f) : null;
  }
  function takeRecordFault(request, item) {
    const f = faults.find((r) => r.scope === 'record' && ruleMatches(r, request, item));
    return f ? take(f) : null;
  }
  function faultExtra(f, req, ctx) {
    const extra = {};
    if (f.retryAfter !== null && (f.retryAfter !== undefined || RETRYABLE.has(f.serverErrorCode))) extra.retryAfter = f.retryAfter ?? 1;
    if (f.serverErrorCode === 'AUTHENTICATION_REQUIRED') extra.redirectURL = redirectURL(req, ctx.container, ctx.environment);
    return extra;
  }

  // ---- operations ----

  function checkZone(body, ctx) {
    // Types.html, Zone ID Dictionary: zoneName defaults to _defaultZone, the
    // only zone this stand-in has (no zones/modify); ownerRecordName defaults
    // to the current user.
    if (body.zoneID === undefined || body.zoneID === null) return null;
    if (!isObject(body.zoneID) || typeof body.zoneID.zoneName !== 'string') return ['BAD_REQUEST', 'zoneID must be a dictionary with a zoneName'];
    if (body.zoneID.zoneName !== DEFAULT_ZONE) return ['ZONE_NOT_FOUND', `zone '${body.zoneID.zoneName}' does not exist`];
    if (body.zoneID.ownerRecordName !== undefined && body.zoneID.ownerRecordName !== ctx.userRecordName) {
      return ['ZONE_NOT_FOUND', 'zone owned by another user is not in this database'];
    }
    return null;
  }

  /** Validates a records/modify request; an error message, or null. */
  function invalidModify(body) {
    const { operations } = body;
    // ModifyRecords.html, Request: operations "is required".
    if (!Array.isArray(operations)) return 'operations is required and must be an array';
    if (operations.length > MAX_OPERATIONS) return `at most ${MAX_OPERATIONS} operations in a request (Data Size Limits)`;
    for (const key of ['desiredKeys']) {
      if (body[key] !== undefined && body[key] !== null && !(Array.isArray(body[key]) && body[key].every((k) => typeof k === 'string'))) return `${key} must be an array of strings`;
    }
    const names = new Set();
    for (const [i, op] of operations.entries()) {
      if (!isObject(op)) return `operations[${i}] must be a dictionary`;
      if (!OPERATION_TYPES.has(op.operationType)) return `operations[${i}].operationType must be one of ${[...OPERATION_TYPES].join(', ')}`;
      if (op.desiredKeys !== undefined && op.desiredKeys !== null && !(Array.isArray(op.desiredKeys) && op.desiredKeys.every((k) => typeof k === 'string'))) {
        return `operations[${i}].desiredKeys must be an array of strings`;
      }
      const r = op.record;
      if (!isObject(r)) return `operations[${i}].record is required`;
      if (r.recordName !== undefined && (typeof r.recordName !== 'string' || !r.recordName)) return `operations[${i}].record.recordName must be a non-empty string`;
      if (r.recordName === undefined && op.operationType !== 'create') return `operations[${i}].record.recordName is required for ${op.operationType}`;
      if (r.recordType !== undefined && (typeof r.recordType !== 'string' || !r.recordType)) return `operations[${i}].record.recordType must be a non-empty string`;
      if (r.recordChangeTag !== undefined && typeof r.recordChangeTag !== 'string') return `operations[${i}].record.recordChangeTag must be a string`;
      if (r.fields !== undefined && r.fields !== null && !isObject(r.fields)) return `operations[${i}].record.fields must be a dictionary`;
      // ModifyRecords.html, Discussion: "One operation per record is allowed".
      if (r.recordName !== undefined) {
        if (names.has(r.recordName)) return `more than one operation for record '${r.recordName}'`;
        names.add(r.recordName);
      }
    }
    return null;
  }

  /** New fields for a record, checked against the schema, or throws Error(reason). */
  function buildFields(ctx, recordType, base, requested, numbersAsStrings) {
    const fields = base ? clone(base) : {};
    for (const [name, field] of Object.entries(requested ?? {})) {
      const normalized = normalizeField(name, field, numbersAsStrings);
      if (normalized === null) delete fields[name];
      else fields[name] = normalized;
    }
    for (const [name, field] of Object.entries(fields)) {
      // A field keeps the type it was first saved with (the development
      // environment creates the schema as records are saved).
      const defined = schema.get(`${ctx.container}\n${ctx.environment}\n${recordType}\n${name}`);
      if (defined && defined !== field.type) {
        throw new Error(`invalid attempt to set value type ${field.type} for field '${name}' for type '${recordType}', defined to be: ${defined}`);
      }
    }
    return fields;
  }

  function saveRecord(ctx, db, { existing, recordName, recordType, fields }) {
    for (const [name, field] of Object.entries(fields)) {
      const key = `${ctx.container}\n${ctx.environment}\n${recordType}\n${name}`;
      if (!schema.has(key)) schema.set(key, field.type);
    }
    const stamp = { timestamp: timestamp(), userRecordName: ctx.userRecordName, deviceID: ctx.session.deviceID };
    const record = {
      recordName,
      recordType,
      fields,
      recordChangeTag: randomTag(),
      created: existing ? existing.created : stamp,
      modified: stamp,
    };
    db.set(recordName, record);
    return record;
  }

  /** One operation of records/modify (ModifyRecords.html): a record dictionary or an error dictionary. */
  function applyOperation(ctx, db, op, opts) {
    const { operationType: type, record: r } = op;
    const recordName = r.recordName ?? randomUUID().toUpperCase(); // Types.html: "The default value is a random UUID."
    const existing = db.get(recordName);
    const force = type.startsWith('force');

    if (type === 'create' && existing) {
      // ModifyRecords.html: create "fails if a record with the same record
      // name already exists", without the code. ErrorCodes.html lists EXISTS
      // ("The resource that you attempted to create already exists") and
      // CONFLICT; developers report this failure as a changed server record,
      // "record to insert already exists" (the native serverRecordChanged,
      // CONFLICT on the web), and issue 16 asks for CONFLICT. A client should
      // treat both as "name taken"; `fail` can inject EXISTS.
      return recordError(recordName, 'CONFLICT', 'record to insert already exists');
    }
    if (!existing && !(type === 'create' || type === 'forceUpdate' || type === 'forceReplace')) {
      return recordError(recordName, 'NOT_FOUND', 'Record not found');
    }
    if (existing && !force && type !== 'create') {
      // Types.html, recordChangeTag: "required if the operation type is update,
      // replace, or delete"; ErrorCodes.html, CONFLICT: "The recordChangeTag value expired."
      if (r.recordChangeTag === undefined) return recordError(recordName, 'BAD_REQUEST', `recordChangeTag is required for ${type}`);
      if (r.recordChangeTag !== existing.recordChangeTag) {
        return recordError(recordName, 'CONFLICT', 'oplock error: the record changed on the server since this recordChangeTag');
      }
    }
    if (type === 'delete' || type === 'forceDelete') {
      db.delete(recordName);
      // Types.html, response keys: "deleted".
      return { recordName, deleted: true };
    }

    const recordType = existing ? existing.recordType : r.recordType;
    // Types.html, recordType: "required for certain operations if the record doesn't exist".
    if (!recordType) return recordError(recordName, 'BAD_REQUEST', `recordType is required to ${type} a record that does not exist`);
    // update / forceUpdate: "Only the fields you specify are changed."
    // replace / forceReplace / create: "The fields whose values you do not specify are set to null."
    const merge = existing && (type === 'update' || type === 'forceUpdate');
    let fields;
    try {
      fields = buildFields(ctx, recordType, merge ? existing.fields : null, r.fields, opts.numbersAsStrings);
    } catch (err) {
      return recordError(recordName, 'BAD_REQUEST', err.message);
    }
    // ErrorCodes.html, QUOTA_EXCEEDED: "If accessing the private database, you
    // exceeded the user's iCloud quota." Per record: the default zone is not atomic.
    const quota = quotas.get(ctx.user);
    if (quota !== undefined) {
      const after = usage(ctx.user) - (existing ? recordBytes(existing.fields) : 0) + recordBytes(fields);
      if (after > quota) return recordError(recordName, 'QUOTA_EXCEEDED', 'user\'s iCloud storage is full');
    }
    return present(saveRecord(ctx, db, { existing, recordName, recordType, fields }), opts);
  }

  function modify(ctx, body, request) {
    const invalid = invalidModify(body);
    if (invalid) return ['BAD_REQUEST', invalid];
    const zone = checkZone(body, ctx);
    if (zone) return zone;
    const db = databaseOf(ctx.container, ctx.environment, ctx.user);
    const opts = { desiredKeys: body.desiredKeys ?? undefined, numbersAsStrings: body.numbersAsStrings === true };
    // ModifyRecords.html, Discussion: "The operations are applied in the order
    // in which they appear"; Request, atomic: "Note this property only applies
    // to custom zones", so in _defaultZone each operation succeeds or fails on
    // its own and the answer is 200 with an error dictionary in the failed
    // one's place.
    const records = body.operations.map((op) => {
      const item = { operationType: op.operationType, recordName: op.record.recordName };
      const f = takeRecordFault(request, item);
      if (f) return recordError(item.recordName ?? null, f.serverErrorCode, f.reason, faultExtra(f, request.req, ctx));
      // Record Operation Dictionary: an operation's desiredKeys "overrides the
      // desiredKeys setting in the enclosing dictionary".
      return applyOperation(ctx, db, op, { ...opts, desiredKeys: op.desiredKeys ?? opts.desiredKeys });
    });
    return [200, { records }];
  }

  function lookup(ctx, body, request) {
    const { records } = body;
    // LookupRecords.html, Request: records "is required".
    if (!Array.isArray(records)) return ['BAD_REQUEST', 'records is required and must be an array'];
    if (records.length > MAX_RECORDS_PER_RESPONSE) return ['BAD_REQUEST', `at most ${MAX_RECORDS_PER_RESPONSE} records in a response (Data Size Limits)`];
    for (const [i, r] of records.entries()) {
      // LookupRecords.html, Lookup Record Dictionary: recordName "is required".
      if (!isObject(r) || typeof r.recordName !== 'string' || !r.recordName) return ['BAD_REQUEST', `records[${i}].recordName is required`];
    }
    const zone = checkZone(body, ctx);
    if (zone) return zone;
    const db = databaseOf(ctx.container, ctx.environment, ctx.user);
    const numbersAsStrings = body.numbersAsStrings === true;
    return [200, {
      records: records.map((r) => {
        const f = takeRecordFault(request, { recordName: r.recordName });
        if (f) return recordError(r.recordName, f.serverErrorCode, f.reason, faultExtra(f, request.req, ctx));
        const found = db.get(r.recordName);
        // LookupRecords.html, Response: unsuccessful -> Record Fetch Error Dictionary.
        if (!found) return recordError(r.recordName, 'NOT_FOUND', 'Record not found');
        return present(found, { desiredKeys: r.desiredKeys ?? body.desiredKeys ?? undefined, numbersAsStrings });
      }),
    }];
  }

  function query(ctx, body) {
    const q = body.query;
    // QueryingRecords.html, Request: query "is required"; Types.html, Query Dictionary: recordType "is required".
    if (!isObject(q) || typeof q.recordType !== 'string' || !q.recordType) return ['BAD_REQUEST', 'query with a recordType is required'];
    const zone = checkZone(body, ctx);
    if (zone) return zone;
    const filters = [];
    if (q.filterBy !== undefined && q.filterBy !== null) {
      if (!Array.isArray(q.filterBy)) return ['BAD_REQUEST', 'query.filterBy must be an array'];
      for (const [i, f] of q.filterBy.entries()) {
        if (!isObject(f)) return ['BAD_REQUEST', `filterBy[${i}] must be a dictionary`];
        // Types.html, Filter Dictionary: comparator and fieldValue are required.
        if (UNSUPPORTED_COMPARATORS.has(f.comparator)) return ['BAD_REQUEST', `comparator ${f.comparator} is not supported by this stand-in`];
        const test = COMPARATORS[f.comparator];
        if (!test) return ['BAD_REQUEST', `filterBy[${i}].comparator: unknown comparator ${f.comparator}`];
        if (!isObject(f.fieldValue) || !('value' in f.fieldValue)) return ['BAD_REQUEST', `filterBy[${i}].fieldValue is required`];
        const get = fieldGetter(f, `filterBy[${i}]`);
        if (typeof get === 'string') return ['BAD_REQUEST', get];
        const want = f.fieldValue.value;
        filters.push((r) => test(get(r), want));
      }
    }
    const sorts = [];
    if (q.sortBy !== undefined && q.sortBy !== null) {
      if (!Array.isArray(q.sortBy)) return ['BAD_REQUEST', 'query.sortBy must be an array'];
      for (const [i, s] of q.sortBy.entries()) {
        if (!isObject(s)) return ['BAD_REQUEST', `sortBy[${i}] must be a dictionary`];
        const get = fieldGetter(s, `sortBy[${i}]`);
        if (typeof get === 'string') return ['BAD_REQUEST', get];
        // Types.html, Sort Descriptor Dictionary: ascending "The default value is true."
        sorts.push({ get, ascending: s.ascending !== false });
      }
    }
    // QueryingRecords.html: resultsLimit defaults to the most a response may
    // hold (Data Size Limits: 200). A larger one is capped there (the
    // reference does not say it is refused).
    let limit = MAX_RECORDS_PER_RESPONSE;
    if (body.resultsLimit !== undefined && body.resultsLimit !== null) {
      if (!Number.isInteger(body.resultsLimit) || body.resultsLimit < 1) return ['BAD_REQUEST', 'resultsLimit must be a positive integer'];
      limit = Math.min(body.resultsLimit, MAX_RECORDS_PER_RESPONSE);
    }
    // A continuationMarker is bound to the query it came from.
    const fingerprint = createHash('sha256').update(JSON.stringify([ctx.user, ctx.container, ctx.environment, q])).digest('hex').slice(0, 16);
    let offset = 0;
    if (body.continuationMarker !== undefined && body.continuationMarker !== null) {
      try {
        const marker = JSON.parse(Buffer.from(String(body.continuationMarker), 'base64').toString('utf8'));
        if (marker.f !== fingerprint || !Number.isInteger(marker.o) || marker.o < 0) throw new Error();
        offset = marker.o;
      } catch {
        return ['BAD_REQUEST', 'continuationMarker does not belong to this query'];
      }
    }
    const compare = (a, b) => {
      for (const { get, ascending } of sorts) {
        const x = comparable(get(a));
        const y = comparable(get(b));
        if (x === y) continue;
        if (x === undefined) return ascending ? -1 : 1;
        if (y === undefined) return ascending ? 1 : -1;
        const c = x < y ? -1 : 1;
        return ascending ? c : -c;
      }
      return a.created.timestamp - b.created.timestamp;
    };
    const db = databaseOf(ctx.container, ctx.environment, ctx.user);
    const matching = [...db.values()].filter((r) => r.recordType === q.recordType && filters.every((f) => f(r))).sort(compare);
    const opts = { desiredKeys: body.desiredKeys ?? undefined, numbersAsStrings: body.numbersAsStrings === true };
    const out = { records: matching.slice(offset, offset + limit).map((r) => present(r, opts)) };
    // QueryingRecords.html, Response: continuationMarker "If included,
    // indicates that there are more results matching this query."
    if (offset + limit < matching.length) {
      out.continuationMarker = Buffer.from(JSON.stringify({ f: fingerprint, o: offset + limit })).toString('base64');
    }
    return [200, out];
  }

  // ---- Apple's sign-in window ----

  const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  function sendHtml(res, status, html, headers = {}) {
    res.writeHead(status, { 'Content-Type': 'text/html; charset=UTF-8', 'Content-Length': Buffer.byteLength(html), 'Cache-Control': 'no-store', ...headers });
    res.end(html);
  }

  /**
   * The page `redirectURL` opens (SettingUpWebServices.html, "Getting the Web
   * Authentication Token"): the user signs in and "the response contains a
   * ckWebAuthToken string". Without a sign-in callback on the API token, the
   * page posts `{ckWebAuthToken}` to the window that opened it (the
   * reference's `window.addEventListener('message', e => e.data.ckWebAuthToken)`);
   * with one, it redirects there with `?ckWebAuthToken=`. Stand-in users
   * have no passwords: any name signs in.
   */
  async function signIn(req, res, url) {
    const container = url.searchParams.get('container') ?? DEFAULT_ICLOUD_CONTAINER;
    const environment = url.searchParams.get('environment') ?? DEFAULT_ICLOUD_ENVIRONMENT;
    const apiToken = [...apiTokens.entries()].find(([, t]) => t.container === container && t.environment === environment);
    if (!apiToken) {
      await readBody(req);
      return sendHtml(res, 400, `<!doctype html><title>Sign In</title><p>No API token for ${escapeHtml(container)} (${escapeHtml(environment)}).</p>`);
    }
    if (req.method === 'GET') {
      return sendHtml(res, 200, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign In with your Apple ID (stand-in)</title></head>
<body>
<h1>Sign in to iCloud (stand-in)</h1>
<p>${escapeHtml(container)} · ${escapeHtml(environment)}</p>
<form method="post" action="${SIGNIN_PATH}?${escapeHtml(new URLSearchParams({ container, environment }))}">
<label>Apple ID <input name="user" value="${escapeHtml(url.searchParams.get('user') ?? 'alice')}" autocomplete="off"></label>
<label><input type="checkbox" name="keep" value="1"> Keep me signed in</label>
<button type="submit">Sign In</button>
</form>
</body></html>
`);
    }
    if (req.method !== 'POST') return sendHtml(res, 405, '<!doctype html><title>Sign In</title><p>Method not allowed.</p>');
    const form = new URLSearchParams((await readBody(req)).toString('utf8'));
    const user = form.get('user')?.trim();
    if (!user) return sendHtml(res, 400, '<!doctype html><title>Sign In</title><p>An Apple ID is required.</p>');
    const token = issueToken({ user, container, environment, ttlMs: form.get('keep') ? KEEP_SIGNED_IN_TTL_MS : webAuthTokenTtlMs });
    const callback = apiToken[1].signInCallback;
    if (callback) {
      const target = new URL(callback);
      target.searchParams.set('ckWebAuthToken', token);
      res.writeHead(302, { Location: String(target), 'Cache-Control': 'no-store' });
      return res.end();
    }
    // '*' as the target origin: the stand-in does not know the opener's origin.
    return sendHtml(res, 200, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signed in (stand-in)</title></head>
<body>
<p>Signed in as ${escapeHtml(user)}.</p>
<p>ckWebAuthToken: <code id="ckWebAuthToken">${escapeHtml(token)}</code></p>
<script>
const ckWebAuthToken = ${JSON.stringify(token).replace(/</g, '\\u003c')};
if (window.opener) {
  window.opener.postMessage({ ckWebAuthToken }, '*');
  window.close();
}
</script>
</body></html>
`);
  }

  // ---- routing ----

  async function handle(req, res, url) {
    if (url.pathname === SIGNIN_PATH) return signIn(req, res, url);
    const ctx = { session: null };
    const m = /^\/database\/([^/]+)\/([^/]+)\/([^/]+)\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!m) {
      await readBody(req);
      return fail(res, ctx, 'NOT_FOUND', `no such endpoint: ${url.pathname}`);
    }
    let version, container, environment, database, operation;
    try {
      [version, container, environment, database, operation] = m.slice(1).map(decodeURIComponent);
    } catch {
      await readBody(req);
      return fail(res, ctx, 'BAD_REQUEST', 'malformed path');
    }
    Object.assign(ctx, { container, environment });
    ctx.raw = await readBody(req);

    // SettingUpWebServices.html, "The Web Service URL": version 1, a container
    // beginning with "iCloud.", development or production.
    if (version !== '1') return fail(res, ctx, 'BAD_REQUEST', `unknown protocol version ${version}`);
    if (!container.startsWith('iCloud.')) return fail(res, ctx, 'BAD_REQUEST', `container '${container}' must begin with iCloud.`);
    if (environment !== 'development' && environment !== 'production') return fail(res, ctx, 'BAD_REQUEST', `environment must be development or production, not '${environment}'`);
    if (!['public', 'private', 'shared'].includes(database)) return fail(res, ctx, 'BAD_REQUEST', `database must be public, private or shared, not '${database}'`);

    // SettingUpWebServices.html, "Accessing CloudKit Using an API Token": "The
    // ckAPIToken key is required." Missing: 400 (reported of
    // api.apple-cloudkit.com for requests without credentials; the reference
    // gives no code); unknown or not this container's: AUTHENTICATION_FAILED
    // (ErrorCodes.html: "Authentication was rejected.").
    const apiToken = url.searchParams.get('ckAPIToken');
    if (!apiToken) return fail(res, ctx, 'BAD_REQUEST', 'missing required parameter ckAPIToken');
    const registered = apiTokens.get(apiToken);
    if (!registered || registered.container !== container || registered.environment !== environment) {
      return fail(res, ctx, 'AUTHENTICATION_FAILED', 'invalid API token for this container and environment');
    }

    const method = OPERATIONS[operation];
    if (!method) return fail(res, ctx, 'NOT_FOUND', `operation ${operation} is not served by this stand-in`);
    if (req.method !== method) {
      return answer(res, ctx, 405, icloudError('BAD_REQUEST', `${operation} takes ${method}, not ${req.method}`));
    }
    if (operation.startsWith('records/') && database !== 'private') {
      return fail(res, ctx, 'BAD_REQUEST', `this stand-in serves the private database only, not ${database}`);
    }

    // SettingUpWebServices.html: "The ckWebAuthToken key is optional, but if
    // omitted and required, the request fails"; "An AUTHENTICATION_REQUIRED
    // error occurs, and the response contains a redirect URL" (status 421,
    // ErrorCodes.html). A spent, expired, revoked or unknown token fails the same way.
    const session = spendToken(url, container, environment);
    if (!session) {
      return fail(res, ctx, 'AUTHENTICATION_REQUIRED', 'request needs authorization', { redirectURL: redirectURL(req, container, environment) });
    }
    Object.assign(ctx, { session, user: session.user, userRecordName: userRecordName(session.user, container) });

    let body = {};
    if (method === 'POST') {
      try {
        body = ctx.raw.length ? JSON.parse(ctx.raw.toString('utf8')) : undefined;
      } catch {
        return fail(res, ctx, 'BAD_REQUEST', 'the request body is not valid JSON');
      }
      if (!isObject(body)) return fail(res, ctx, 'BAD_REQUEST', 'the request body must be a JSON dictionary');
    }

    const items =
      operation === 'records/modify' && Array.isArray(body.operations)
        ? body.operations.filter(isObject).map((op) => ({ operationType: op.operationType, recordName: op.record?.recordName }))
        : operation === 'records/lookup' && Array.isArray(body.records)
          ? body.records.filter(isObject).map((r) => ({ recordName: r.recordName }))
          : [];
    const request = { req, method: req.method, pathname: url.pathname, operation, items };
    const injected = takeRequestFault(request);
    if (injected) return fail(res, ctx, injected.serverErrorCode, injected.reason, faultExtra(injected, req, ctx));

    if (operation === 'users/current') {
      // GetCurrentUser.html: userRecordName (firstName and lastName only for discoverable users).
      return answer(res, ctx, 200, { userRecordName: ctx.userRecordName });
    }
    const [status, out] =
      operation === 'records/modify' ? modify(ctx, body, request) : operation === 'records/lookup' ? lookup(ctx, body, request) : query(ctx, body);
    if (typeof status === 'string') return fail(res, ctx, status, out);
    return answer(res, ctx, status, out);
  }

  // ---- control API ----

  const badControl = (res, message) => sendJson(res, 400, { error: { code: 400, message } });

  function parseFaultRule(body) {
    let code = body.serverErrorCode;
    if (code === undefined && body.status !== undefined) code = CODE_FOR_STATUS[body.status];
    if (!Object.hasOwn(ICLOUD_ERRORS, code ?? '')) {
      return { error: `serverErrorCode must be one of ${Object.keys(ICLOUD_ERRORS).join(', ')} (or status one of ${Object.keys(CODE_FOR_STATUS).join(', ')})` };
    }
    if (body.status !== undefined && body.serverErrorCode !== undefined && ICLOUD_ERRORS[code][0] !== body.status) {
      return { error: `${code} is HTTP ${ICLOUD_ERRORS[code][0]}, not ${body.status}` };
    }
    const count = body.count ?? 1;
    const skip = body.skip ?? 0;
    const scope = body.scope ?? 'request';
    if (!Number.isInteger(count) || count < 1) return { error: 'count must be an integer >= 1' };
    if (!Number.isInteger(skip) || skip < 0) return { error: 'skip must be an integer >= 0' };
    if (scope !== 'request' && scope !== 'record') return { error: 'scope must be request or record' };
    for (const key of ['method', 'path', 'operation', 'recordName', 'reason']) {
      if (body[key] !== undefined && (typeof body[key] !== 'string' || !body[key])) return { error: `${key} must be a non-empty string` };
    }
    if (body.operation !== undefined && !Object.hasOwn(OPERATIONS, body.operation)) return { error: `operation must be one of ${Object.keys(OPERATIONS).join(', ')}` };
    if (body.operationType !== undefined && !OPERATION_TYPES.has(body.operationType)) return { error: `operationType must be one of ${[...OPERATION_TYPES].join(', ')}` };
    if (body.exact !== undefined && (typeof body.exact !== 'boolean' || body.path === undefined)) return { error: 'exact must be a boolean, with path' };
    if (body.retryAfter !== undefined && body.retryAfter !== null && !(typeof body.retryAfter === 'number' && body.retryAfter >= 0)) return { error: 'retryAfter must be a number >= 0, or null' };
    return {
      rule: {
        kind: 'fail', serverErrorCode: code, status: ICLOUD_ERRORS[code][0], reason: body.reason, retryAfter: body.retryAfter,
        scope, remaining: count, skip, method: body.method?.toUpperCase(), path: body.path, exact: body.exact === true,
        operation: body.operation, operationType: body.operationType, recordName: body.recordName,
      },
    };
  }

  const control = {
    // Replaces common.mjs's `fail`: served after the request is authenticated
    // and parsed, so it can name an operation type or a record, answer one
    // record of a batch (scope "record"), and the token still rotates.
    'POST /__control/fail': async (req, res) => {
      const { rule, error } = parseFaultRule((await readJson(req)) ?? {});
      if (error) return badControl(res, `fail: ${error}`);
      faults.push(rule);
      sendJson(res, 200, { faults });
    },
    'POST /__control/tokens': async (req, res) => {
      const body = (await readJson(req)) ?? {};
      if (typeof body.user !== 'string' || !body.user) return badControl(res, 'user is required');
      if (body.token !== undefined && (typeof body.token !== 'string' || !body.token)) return badControl(res, 'token must be a non-empty string');
      const container = body.container ?? DEFAULT_ICLOUD_CONTAINER;
      const environment = body.environment ?? DEFAULT_ICLOUD_ENVIRONMENT;
      const ttlMs = body.keepSignedIn ? KEEP_SIGNED_IN_TTL_MS : webAuthTokenTtlMs;
      const token = issueToken({ user: body.user, container, environment, ttlMs }, body.token);
      sendJson(res, 200, { token, user: body.user, userRecordName: userRecordName(body.user, container), container, environment, expiresAt: tokens.get(token).expiresAt });
    },
    'POST /__control/expire': async (req, res) => {
      const body = (await readJson(req)) ?? {};
      if (typeof body.token !== 'string') return badControl(res, 'token is required');
      const entry = tokens.get(body.token);
      if (entry) entry.expiresAt = 0;
      sendJson(res, 200, { expired: Boolean(entry) });
    },
    'POST /__control/revoke': async (req, res) => {
      const body = (await readJson(req)) ?? {};
      if (typeof body.user !== 'string' || !body.user) return badControl(res, 'user is required');
      let revoked = 0;
      for (const [token, entry] of tokens) {
        if (entry.user === body.user) {
          tokens.delete(token);
          revoked += 1;
        }
      }
      sendJson(res, 200, { revoked });
    },
    'POST /__control/api-tokens': async (req, res) => {
      const body = (await readJson(req)) ?? {};
      if (typeof body.apiToken !== 'string' || !body.apiToken) return badControl(res, 'apiToken is required');
      const container = body.container ?? DEFAULT_ICLOUD_CONTAINER;
      const environment = body.environment ?? DEFAULT_ICLOUD_ENVIRONMENT;
      if (body.signInCallback !== undefined) {
        try {
          new URL(body.signInCallback);
        } catch {
          return badControl(res, 'signInCallback must be a URL');
        }
      }
      apiTokens.set(body.apiToken, { container, environment, signInCallback: body.signInCallback });
      sendJson(res, 200, { apiToken: body.apiToken, container, environment });
    },
    'POST /__control/quota': async (req, res) => {
      const body = (await readJson(req)) ?? {};
      if (typeof body.user !== 'string' || !body.user) return badControl(res, 'user is required');
      if (body.bytes === null) quotas.delete(body.user);
      else if (Number.isInteger(body.bytes) && body.bytes >= 0) quotas.set(body.user, body.bytes);
      else return badControl(res, 'bytes must be an integer >= 0, or null');
      sendJson(res, 200, { user: body.user, bytes: quotas.get(body.user) ?? null, used: usage(body.user) });
    },
    'GET /__control/records': async (_req, res, url) => {
      const user = url.searchParams.get('user');
      if (!user) return badControl(res, 'user is required');
      sendJson(res, 200, recordsOf(user, {
        container: url.searchParams.get('container') ?? undefined,
        environment: url.searchParams.get('environment') ?? undefined,
      }));
    },
  };

  /** `user`'s records, each with its container and environment; filtered by either if given. */
  function recordsOf(user, { container, environment } = {}) {
    const out = [];
    for (const [key, db] of databases) {
      const [c, e, u] = key.split('\n');
      if (u !== user || (container && c !== container) || (environment && e !== environment)) continue;
      for (const r of db.values()) out.push({ ...present(r), container: c, environment: e });
    }
    return out.sort((a, b) => a.created.timestamp - b.created.timestamp);
  }

  const standin = await startStandin({
    name: 'icloud',
    port,
    host,
    handle: withLatency(handle, delays, { answerPreflights: true }),
    // With a latency profile its preflights wait too (withLatency answers them).
    ...(delays ? { answersPreflight: false } : {}),
    control,
    errorBody: (status, _reason, _url, message) => icloudError(CODE_FOR_STATUS[status] ?? 'INTERNAL_ERROR', message),
    reset,
    onHeal: () => {
      faults = [];
    },
  });
  return {
    ...standin,
    /** The latency model (its profile name and recent draws), or null without one. */
    latency: delays,
    /** `user`'s records (Record Dictionaries with container and environment). */
    records: recordsOf,
    /** A fresh web auth token for `user`, as a sign-in would give. */
    issueToken: (user, options = {}) => issueToken({ user, ...options }),
    /** The records and schema, for keeping the demo's records across runs. */
    snapshot() {
      return {
        version: 1,
        databases: [...databases].map(([key, db]) => {
          const [container, environment, user] = key.split('\n');
          return { container, environment, user, records: [...db.values()].map(clone) };
        }),
        schema: [...schema],
      };
    },
    restore(snapshot) {
      if (snapshot?.version !== 1) throw new Error('not an iCloud stand-in snapshot (version 1)');
      for (const { container, environment, user, records } of snapshot.databases) {
        const db = databaseOf(container, environment, user);
        for (const r of records) {
          db.set(r.recordName, clone(r));
          lastTime = Math.max(lastTime, r.modified.timestamp);
        }
      }
      for (const [key, type] of snapshot.schema) schema.set(key, type);
    },
  };
}
