// The Worker's HTTP contract, docs/openapi.yaml, checked on a response.
//
// @apidevtools/swagger-parser validates the document against the OpenAPI 3.1
// schema and resolves its $refs; Ajv's 2020-12 validator (the dialect of
// OpenAPI 3.1 schemas) checks bodies and header values. What this file adds
// is the lookup, strict where OpenAPI tools are usually lenient:
// - the path must be one of the document's paths, else the answer must be
//   the document's `x-unmatched-paths` response (404 ROUTE_NOT_FOUND);
// - a method the path does not list must get its `x-other-methods` response
//   (405 with `Allow`);
// - the status must be listed for the operation (no `default` fallback);
// - every required header must be there and every documented header's value
//   must match its schema; a header that the document names somewhere but
//   not for this response (a CORS header on a webhook, `Retry-After` on a
//   400, ...) is a violation too;
// - a response with content must have a documented Content-Type and a body
//   that matches the schema; one without content must have an empty body.
import { fileURLToPath } from 'node:url';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

export const CONTRACT_PATH = fileURLToPath(new URL('../../docs/openapi.yaml', import.meta.url));

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

export class ContractViolation extends Error {
  constructor(request, status, problems) {
    super(`${request.method} ${request.path} -> ${status} breaks docs/openapi.yaml:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ContractViolation';
    this.problems = problems;
  }
}

export function isJsonObjectText(text) {
  try {
    const value = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  } catch {
    return false;
  }
}

function pathRegex(template) {
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith('{') ? '([^/]+)' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}

/**
 * The checker for a (dereferenced) OpenAPI document. `loadContract()` reads
 * docs/openapi.yaml; tests may pass a changed copy to see a check bite.
 */
export function contractFor(api) {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
  addFormats(ajv);
  ajv.addFormat('json-object', { type: 'string', validate: isJsonObjectText });
  const compiled = new Map();
  const validator = (schema) => {
    if (!compiled.has(schema)) compiled.set(schema, ajv.compile(schema));
    return compiled.get(schema);
  };
  const schemaErrors = (schema, value) => {
    const validate = validator(schema);
    return validate(value) ? [] : ajv.errorsText(validate.errors, { separator: '; ' });
  };

  const paths = Object.entries(api.paths).map(([template, item]) => ({ template, item, regex: pathRegex(template) }));
  // Every header name the document mentions: one of these on a response
  // that does not list it is a violation.
  const knownHeaders = new Set();
  const collect = (node, seen = new Set()) => {
    if (!node || typeof node !== 'object' || seen.has(node)) return;
    seen.add(node);
    if (node.headers && typeof node.headers === 'object' && node.description !== undefined) {
      for (const name of Object.keys(node.headers)) knownHeaders.add(name.toLowerCase());
    }
    for (const value of Object.values(node)) collect(value, seen);
  };
  collect(api.paths);
  collect(api.components?.responses);
  knownHeaders.delete('content-type');
  // Compile every response schema now: a schema Ajv cannot compile fails
  // the first test, not only the one that meets that response.
  const responses = [api['x-unmatched-paths']];
  for (const { item } of paths) {
    responses.push(item['x-other-methods']);
    for (const method of HTTP_METHODS) responses.push(...Object.values(item[method]?.responses ?? {}));
  }
  for (const response of responses.filter(Boolean)) {
    for (const header of Object.values(response.headers ?? {})) validator(header.schema ?? {});
    for (const media of Object.values(response.content ?? {})) if (media.schema) validator(media.schema);
  }

  /** The documented response for a request and status, or problems. */
  function lookup(method, pathname, status) {
    const match = paths.find((p) => p.regex.test(pathname));
    if (!match) {
      return { where: 'x-unmatched-paths', response: api['x-unmatched-paths'], expectedStatus: 404 };
    }
    const operation = match.item[method.toLowerCase()];
    if (!operation || !HTTP_METHODS.includes(method.toLowerCase())) {
      return { where: `${match.template} x-other-methods`, response: match.item['x-other-methods'], expectedStatus: 405 };
    }
    const where = `${method.toUpperCase()} ${match.template}`;
    const response = operation.responses[String(status)];
    if (!response) {
      return { where, problem: `status ${status} is not documented for ${where} (documented: ${Object.keys(operation.responses).join(', ')})` };
    }
    return { where, response };
  }

  function checkHeaders(response, headers, problems) {
    const documented = new Map(Object.entries(response.headers ?? {}).map(([name, h]) => [name.toLowerCase(), h]));
    for (const [name, header] of documented) {
      const value = headers.get(name);
      if (value === null) {
        if (header.required) problems.push(`required header ${name} is missing`);
        continue;
      }
      const schema = header.schema ?? {};
      // Header values are text; an integer schema is checked on the number.
      const typed = schema.type === 'integer' && /^-?\d+$/.test(value) ? Number(value) : value;
      const errors = schemaErrors(schema, typed);
      if (errors.length) problems.push(`header ${name}: ${JSON.stringify(value)} ${errors}`);
    }
    for (const [name] of headers) {
      if (knownHeaders.has(name) && !documented.has(name)) problems.push(`header ${name} is not documented for this response`);
    }
  }

  function checkBody(response, headers, text, problems) {
    const content = response.content;
    if (!content) {
      if (text.length) problems.push(`no body is documented, got ${JSON.stringify(text.slice(0, 80))}`);
      return;
    }
    const contentType = headers.get('content-type');
    const essence = contentType?.split(';')[0].trim().toLowerCase();
    const media = essence && content[essence];
    if (!media) {
      problems.push(`Content-Type ${JSON.stringify(contentType)} is not documented (documented: ${Object.keys(content).join(', ')})`);
      return;
    }
    if (!media.schema) return;
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      problems.push(`body is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
      return;
    }
    const errors = schemaErrors(media.schema, body);
    if (errors.length) problems.push(`body ${JSON.stringify(body).slice(0, 200)}: ${errors}`);
  }

