// docs/openapi.yaml's error codes and the Worker's `ErrorCode` enum
// (worker/src/error.rs) name the same codes, both ways.
//
// The Worker's list comes from the enum itself: worker/examples/error_codes.rs
// prints `ErrorCode::ALL` as JSON (`cargo run --example error_codes`; a few
// seconds once `cargo test` has built the crate, longer from cold). The
// document's list is every `code` an error body's schema allows (`enum` or
// `const` under `error.properties.code`) and, for the first direction, every
// code its examples show.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import SwaggerParser from '@apidevtools/swagger-parser';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOCUMENT = fileURLToPath(new URL('../../docs/openapi.yaml', import.meta.url));

async function workerCodes() {
  const { stdout } = await promisify(execFile)(
    process.env.CARGO ?? 'cargo',
    ['run', '--quiet', '--package', 'portal-backup-worker', '--example', 'error_codes'],
    { cwd: ROOT, maxBuffer: 1024 * 1024 },
  );
  const codes = JSON.parse(stdout);
  assert.ok(Array.isArray(codes) && codes.length > 0 && codes.every((c) => typeof c === 'string'), stdout);
  assert.equal(new Set(codes).size, codes.length, `a code is listed twice: ${stdout}`);
  return codes;
}

/** The codes a schema fragment allows: `{ enum: [...] }` or `{ const: X }`. */
function allowed(schema) {
  if (schema === null || typeof schema !== 'object') return [];
  if (Array.isArray(schema.enum)) return schema.enum;
  if ('const' in schema) return [schema.const];
  return [];
}

/**
 * Walks the parsed (not dereferenced) document: `schema` collects the codes
 * of every `properties: { error: { properties: { code } } }`; `example`
 * collects every `{ error: { code } }` value under an example.
 */
function documentCodes(api) {
  const schema = new Set();
  const example = new Set();
  const walk = (node, inExample) => {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const item of node) walk(item, inExample);
      return;
    }
    const code = node.properties?.error?.properties?.code;
    for (const c of allowed(code)) schema.add(c);
    if (inExample && typeof node.error?.code === 'string') example.add(node.error.code);
    for (const [key, value] of Object.entries(node)) walk(value, inExample || key === 'example' || key === 'examples');
  };
  walk(api, false);
  return { schema, example };
}

test("docs/openapi.yaml's error codes are exactly the Worker's ErrorCode enum", { timeout: 300_000 }, async (t) => {
  const started = Date.now();
  const [codes, api] = await Promise.all([workerCodes(), SwaggerParser.parse(DOCUMENT)]);
  t.diagnostic(`${codes.length} codes from cargo run --example error_codes in ${Date.now() - started} ms`);
  const enumCodes = new Set(codes);
  const { schema, example } = documentCodes(api);
  assert.ok(schema.size > 0, 'no error code enums found in docs/openapi.yaml: has the ErrorBody shape changed?');

  const unknownInSchemas = [...schema].filter((c) => !enumCodes.has(c));
  assert.deepEqual(unknownInSchemas, [], 'codes docs/openapi.yaml allows that the Worker never answers');
  const unknownInExamples = [...example].filter((c) => !enumCodes.has(c));
  assert.deepEqual(unknownInExamples, [], 'codes docs/openapi.yaml shows in examples that the Worker never answers');
  const undocumented = codes.filter((c) => !schema.has(c));
  assert.deepEqual(undocumented, [], 'codes the Worker answers that no response in docs/openapi.yaml allows');
});

test('the walk finds codes where docs/openapi.yaml puts them', () => {
  // A guard on the walk itself, so that an empty or partial collection cannot
  // pass the check above by accident.
  const api = {
    paths: {
      '/x': {
        get: {
          responses: {
            400: {
              content: {
                'application/json': {
                  schema: { allOf: [{ $ref: '#/e' }, { properties: { error: { properties: { code: { enum: ['A', 'B'] } } } } }] },
                  examples: { one: { value: { error: { code: 'C', message: 'm' } } } },
                },
              },
            },
          },
        },
      },
    },
    components: { schemas: { E: { allOf: [{ properties: { error: { properties: { code: { const: 'D' } } } } }] } } },
  };
  const { schema, example } = documentCodes(api);
  assert.deepEqual([...schema].sort(), ['A', 'B', 'D']);
  assert.deepEqual([...example], ['C']);
});
