// Stand-in for the Google Drive v3 REST API, the subset a browser needs to
// keep a small secret in the user's appDataFolder: multipart/media upload,
// list with q/orderBy/pageSize/pageToken/fields, get (alt=media), update,
// delete. Error bodies follow Google's format
// (developers.google.com/drive/api/guides/handle-errors).
import { createHash, randomBytes } from 'node:crypto';
import { bearerToken, readBody, readJson, sendEmpty, sendJson, startStandin } from './common.mjs';
import { latencyModel, withLatency } from './latency.mjs';

export const DEFAULT_DRIVE_PORT = 8791;
export const DEFAULT_DRIVE_TOKENS = Object.freeze({
  'drive-token-alice': 'alice',
  'drive-token-bob': 'bob',
});

const FOLDER_MIME = 'application/vnd.google-apps.folder';
const MULTIPART_MAX_BYTES = 5 * 1024 * 1024; // Google's limit for uploadType=multipart
const DEFAULT_FILE_FIELDS = ['kind', 'id', 'name', 'mimeType'];
const FILE_FIELDS = new Set(['kind', 'id', 'name', 'mimeType', 'parents', 'spaces', 'createdTime', 'modifiedTime', 'size', 'md5Checksum', 'trashed', 'version', 'appProperties', 'properties', 'description']);
const LIST_FIELDS = new Set(['kind', 'incompleteSearch', 'files', 'nextPageToken']);

// ---- Google error bodies -------------------------------------------------

function googleError(code, message, detail = {}, status) {
  const error = { code, message, errors: [{ message, domain: 'global', reason: 'badRequest', ...detail }] };
  if (status) error.status = status;
  return { error };
}

const invalidValue = (location, message = 'Invalid Value') =>
  googleError(400, message, { reason: 'invalid', location, locationType: 'parameter' });

const notFound = (fileId) =>
  googleError(404, `File not found: ${fileId}.`, { reason: 'notFound', location: 'fileId', locationType: 'parameter' });

const malformedMultipart = (why) => googleError(400, `Malformed multipart body. ${why}`, { reason: 'badContent' });

function unauthenticated(missing) {
  return missing
    ? googleError(
        401,
        'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
        { message: 'Login Required.', reason: 'required', location: 'Authorization', locationType: 'header' },
        'UNAUTHENTICATED',
      )
    : googleError(
        401,
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
        { message: 'Invalid Credentials', reason: 'authError', location: 'Authorization', locationType: 'header' },
        'UNAUTHENTICATED',
      );
}

/** The body Drive answers for an injected failure of `status` with `reason`. */
export function driveErrorBody(status, reason, url) {
  const fileId = /\/files\/([^/]+)/.exec(url?.pathname ?? '')?.[1] ?? 'unknown';
  const usage = (message, r) => googleError(status, message, { domain: 'usageLimits', reason: r });
  switch (status) {
    case 400:
      return googleError(400, 'Bad Request', { reason: reason ?? 'badRequest' });
    case 401:
      return unauthenticated(false);
    case 403:
      switch (reason ?? 'userRateLimitExceeded') {
        case 'userRateLimitExceeded':
          return usage('User rate limit exceeded.', 'userRateLimitExceeded');
        case 'rateLimitExceeded':
          return usage('Rate Limit Exceeded', 'rateLimitExceeded');
        case 'storageQuotaExceeded':
          return usage("The user's Drive storage quota has been exceeded.", 'storageQuotaExceeded');
        case 'dailyLimitExceeded':
          return usage('Daily Limit Exceeded', 'dailyLimitExceeded');
        case 'insufficientFilePermissions':
          return googleError(403, `The user does not have sufficient permissions for file ${fileId}.`, { reason: 'insufficientFilePermissions' });
        default:
          return googleError(403, 'The caller does not have permission', { reason: reason ?? 'forbidden' }, 'PERMISSION_DENIED');
      }
    case 404:
      return notFound(fileId);
    case 429:
      return usage('Rate Limit Exceeded', 'rateLimitExceeded');
    case 503:
      return googleError(503, 'The service is currently unavailable.', { reason: 'backendError' }, 'UNAVAILABLE');
    default:
      return googleError(status, 'Backend Error', { reason: 'backendError' });
  }
}