  return {
    api,
    /**
     * Problems with one exchange: `request` is `{method, path}` (path may
     * carry a query), `response` is `{status, headers, text}` with a
     * WHATWG `Headers`. An empty list means the document allows it.
     */
    problems(request, response) {
      const pathname = new URL(request.path, 'http://worker.test').pathname;
      const found = lookup(request.method ?? 'GET', pathname, response.status);
      if (found.problem) return [found.problem];
      if (!found.response) return [`the document has no ${found.where} response`];
      const problems = [];
      if (found.expectedStatus !== undefined && response.status !== found.expectedStatus) {
        problems.push(`${found.where}: expected ${found.expectedStatus}, got ${response.status}`);
      }
      checkHeaders(found.response, response.headers, problems);
      checkBody(found.response, response.headers, response.text, problems);
      return problems.map((p) => (p.startsWith(found.where) ? p : `${found.where}: ${p}`));
    },
  };
}

let loaded;
/** The checker for docs/openapi.yaml (validated against OpenAPI 3.1 first). */
export function loadContract() {
  loaded ??= SwaggerParser.validate(CONTRACT_PATH).then(contractFor);
  return loaded;
}

/** Resolves `$ref`s of a document object (for tests that change a copy). */
export function dereference(api) {
  return SwaggerParser.dereference(structuredClone(api));
}

/** How many responses this process checked (reported at exit). */
export const checked = { responses: 0 };
process.on('exit', () => {
  if (checked.responses > 0) process.stderr.write(`contract: ${checked.responses} responses matched docs/openapi.yaml\n`);
});

/**
 * Wraps `send(path, init) -> Response` so that every response is checked
 * against docs/openapi.yaml before the caller sees it; a response the
 * document does not allow throws a ContractViolation (failing the test).
 */
export function checkedFetch(send) {
  return async (path, init = {}) => {
    const contract = await loadContract();
    const response = await send(path, init);
    const request = { method: (init.method ?? 'GET').toUpperCase(), path };
    const text = await response.clone().text();
    const problems = contract.problems(request, { status: response.status, headers: response.headers, text });
    if (problems.length) throw new ContractViolation(request, response.status, problems);
    checked.responses++;
    return response;
  };
}
