// Runs one ONNX model several times on fixed inputs in headless Chromium (WebGPU on SwiftShader,
// and WASM) and compares the outputs bit for bit: run to run, and WebGPU against WASM.
//   node tests/e2e/diagnostics/repeat.mjs unet [--reps 3] [--url /scratch/x.onnx] [--fresh]
//        [--backends webgpu,wasm] [--bundle jsep|webgpu] [--poison]
// --poison: before each WebGPU run, run the same session once on NaN-filled float inputs, so every
// pooled GPU buffer it frees holds NaN: a kernel that reads stale pool data then shows NaN. [--opts '{"enableMemPattern":false}'] [--save tag]
// Feeds come from make_feeds.py ($DIAG_SCRATCH/feeds/<model>.json).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { startServer } from './serve.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    reps: { type: 'string', default: '3' },
    url: { type: 'string' },
    fresh: { type: 'boolean', default: false },
    backends: { type: 'string', default: 'webgpu,wasm' },
    opts: { type: 'string', default: '{}' },
    save: { type: 'string' },
    outputs: { type: 'string' },
    bundle: { type: 'string', default: 'jsep' },
    poison: { type: 'boolean', default: false },
  },
});
const model = positionals[0];
const scratch = process.env.DIAG_SCRATCH ?? '/tmp/onestep-diag';
const feeds = JSON.parse(readFileSync(path.join(scratch, 'feeds', `${model}.json`), 'utf8'));
const url = values.url ?? `/models/onestep-emoji/${model}/model.onnx`;
const reps = Number(values.reps);
const opts = JSON.parse(values.opts);
const outNames = values.outputs ? values.outputs.split(',') : null;

const server = await startServer();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    '--enable-unsafe-webgpu',
  ],
});
const f32 = (b64) => {
  const b = Buffer.from(b64, 'base64');
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};
const hash = (b64) => createHash('sha256').update(Buffer.from(b64, 'base64')).digest('hex').slice(0, 8);
function diff(a, b) {
  let max = 0,
    sum = 0,
    n = 0,
    nan = 0,
    nanA = 0,
    nanB = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i])) nanA++;
    if (Number.isNaN(b[i])) nanB++;
    if (Number.isNaN(a[i]) !== Number.isNaN(b[i])) {
      nan++;
      continue;
    }
    const d = Math.abs(a[i] - b[i]);
    if (d > 0) n++;
    if (d > max) max = d;
    sum += d || 0;
  }
  return { max, mean: sum / a.length, nDiff: n, nan, nanA, nanB };
}
try {
  const page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console.log(`  [page ${m.type()}] ${m.text().slice(0, 300)}`);
  });
  page.on('pageerror', (e) => console.log(`  [pageerror] ${e}`));
  await page.goto(`${server.url}page.html?bundle=${values.bundle}`);
  await page.waitForFunction(() => window.diagReady === true);
  const results = {};
  for (const backend of values.backends.split(',')) {
    const n = backend === 'wasm' ? 1 : reps;
    results[backend] = [];
    for (let r = 0; r < n; r++) {
      const key = values.fresh ? `${backend}${r}` : backend;
      if (r === 0 || values.fresh) {
        const t0 = Date.now();
        // Options apply to the WebGPU sessions only; WASM stays the plain reference.
        await page.evaluate(([k, u, b, o]) => window.openSession(k, u, b, o), [key, url, backend, backend === 'wasm' ? {} : opts]);
        console.log(`${backend}: session in ${Date.now() - t0} ms`);
      }
      if (values.poison && backend !== 'wasm') {
        const nan = Object.fromEntries(
          Object.entries(feeds).map(([k, v]) => [
            k,
            v.type !== 'float32'
              ? v
              : { ...v, b64: Buffer.from(new Float32Array(Buffer.from(v.b64, 'base64').length / 4).fill(NaN).buffer).toString('base64') },
          ]),
        );
        await page.evaluate(([k, f, o]) => window.runSession(k, f, o), [key, nan, outNames]);
      }
      const res = await page.evaluate(([k, f, o]) => window.runSession(k, f, o), [key, feeds, outNames]);
      console.log(
        `${backend} run ${r}: ${res.ms.toFixed(0)} ms  ` +
          Object.entries(res.outputs)
            .slice(0, 4)
            .map(([k, v]) => `${k}=${hash(v.b64)}`)
            .join(' '),
      );
      results[backend].push(res.outputs);
      if (values.fresh) await page.evaluate((k) => window.releaseSession(k), key);
    }
  }
  const gpu = results.webgpu ?? [];
  const cpu = results.wasm?.[0];
  const names = Object.keys(gpu[0] ?? cpu);
  const report = [];
  for (const name of names) {
    const row = { name, hashes: gpu.map((o) => hash(o[name].b64)) };
    if (gpu.length > 1) row.runToRun = gpu.slice(1).map((o) => diff(f32(gpu[0][name].b64), f32(o[name].b64)));
    if (cpu && gpu.length) row.vsWasm = gpu.map((o) => diff(f32(cpu[name].b64), f32(o[name].b64)));
    if (cpu) row.wasm = hash(cpu[name].b64);
    report.push(row);
  }
  for (const row of report) {
    const unstable = new Set(row.hashes).size > 1;
    console.log(
      `${unstable ? 'UNSTABLE' : 'stable  '} ${row.name}: webgpu ${row.hashes.join(' ')} wasm ${row.wasm ?? '-'}` +
        (row.runToRun ? `  run-to-run max ${row.runToRun.map((d) => d.max.toExponential(2)).join('/')}` : '') +
        (row.vsWasm ? `  NaNs ${row.vsWasm.map((d) => d.nanB).join('/')}` : '') +
        (row.vsWasm
          ? `  vs wasm max ${row.vsWasm.map((d) => d.max.toExponential(2)).join('/')} mean ${row.vsWasm.map((d) => d.mean.toExponential(2)).join('/')}`
          : ''),
    );
  }
  if (values.save) {
    const dir = path.join(scratch, 'out', values.save);
    mkdirSync(dir, { recursive: true });
    for (const [backend, runs] of Object.entries(results))
      runs.forEach((o, r) => {
        for (const [name, v] of Object.entries(o))
          writeFileSync(path.join(dir, `${backend}.${r}.${name.replace(/[^\w.-]/g, '_')}.bin`), Buffer.from(v.b64, 'base64'));
      });
    writeFileSync(path.join(dir, 'report.json'), JSON.stringify(report, null, 1));
  }
} finally {
  await browser.close();
  server.close();
}