// ---- multipart/related ---------------------------------------------------

function boundaryOf(contentType) {
  const m = /^multipart\/related\s*;(.*)$/i.exec(contentType ?? '');
  if (!m) return null;
  const b = /(?:^|;)\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(m[1]);
  return b ? b[1] ?? b[2] : null;
}

function parseHeaders(text) {
  const headers = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line) continue;
    const i = line.indexOf(':');
    if (i <= 0) throw new Error(`bad part header line "${line}"`);
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return headers;
}

/** Splits a multipart body into [{headers, body: Buffer}]; throws Error on malformed input. */
export function parseMultipart(body, boundary) {
  const delimiter = Buffer.from(`--${boundary}`);
  if (!body.subarray(0, delimiter.length).equals(delimiter)) {
    // A preamble is allowed before the first delimiter, which then starts a line.
    const first = body.indexOf(Buffer.concat([Buffer.from('\n'), delimiter]));
    if (first < 0) throw new Error('no opening boundary');
    body = body.subarray(first + 1);
  }
  const parts = [];
  let pos = delimiter.length;
  for (;;) {
    if (body.subarray(pos, pos + 2).toString() === '--') return parts; // closing delimiter
    const eol = body.subarray(pos, pos + 2).toString() === '\r\n' ? 2 : body[pos] === 0x0a ? 1 : 0;
    if (!eol) throw new Error('boundary not followed by a line break');
    pos += eol;
    const next = body.indexOf(Buffer.concat([Buffer.from('\n'), delimiter]), pos);
    if (next < 0) throw new Error('missing closing boundary');
    let end = next;
    if (body[end - 1] === 0x0d) end -= 1;
    const part = body.subarray(pos, end);
    let split = part.indexOf('\r\n\r\n');
    let sepLen = 4;
    if (split < 0) {
      split = part.indexOf('\n\n');
      sepLen = 2;
    }
    if (split < 0) {
      // A part with no headers starts directly with its blank line.
      if (part.subarray(0, 2).toString() === '\r\n') [split, sepLen] = [0, 2];
      else if (part[0] === 0x0a) [split, sepLen] = [0, 1];
      else throw new Error('part without header/body separator');
    }
    parts.push({ headers: parseHeaders(part.subarray(0, split).toString('utf8')), body: part.subarray(split + sepLen) });
    pos = next + 1 + delimiter.length;
  }
}

// ---- q (search query) ----------------------------------------------------

function tokenize(q) {
  const tokens = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= q.length) throw new Error('unterminated string');
        if (q[i] === '\\' && i + 1 < q.length) {
          s += q[i + 1];
          i += 2;
        } else if (q[i] === "'") {
          i++;
          break;
        } else s += q[i++];
      }
      tokens.push({ type: 'string', value: s });
    } else if (c === '(' || c === ')' || c === '=') {
      tokens.push({ type: c });
      i++;
    } else if (q.startsWith('!=', i)) {
      tokens.push({ type: '!=' });
      i += 2;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(q.slice(i))[0];
      tokens.push({ type: 'word', value: m });
      i += m.length;
    } else throw new Error(`unexpected "${c}"`);
  }
  return tokens;
}

