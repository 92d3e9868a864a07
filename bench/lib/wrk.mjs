// Runs wrk with a generated Lua script and returns its numbers as JSON.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const lua = (s) => `[==[${s}]==]`;

/**
 * spec: {method, path, headers, body} or {method, path, headers, bodies: [..]} (one picked at random per request)
 * → {requests, rps, p50_ms, p99_ms, mean_ms, errors, non2xx}
 */
export async function wrk(baseUrl, spec, { connections = 16, seconds = 10, scriptPath }) {
  const headers = Object.entries(spec.headers ?? {}).map(([k, v]) => `wrk.headers[ ${lua(k)} ] = ${lua(v)}`).join('\n');
  const bodies = spec.bodies ?? (spec.body !== undefined ? [spec.body] : []);
  writeFileSync(scriptPath, `
wrk.method = ${lua(spec.method)}
wrk.path = ${lua(spec.path)}
${headers}
local bodies = { ${bodies.map(lua).join(',\n')} }
statuses = {}
local threads = {}
setup = function(thread) table.insert(threads, thread) end
request = function()
  if #bodies == 0 then return wrk.format() end
  return wrk.format(nil, nil, nil, bodies[math.random(1, #bodies)])
end
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
done = function(summary, latency, requests)
  local e = summary.errors
  local codes = {}
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do table.insert(codes, string.format('"%d":%d', code, count)) end
  end
  io.write(string.format('BENCH_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,"statuses":{%s}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, table.concat(codes, ',')))
end
`);
  const { stdout } = await run('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', scriptPath, `${baseUrl}${spec.path}`], { maxBuffer: 1 << 24 });
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`);
  const r = JSON.parse(line.slice('BENCH_JSON '.length));
  return {
    requests: r.requests, rps: r.requests / (r.duration_us / 1e6), p50_ms: r.p50_us / 1000, p99_ms: r.p99_us / 1000, mean_ms: r.mean_us / 1000,
    non2xx: r.status, errors: r.connect + r.read + r.write + r.timeout, statuses: r.statuses,
  };
}
