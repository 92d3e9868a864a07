// The Rust wire types (src/wire.rs) and docs/openapi.yaml's schemas, kept in
// step both ways:
//
// - every Rust type, written by serde from samples built as the Worker
//   builds its answers (worker/examples/wire_contract.rs), matches its
//   component schema (Ajv 2020-12, as contract.mjs checks live answers);
// - every example in the document (whole bodies and the parts of them
//   that have a schema of their own) matches the document's schema, reads
//   into the Rust type and writes back as the same JSON, and a request
//   body's example also passes the Worker's own checks (`validate`);
// - a field renamed on one side only is caught: each property of each
//   schema renamed in a copy of the document fails some sample, and each
//   key of each example renamed fails in Rust;
// - every component schema either has a Rust type or is listed below as a
//   part of fields, and every Rust type has at least one example here.
//
// The Rust side is `cargo run --example wire_contract` (a few seconds once
// `cargo test` has built the crate, longer from cold).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { CONTRACT_PATH, isJsonObjectText } from './contract.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Component schemas that describe a field, not a body: no Rust type of their own. */
const FIELD_SCHEMAS = new Set([
  'SafeId', 'EnvelopeText', 'BackupSharePairIds', 'ShareText', 'ShareTextSent',
  // The open base that ClientBackupSummaryOnly and ClientBackup close.
  'ClientBackupSummary',
  // ErrorBody with its code fixed (the Rust type is ErrorBody).
  'MethodNotAllowedError',
]);
const OPERATIONS = ['get', 'put', 'post', 'delete', 'options', 'patch'];

/** Runs the Rust half with `examples` ({schema, value}[]) on stdin. */
function rust(examples) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.env.CARGO ?? 'cargo',
      ['run', '--quiet', '--package', 'portal-backup-worker', '--example', 'wire_contract'],
      { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`wire_contract exited ${code}:\n${stderr}`));
      else resolve(JSON.parse(stdout));
    });
    child.stdin.end(JSON.stringify(examples.map(({ schema, value }) => ({ schema, value }))));
  });
}

/** Ajv as contract.mjs sets it up, with a cache per schema object. */
function validatorFor() {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
  addFormats(ajv);
  ajv.addFormat('json-object', { type: 'string', validate: isJsonObjectText });
  const compiled = new Map();
  return (schema, value) => {
    if (!compiled.has(schema)) compiled.set(schema, ajv.compile(schema));
    const validate = compiled.get(schema);
    // Messages without the schema's values (the share pattern alone is 3,727 characters).
    return validate(value) ? [] : validate.errors.map((e) => `${e.instancePath || '/'} ${e.keyword} (${e.schemaPath})`);
  };
}

/**
 * The document's examples: for each media type of each request body and
 * response (dereferenced, so a component schema is one object wherever it
 * is used), every example value with the component schemas it and its
 * parts are of. `names` maps a component schema object to its name (those
 * with a Rust type only).
 */
function documentExamples(api, names, problems) {
  const found = [];
  // The parts of `value` that have a component schema of their own.
  const parts = (schema, value, where, out) => {
    if (schema === null || typeof schema !== 'object') return;
    const name = names.get(schema);
    if (name) out.push({ schema: name, value, where });
    for (const member of schema.allOf ?? []) parts(member, value, where, out);
    for (const alternative of schema.oneOf ?? []) {
      if (problems(alternative, value).length === 0) parts(alternative, value, where, out);
    }
    if (Array.isArray(value) && schema.items) value.forEach((item, i) => parts(schema.items, item, `${where}[${i}]`, out));
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, property] of Object.entries(schema.properties ?? {})) {
        if (key in value) parts(property, value[key], `${where}.${key}`, out);
      }
    }
  };
  const media = (content, where) => {
    for (const [type, { schema, examples = {}, example }] of Object.entries(content ?? {})) {
      const values = Object.entries(examples).map(([name, { value }]) => [name, value]);
      if (example !== undefined) values.push(['example', example]);
      for (const [name, value] of values) {
        const at = `${where} ${type} example ${name}`;
        const out = [];
        parts(schema, value, at, out);
        found.push({ where: at, schema, value, parts: out });
      }
    }
  };
  for (const [path, item] of Object.entries(api.paths)) {
    for (const method of OPERATIONS) {
      const operation = item[method];
      if (!operation) continue;
      media(operation.requestBody?.content, `${method.toUpperCase()} ${path} request`);
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        media(response.content, `${method.toUpperCase()} ${path} ${status}`);
      }
    }
    if (item['x-other-methods']) media(item['x-other-methods'].content, `other methods on ${path}`);
  }
  if (api['x-unmatched-paths']) media(api['x-unmatched-paths'].content, 'unmatched paths');
  return found;
}