/** Compiles a Drive `q` into a predicate on file resources; throws on what it does not understand. */
export function compileQuery(q) {
  const tokens = tokenize(q);
  let i = 0;
  const peek = () => tokens[i];
  const isWord = (t, w) => t?.type === 'word' && t.value.toLowerCase() === w;
  const expect = (type) => {
    const t = tokens[i++];
    if (t?.type !== type) throw new Error(`expected ${type}`);
    return t;
  };

  function condition() {
    const t = tokens[i++];
    if (t?.type === 'string') {
      // 'X' in parents
      if (!isWord(tokens[i++], 'in') || !isWord(tokens[i++], 'parents')) throw new Error('expected in parents');
      return (f) => (f.parents ?? []).includes(t.value);
    }
    if (t?.type !== 'word') throw new Error('expected a field');
    const field = t.value;
    const op = tokens[i++];
    if (field === 'trashed') {
      if (op?.type !== '=' && op?.type !== '!=') throw new Error('bad operator for trashed');
      const v = tokens[i++];
      if (!isWord(v, 'true') && !isWord(v, 'false')) throw new Error('trashed takes true or false');
      const want = isWord(v, 'true') === (op.type === '=');
      return (f) => f.trashed === want;
    }
    if (field === 'name' || field === 'mimeType') {
      const value = tokens[i++];
      if (value?.type !== 'string') throw new Error('expected a string');
      if (op?.type === '=') return (f) => f[field] === value.value;
      if (op?.type === '!=') return (f) => f[field] !== value.value;
      if (field === 'name' && isWord(op, 'contains')) return (f) => f.name.includes(value.value);
      throw new Error(`bad operator for ${field}`);
    }
    throw new Error(`unsupported field ${field}`);
  }

  function term() {
    if (isWord(peek(), 'not')) {
      i++;
      const inner = term();
      return (f) => !inner(f);
    }
    if (peek()?.type === '(') {
      i++;
      const inner = expr();
      expect(')');
      return inner;
    }
    return condition();
  }

  function expr() {
    let left = term();
    for (;;) {
      if (isWord(peek(), 'and')) {
        i++;
        const l = left;
        const r = term();
        left = (f) => l(f) && r(f);
      } else if (isWord(peek(), 'or')) {
        i++;
        const l = left;
        const r = term();
        left = (f) => l(f) || r(f);
      } else return left;
    }
  }

  const predicate = expr();
  if (i !== tokens.length) throw new Error('trailing input');
  return predicate;
}

// ---- fields (partial response) -------------------------------------------

/** Parses Google's partial-response syntax into Map(name -> sub-selection | null for all). */
export function parseFields(fields) {
  let i = 0;
  const skip = () => {
    while (fields[i] === ' ') i++;
  };
  function item() {
    skip();
    const m = /^[A-Za-z_*][A-Za-z0-9_]*/.exec(fields.slice(i));
    if (!m) throw new Error('expected a field name');
    i += m[0].length;
    skip();
    let sub = null;
    if (fields[i] === '(') {
      i++;
      sub = list();
      skip();
      if (fields[i++] !== ')') throw new Error('expected )');
    } else if (fields[i] === '/') {
      i++;
      sub = new Map([item()]);
    }
    return [m[0], sub];
  }
  function list() {
    const out = new Map();
    for (;;) {
      const [name, sub] = item();
      out.set(name, sub);
      skip();
      if (fields[i] !== ',') return out;
      i++;
    }
  }
  const selection = list();
  if (i !== fields.length) throw new Error(`unexpected "${fields[i]}"`);
  return selection;
}

function project(value, selection, allowed, label) {
  if (selection.has('*')) return { ...value };
  const out = {};
  for (const name of selection.keys()) {
    if (!allowed.has(name)) throw new Error(`Invalid field selection ${label ? `${label}/` : ''}${name}`);
    if (value[name] === undefined) continue;
    out[name] = value[name];
  }
  return out;
}

// ---- the service ---------------------------------------------------------

function newFileId() {
  // Drive ids: 33 characters of [A-Za-z0-9_-], starting with "1".
  return `1${randomBytes(24).toString('base64url').slice(0, 32)}`;
}

/**
 * Starts the Drive stand-in. `latency`: 'none', 'realistic' or a profile
 * (tests/standins/latency.mjs); default the LATENCY_PROFILE environment
 * variable, else none. `latencySeed` seeds its jitter (else LATENCY_SEED).
 */
