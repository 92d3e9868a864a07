// 2. Envelope speed and 3. Argon2id, in headless Chromium, module vs
// WebCrypto / hash-wasm in the same page and run; native Argon2id from
// bench/native-argon2 for the third column.
// Usage: node bench/crypto.mjs <native-argon2-binary>   → bench/out/crypto.json
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { startStatic } from './lib/static-server.mjs';
import { launchChromium } from './lib/chromium.mjs';
import { median, round } from './lib/stats.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const [nativeBin, nativeO3Bin] = process.argv.slice(2);
const QUICK = process.env.BENCH_QUICK === '1';

const server = await startStatic(ROOT, { isolate: true });
const { browser, version } = await launchChromium();

async function freshPage() {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(`${server.url}/bench/page/crypto.html`);
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 60_000 });
  return page;
}

const result = { chromium: version, envelope: {}, argon2: {} };
try {
  const page = await freshPage();
  result.crossOriginIsolated = await page.evaluate(() => crossOriginIsolated);
  result.exports = await page.evaluate(() => window.bench.exports);
  result.modulePath = (await page.evaluate(() => window.bench.encryptShareIsAsync))
    ? 'encryptShare / decryptShare (async: a Promise, WebCrypto inside)'
    : 'encryptShare / decryptShare (synchronous: the aes-gcm crate compiled to wasm)';
  for (const [label, size, ops] of [['8 KiB', 8 * 1024, 200], ['1 MiB', 1024 * 1024, 4]]) {
    const batches = QUICK ? 5 : 15;
    console.error(`envelope ${label}: ${batches} batches × ${ops} ops per side`);
    const raw = await page.evaluate((args) => window.bench.envelope(args), { size, batches, ops });
    const summary = {};
    for (const [impl, series] of Object.entries(raw)) {
      summary[impl] = { encrypt_us: round(median(series.encrypt_us), 1), decrypt_us: round(median(series.decrypt_us), 1) };
    }
    // ratio per batch pair (same moment, same noise), then the median of those
    const pairRatio = (op) => round(median(raw.module[op].map((m, i) => m / raw.webcrypto[op][i])), 2);
    result.envelope[label] = { size, ops_per_batch: ops, batches, ...summary,
      ratio_encrypt: pairRatio('encrypt_us'), ratio_decrypt: pairRatio('decrypt_us'), raw };
  }
  const flowRuns = QUICK ? 20 : 60;
  console.error(`envelope inside backupWallet: ${flowRuns} runs, alternating with WebCrypto`);
  const flow = await page.evaluate((args) => window.bench.flowEncrypt(args), { size: 8 * 1024, runs: flowRuns });
  result.flowEncrypt = { bytes: flow.bytes, runs: flowRuns, flow_us: round(median(flow.flow_us), 1), webcrypto_us: round(median(flow.webcrypto_us), 1),
    ratio: round(median(flow.flow_us.map((f, i) => f / flow.webcrypto_us[i])), 2), raw: flow };
  await page.close();

  // First call (wasm memory grows to 64 MiB) in a fresh page per side.
  for (const impl of ['module', 'hashwasm']) {
    const first = await freshPage();
    result.argon2[`first_${impl}`] = await first.evaluate((name) => window.bench.argonFirst(name), impl);
    await first.close();
  }
  const argonPage = await freshPage();
  result.argon2.params = await argonPage.evaluate(() => window.bench.params);
  await argonPage.evaluate(() => window.bench.argon({ runs: 1 })); // warm both
  const runs = QUICK ? 3 : 9;
  console.error(`argon2id: ${runs} rounds of module, hash-wasm and native, interleaved`);
  // Each round: the module and hash-wasm in the page (order alternating), then
  // the native binary (its second, warm derivation), so all three see the
  // same stretch of machine noise.
  Object.assign(result.argon2, { module_ms: [], hashwasm_ms: [], native_ms: [], native_o3_ms: [], native_first_ms_all: [] });
  for (let r = 0; r < runs; r++) {
    const round1 = await argonPage.evaluate((r) => window.bench.argonRound(r), r);
    result.argon2.module_ms.push(round1.module);
    result.argon2.hashwasm_ms.push(round1.hashwasm);
    const native = JSON.parse(execFileSync(nativeBin, ['1'], { encoding: 'utf8' }).trim());
    result.argon2.native_ms.push(native.runs_ms[0]);
    result.argon2.native_first_ms_all.push(native.first_ms);
    result.argon2.native_params = native.params;
    if (nativeO3Bin) result.argon2.native_o3_ms.push(JSON.parse(execFileSync(nativeO3Bin, ['1'], { encoding: 'utf8' }).trim()).runs_ms[0]);
  }
  await argonPage.close();
} finally {
  await browser.close();
  await server.close();
}

const a = result.argon2;
a.native_first_ms = median(a.native_first_ms_all);
a.median_ms = { module: round(median(a.module_ms), 1), hashwasm: round(median(a.hashwasm_ms), 1), native: round(median(a.native_ms), 1) };
a.ratio_module_vs_hashwasm = round(median(a.module_ms.map((m, i) => m / a.hashwasm_ms[i])), 2);
a.ratio_module_vs_native = round(median(a.module_ms.map((m, i) => m / a.native_ms[i])), 2);
if (a.native_o3_ms.length) {
  a.median_ms.native_o3 = round(median(a.native_o3_ms), 1);
  a.ratio_module_vs_native_o3 = round(median(a.module_ms.map((m, i) => m / a.native_o3_ms[i])), 2);
}

writeFileSync(new URL('out/crypto.json', import.meta.url), JSON.stringify(result, null, 2));
console.log(JSON.stringify({ envelope: Object.fromEntries(Object.entries(result.envelope).map(([k, v]) => [k, { module: v.module, webcrypto: v.webcrypto, ratio_encrypt: v.ratio_encrypt, ratio_decrypt: v.ratio_decrypt }])), argon2: a.median_ms, first: [a.first_module, a.first_hashwasm], ratios: [a.ratio_module_vs_hashwasm, a.ratio_module_vs_native] }, null, 1));