/** Every (path, key) of the objects in `value`, with a copy where that key is renamed. */
function renamings(value) {
  const out = [];
  const walk = (node, path, rebuild) => {
    if (Array.isArray(node)) {
      node.forEach((item, i) => walk(item, `${path}[${i}]`, (changed) => rebuild(node.map((x, j) => (j === i ? changed : x)))));
    } else if (node !== null && typeof node === 'object') {
      for (const key of Object.keys(node)) {
        const renamed = Object.fromEntries(Object.entries(node).map(([k, v]) => [k === key ? `${k}Renamed` : k, v]));
        out.push({ path: `${path}.${key}`, value: rebuild(renamed) });
        walk(node[key], `${path}.${key}`, (changed) => rebuild({ ...node, [key]: changed }));
      }
    }
  };
  walk(value, '', (changed) => changed);
  return out;
}

describe('src/wire.rs and docs/openapi.yaml', { timeout: 600_000 }, () => {
  let parsed;
  let api;
  let names;
  let problems;
  let examples;
  let renamed;
  let answer;

  before(async () => {
    parsed = await SwaggerParser.parse(CONTRACT_PATH);
    api = await SwaggerParser.dereference(structuredClone(parsed));
    names = new Map(Object.entries(api.components.schemas).filter(([name]) => !FIELD_SCHEMAS.has(name)).map(([name, schema]) => [schema, name]));
    problems = validatorFor();
    examples = documentExamples(api, names, problems);
    const parts = examples.flatMap((example) => example.parts);
    // Each key of each whole example renamed: Rust must refuse every one.
    renamed = examples.flatMap((example) => {
      const top = example.parts.find((part) => part.where === example.where);
      if (!top) return [];
      return renamings(example.value).map(({ path, value }) => ({ schema: top.schema, value, where: `${example.where}${path}` }));
    });
    answer = await rust([...parts, ...renamed]);
    answer.parts = parts;
  });

  test('every component schema has a Rust type or is a part of fields', () => {
    const components = Object.keys(api.components.schemas);
    const unmapped = components.filter((name) => !answer.schemas.includes(name) && !FIELD_SCHEMAS.has(name));
    assert.deepEqual(unmapped, [], 'schemas in docs/openapi.yaml with no Rust type (add one to worker/examples/wire_contract.rs)');
    const missing = answer.schemas.filter((name) => !components.includes(name));
    assert.deepEqual(missing, [], 'Rust types whose schema docs/openapi.yaml lacks');
  });

  test("the document's examples match its own schemas", () => {
    assert.ok(examples.length >= 20, `only ${examples.length} examples found`);
    const wrong = examples.flatMap(({ where, schema, value }) => problems(schema, value).map((p) => `${where}: ${p}`));
    assert.deepEqual(wrong, []);
  });

  test('every Rust type has an example in the document', () => {
    const covered = new Set(answer.parts.map((part) => part.schema));
    assert.deepEqual(answer.schemas.filter((name) => !covered.has(name)), []);
  });

  test("the document's examples read into the Rust types and write back the same", () => {
    const failed = answer.parts
      .map((part, i) => [part, answer.examples[i]])
      .filter(([, error]) => error !== null)
      .map(([part, error]) => `${part.where} as ${part.schema}: ${error}`);
    assert.deepEqual(failed, []);
  });

  test('each Rust type written from its samples matches its schema', () => {
    const wrong = [];
    for (const [name, samples] of Object.entries(answer.samples)) {
      assert.ok(samples.length > 0, `no sample of ${name}`);
      samples.forEach((sample, i) => {
        for (const p of problems(api.components.schemas[name], sample)) wrong.push(`${name} sample ${i}: ${p}`);
      });
    }
    assert.deepEqual(wrong, []);
  });

  test('an example with a field renamed does not read into the Rust type', () => {
    assert.ok(renamed.length > 50, `only ${renamed.length} renamed examples`);
    const offset = answer.parts.length;
    const accepted = renamed.filter((_, i) => answer.examples[offset + i] === null).map(({ where }) => where);
    assert.deepEqual(accepted, [], 'Rust read these examples although a field was renamed');
  });

  test('a property renamed in the document fails a Rust sample', async () => {
    const missed = [];
    let checked = 0;
    for (const name of answer.schemas) {
      const schema = parsed.components.schemas[name];
      // The schema's own properties and those of its allOf members written inline.
      const holders = [schema, ...(schema.allOf ?? []).filter((member) => !member.$ref)];
      for (const [h, holder] of holders.entries()) {
        for (const property of Object.keys(holder.properties ?? {})) {
          const copy = structuredClone(parsed);
          const target = h === 0 ? copy.components.schemas[name] : copy.components.schemas[name].allOf.filter((m) => !m.$ref)[h - 1];
          target.properties[`${property}Renamed`] = target.properties[property];
          delete target.properties[property];
          if (target.required) target.required = target.required.map((r) => (r === property ? `${property}Renamed` : r));
          const changed = await SwaggerParser.dereference(copy);
          const check = validatorFor();
          const bites = answer.samples[name].some((sample) => check(changed.components.schemas[name], sample).length > 0);
          if (!bites) missed.push(`${name}.${property}`);
          checked++;
        }
      }
    }
    assert.ok(checked >= 20, `only ${checked} properties renamed`);
    assert.deepEqual(missed, [], 'renamed in the document only, yet every Rust sample still matches');
  });
});