export async function startDrive({ port = 0, host, latency, latencySeed } = {}) {
  const delays = latencyModel('drive', { latency, seed: latencySeed });
  let tokens;
  let expired;
  let drives; // user -> Map(id -> stored file)
  let lastTime = 0;

  function reset() {
    tokens = new Map(Object.entries(DEFAULT_DRIVE_TOKENS));
    expired = new Set();
    drives = new Map();
  }
  reset();

  function driveOf(user) {
    if (!drives.has(user)) drives.set(user, new Map());
    return drives.get(user);
  }

  // Strictly increasing timestamps, even for two writes in the same millisecond.
  function timestamp() {
    lastTime = Math.max(Date.now(), lastTime + 1);
    return new Date(lastTime).toISOString();
  }

  function authenticate(req, res) {
    const token = bearerToken(req);
    const user = token && !expired.has(token) ? tokens.get(token) : undefined;
    if (!user) {
      sendJson(res, 401, unauthenticated(!token), { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' });
      return null;
    }
    return user;
  }

  function resource(file) {
    const { content: _content, ...meta } = file;
    return meta;
  }

  function fileFields(url, res) {
    const raw = url.searchParams.get('fields');
    if (!raw) return new Map(DEFAULT_FILE_FIELDS.map((f) => [f, null]));
    try {
      return parseFields(raw);
    } catch {
      sendJson(res, 400, invalidValue('fields', `Invalid field selection ${raw}`));
      return null;
    }
  }

  function answerFile(res, url, file, status = 200) {
    const selection = fileFields(url, res);
    if (!selection) return;
    try {
      sendJson(res, status, project(resource(file), selection, FILE_FIELDS));
    } catch (err) {
      sendJson(res, 400, googleError(400, err.message, { reason: 'invalidParameter', location: 'fields', locationType: 'parameter' }));
    }
  }

  function setContent(file, content, mimeType) {
    file.content = content;
    file.size = String(content.length);
    file.md5Checksum = createHash('md5').update(content).digest('hex');
    if (mimeType) file.mimeType = mimeType;
  }

  function createFile(user, metadata, content, contentType) {
    const parents = Array.isArray(metadata.parents) && metadata.parents.length ? metadata.parents.map(String) : ['root'];
    const now = timestamp();
    const file = {
      kind: 'drive#file',
      id: newFileId(),
      name: typeof metadata.name === 'string' ? metadata.name : 'Untitled',
      mimeType: metadata.mimeType ?? contentType ?? 'application/octet-stream',
      parents,
      spaces: parents.includes('appDataFolder') ? ['appDataFolder'] : ['drive'],
      createdTime: now,
      modifiedTime: now,
      trashed: false,
      version: '1',
    };
    for (const key of ['description', 'appProperties', 'properties']) if (metadata[key] !== undefined) file[key] = metadata[key];
    if (file.mimeType !== FOLDER_MIME) setContent(file, content ?? Buffer.alloc(0));
    driveOf(user).set(file.id, file);
    return file;
  }

  // Reads an upload request into {metadata, content, contentType} or answers 400.
  async function readUpload(req, res, url) {
    const uploadType = url.searchParams.get('uploadType');
    const body = await readBody(req);
    if (uploadType === 'media') {
      return { metadata: {}, content: body, contentType: req.headers['content-type'] };
    }
    if (uploadType !== 'multipart') {
      sendJson(res, 400, invalidValue('uploadType', `Invalid upload type "${uploadType ?? ''}": this stand-in supports multipart and media.`));
      return null;
    }
    if (body.length > MULTIPART_MAX_BYTES) {
      sendJson(res, 413, googleError(413, 'Request Too Large', { reason: 'uploadTooLarge' }));
      return null;
    }
    const boundary = boundaryOf(req.headers['content-type']);
    if (!boundary) {
      sendJson(res, 400, malformedMultipart('Content-Type must be multipart/related with a boundary.'));
      return null;
    }
    let parts;
    try {
      parts = parseMultipart(body, boundary);
    } catch (err) {
      sendJson(res, 400, malformedMultipart(err.message));
      return null;
    }
    if (parts.length !== 2) {
      sendJson(res, 400, malformedMultipart(`Expected 2 parts (metadata, media), got ${parts.length}.`));
      return null;
    }
    let metadata;
    try {
      metadata = JSON.parse(parts[0].body.toString('utf8'));
      if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) throw new Error();
    } catch {
      sendJson(res, 400, malformedMultipart('The first part must be the JSON metadata.'));
      return null;
    }
    return { metadata, content: parts[1].body, contentType: parts[1].headers['content-type'] };
  }

  function listFiles(res, url, user) {
    const p = url.searchParams;
    const spaces = (p.get('spaces') ?? 'drive').split(',').map((s) => s.trim());
    if (spaces.some((s) => !['drive', 'appDataFolder'].includes(s))) return sendJson(res, 400, invalidValue('spaces'));

    let predicate = () => true;
    if (p.has('q') && p.get('q').trim()) {
      try {
        predicate = compileQuery(p.get('q'));
      } catch {
        return sendJson(res, 400, invalidValue('q'));
      }
    }

    const keys = [];
    for (const clause of (p.get('orderBy') ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      const [field, dir, extra] = clause.split(/\s+/);
      if (!['createdTime', 'modifiedTime', 'name', 'name_natural'].includes(field) || (dir && dir !== 'desc') || extra) {
        return sendJson(res, 400, invalidValue('orderBy'));
      }
      keys.push({ field: field === 'name_natural' ? 'name' : field, desc: dir === 'desc' });
    }

    const pageSize = p.has('pageSize') ? Number(p.get('pageSize')) : 100;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
      return sendJson(res, 400, invalidValue('pageSize', `Invalid value '${p.get('pageSize')}'. Values must be within the range: [1, 1000]`));
    }

    let selection = new Map([['kind', null], ['incompleteSearch', null], ['files', new Map(DEFAULT_FILE_FIELDS.map((f) => [f, null]))], ['nextPageToken', null]]);
    if (p.get('fields')) {
      try {
        selection = parseFields(p.get('fields'));
      } catch {
        return sendJson(res, 400, invalidValue('fields', `Invalid field selection ${p.get('fields')}`));
      }
    }

    // The page token pins the query it belongs to, as Drive's does.
    const fingerprint = createHash('sha256').update(JSON.stringify([user, spaces, p.get('q'), p.get('orderBy')])).digest('hex').slice(0, 16);
    let offset = 0;
    if (p.get('pageToken')) {
      try {
        const token = JSON.parse(Buffer.from(p.get('pageToken'), 'base64url').toString('utf8'));
        if (token.f !== fingerprint || !Number.isInteger(token.o) || token.o < 0) throw new Error();
        offset = token.o;
      } catch {
        return sendJson(res, 400, invalidValue('pageToken'));
      }
    }

    const matching = [...driveOf(user).values()]
      .filter((f) => f.spaces.some((s) => spaces.includes(s)) && predicate(f))
      .sort((a, b) => {
        for (const { field, desc } of keys) {
          const c = a[field] < b[field] ? -1 : a[field] > b[field] ? 1 : 0;
          if (c) return desc ? -c : c;
        }
        return a.createdTime < b.createdTime ? -1 : 1;
      });
    const page = matching.slice(offset, offset + pageSize);
    const full = { kind: 'drive#fileList', incompleteSearch: false, files: page.map(resource) };
    if (offset + pageSize < matching.length) {
      full.nextPageToken = Buffer.from(JSON.stringify({ f: fingerprint, o: offset + pageSize })).toString('base64url');
    }
    try {
      const out = project(full, selection, LIST_FIELDS);
      if (out.files) {
        const all = new Map([['*', null]]);
        const fileSelection = selection.has('*') ? all : selection.get('files') ?? all;
        out.files = page.map((f) => project(resource(f), fileSelection, FILE_FIELDS, 'files'));
      }
      sendJson(res, 200, out);
    } catch (err) {
      sendJson(res, 400, googleError(400, err.message, { reason: 'invalidParameter', location: 'fields', locationType: 'parameter' }));
    }
  }

  async function handle(req, res, url) {
    const path = url.pathname;
    const fileMatch = /^\/drive\/v3\/files\/([^/]+)$/.exec(path);
    const uploadMatch = /^\/upload\/drive\/v3\/files(?:\/([^/]+))?$/.exec(path);
    if (!(path === '/drive/v3/files' || fileMatch || uploadMatch)) {
      return sendJson(res, 404, googleError(404, 'Not Found', { reason: 'notFound' }));
    }
    const user = authenticate(req, res);
    if (!user) return;
    const files = driveOf(user);

    if (uploadMatch && req.method === 'POST' && !uploadMatch[1]) {
      const upload = await readUpload(req, res, url);
      if (!upload) return;
      return answerFile(res, url, createFile(user, upload.metadata, upload.content, upload.contentType));
    }
    if (uploadMatch && req.method === 'PATCH' && uploadMatch[1]) {
      const file = files.get(decodeURIComponent(uploadMatch[1]));
      if (!file) {
        await readBody(req);
        return sendJson(res, 404, notFound(decodeURIComponent(uploadMatch[1])));
      }
      const upload = await readUpload(req, res, url);
      if (!upload) return;
      if (typeof upload.metadata.name === 'string') file.name = upload.metadata.name;
      setContent(file, upload.content, upload.metadata.mimeType ?? upload.contentType);
      file.modifiedTime = timestamp();
      file.version = String(Number(file.version) + 1);
      return answerFile(res, url, file);
    }
    if (path === '/drive/v3/files' && req.method === 'GET') return listFiles(res, url, user);
    if (path === '/drive/v3/files' && req.method === 'POST') {
      // Metadata-only create (a folder, or an empty file).
      const metadata = (await readJson(req).catch(() => null)) ?? {};
      return answerFile(res, url, createFile(user, metadata, Buffer.alloc(0), undefined));
    }
    if (fileMatch) {
      const fileId = decodeURIComponent(fileMatch[1]);
      const file = files.get(fileId);
      if (!file) {
        await readBody(req);
        return sendJson(res, 404, notFound(fileId));
      }
      if (req.method === 'GET') {
        if (url.searchParams.get('alt') === 'media') {
          if (file.mimeType === FOLDER_MIME) {
            return sendJson(res, 403, googleError(403, 'Only files with binary content can be downloaded. Use Export with Docs Editors files.', { reason: 'fileNotDownloadable', location: 'alt', locationType: 'parameter' }));
          }
          res.writeHead(200, { 'Content-Type': file.mimeType, 'Content-Length': file.content.length });
          return res.end(file.content);
        }
        return answerFile(res, url, file);
      }
      if (req.method === 'PATCH') {
        const metadata = (await readJson(req).catch(() => null)) ?? {};
        if (typeof metadata.name === 'string') file.name = metadata.name;
        // files.update: "Entries with null values are cleared in update and copy requests."
        for (const key of ['appProperties', 'properties']) {
          if (!metadata[key] || typeof metadata[key] !== 'object') continue;
          const merged = { ...(file[key] ?? {}) };
          for (const [name, value] of Object.entries(metadata[key])) {
            if (value === null) delete merged[name];
            else merged[name] = String(value);
          }
          file[key] = merged;
        }
        file.modifiedTime = timestamp();
        return answerFile(res, url, file);
      }
      if (req.method === 'DELETE') {
        files.delete(fileId);
        return sendEmpty(res, 204);
      }
    }
    sendJson(res, 405, googleError(405, 'Method Not Allowed', { reason: 'httpMethodNotAllowed' }));
  }

  const control = {
    'POST /__control/tokens': async (req, res) => {
      const body = (await readJson(req)) ?? {};
      if (typeof body.token !== 'string' || !body.token || typeof body.user !== 'string' || !body.user) {
        return sendJson(res, 400, { error: { code: 400, message: 'token and user are required' } });
      }
      tokens.set(body.token, body.user);
      expired.delete(body.token);
      sendJson(res, 200, { user: body.user });
    },
    'POST /__control/expire': async (req, res) => {
      const body = (await readJson(req)) ?? {};
      if (typeof body.token !== 'string') return sendJson(res, 400, { error: { code: 400, message: 'token is required' } });
      expired.add(body.token);
      sendJson(res, 200, { expired: true });
    },
    'GET /__control/files': async (_req, res, url) => {
      const user = url.searchParams.get('user');
      if (!user) return sendJson(res, 400, { error: { code: 400, message: 'user is required' } });
      const list = [...driveOf(user).values()].map((f) => ({
        ...resource(f),
        content: f.content?.toString('utf8'),
        contentBase64: f.content?.toString('base64'),
      }));
      sendJson(res, 200, list);
    },
  };

  const standin = await startStandin({
    name: 'drive', port, host, handle: withLatency(handle, delays, { answerPreflights: true }), control, errorBody: driveErrorBody, reset,
    // With a latency profile its preflights wait too (withLatency answers them).
    ...(delays ? { answersPreflight: false } : {}),
  });
  return {
    ...standin,
    /** The latency model (its profile name and recent draws), or null without one. */
    latency: delays,
    /** Every file of `user`, content included (Buffers). */
    files(user) {
      return [...driveOf(user).values()].map((f) => ({ ...f }));
    },
  };
}
