// `npm run bench`: every benchmark of issue 7 in one run, on the built app in headless Chromium.
// Prints figures; asserts nothing. Writes bench/results/<name>.json and bench/results/<name>.md and
// rewrites the README block between <!-- bench:begin --> and <!-- bench:end -->.
//
//   npm run bench                               everything (≈ 25 min on 2 busy cores; 1,000 generations dominate)
//   npm run bench -- --reps 9 --gens 200        fewer repetitions
//   npm run bench -- --only latency,overhead    some sections: latency overhead limit explore teacher threads cold memory size profile webgpu
//   npm run bench -- --backends wasm            skip WebGPU (on SwiftShader it takes ~80 s per image)
//   npm run bench -- --gpu                      a machine with a GPU: WebGPU on real hardware (bench/gpu.sh)
//   npm run bench -- --no-build --no-readme     reuse dist/, leave the README alone
//   npm run bench -- --render                   only rewrite the README table from bench/results/*.json
//   BENCH_CHROMIUM_ARGS="--js-flags=..." npm run bench   extra Chromium switches, for a diagnostic run
//   npm run bench -- --tuning <commit> [--change "what changed"]
//                                               only before/after: <commit>'s build vs this one → tuning-<commit>-<HEAD>.json
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPreview } from '../tests/e2e/preview-server.mjs';
import { buildCommit, serveDir } from './lib/base-build.mjs';
import { launch, openApp } from './lib/browser.mjs';
import { loadFlops } from './lib/flops.mjs';
import { describeMachine, loadSampler } from './lib/machine.mjs';
import { parseOptions } from './lib/options.mjs';
import { renderHistory, renderMarkdown, updateReadme } from './lib/report.mjs';
import * as coldStart from './sections/cold-start.mjs';
import * as explore from './sections/explore.mjs';
import * as latency from './sections/latency.mjs';
import * as limit from './sections/limit.mjs';
import * as memory from './sections/memory.mjs';
import * as opProfile from './sections/op-profile.mjs';
import * as overhead from './sections/overhead.mjs';
import * as size from './sections/size.mjs';
import * as teacher from './sections/teacher.mjs';
import * as threads from './sections/threads.mjs';
import * as tuning from './sections/tuning.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const modelDir = path.join(root, 'public/models/onestep-emoji');
const log = (...a) => console.log(...a);

async function section(results, key, fn) {
  log(`— ${key}`);
  const t0 = Date.now();
  try {
    results[key] = await fn();
  } catch (err) {
    // One failing section must not lose the others' figures; the error is recorded instead.
    log(`  ${key} failed: ${err.stack ?? err}`);
    results[key] = { error: String(err.message ?? err) };
  }
  log(`  (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
}

async function runBrowserSide(mode, opts, baseUrl, out, manifest) {
  const b = await launch(mode);
  try {
    out.browser = b.version;
    out.label = b.label;
    const want = (s) => opts.only.has(s);
    const context = await b.browser.newContext();
    try {
      const page = await openApp(context, baseUrl, { backend: b.backend });
      out.adapter = await page.evaluate(async () => {
        const a = await navigator.gpu?.requestAdapter?.();
        return a
          ? {
              ...['vendor', 'architecture', 'device', 'description'].reduce((o, k) => ({ ...o, [k]: a.info?.[k] }), {}),
              isFallbackAdapter: a.info?.isFallbackAdapter ?? null,
            }
          : null;
      });
      if (mode === 'gpu' && (!out.adapter || out.adapter.isFallbackAdapter || out.adapter.architecture === 'swiftshader')) {
        throw new Error(`no hardware WebGPU adapter (got ${JSON.stringify(out.adapter)}): not a GPU run`);
      }
      out.backend = await page.getAttribute('#status', 'data-backend');
      out.status = await page.textContent('#status');
      out.crossOriginIsolated = await page.evaluate(() => crossOriginIsolated);
      const reps = b.backend === 'wasm' || mode === 'gpu' ? opts.reps : opts.webgpuReps;
      if (want('latency')) await section(out, 'latency', () => latency.run({ page, reps, log, typing: mode !== 'swiftshader' }));
      if (want('overhead')) await section(out, 'overhead', () => overhead.run({ page, reps, log }));
      if (want('limit') && b.backend === 'wasm') await section(out, 'matmulPeak', () => limit.run({ page, reps: 8, log }));
      // Not on SwiftShader: at ~80 s per image a drag paints nothing to count.
      if (want('explore') && mode !== 'swiftshader') await section(out, 'explore', () => explore.run({ page, reps, log }));
      if (want('teacher') && mode !== 'swiftshader')
        await section(out, 'teacher', () => teacher.run({ page, reps: opts.teacherReps, log }));
    } finally {
      await context.close();
    }
    if (mode === 'swiftshader') return;
    if (want('threads') && b.backend === 'wasm')
      await section(out, 'threads', () => threads.run({ browser: b.browser, baseUrl, reps: opts.reps, log }));
    if (want('cold'))
      await section(out, 'coldStart', () =>
        coldStart.run({ browser: b.browser, baseUrl, backend: b.backend, reps: opts.coldReps, log, manifest }),
      );
    if (want('memory'))
      await section(out, 'memory', () => memory.run({ browser: b.browser, baseUrl, backend: b.backend, gens: opts.gens, log }));
  } finally {
    await b.browser.close();
  }
}

async function runTuning(opts) {
  let tuningFile;
  const base = buildCommit(root, opts.tuning);
  const load = loadSampler();
  const before = await serveDir(base.dir);
  const after = await serveDir(root);
  const b = await launch('wasm');
  try {
    const rows = await tuning.run({ browser: b.browser, before, after, reps: opts.reps, coldReps: opts.coldReps, log });
    const change = opts.change ?? spawnSync('git', ['-C', root, 'log', '-1', '--format=%s'], { encoding: 'utf8' }).stdout.trim();
    const out = {
      when: new Date().toISOString(),
      machine: describeMachine(root),
      browser: b.version,
      before: opts.tuning,
      change,
      how: `this build vs ${opts.tuning}, WASM, same browser, alternating`,
      rows,
      loadDuringRun: load.stop(),
    };
    const afterCommit = spawnSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
    tuningFile = `tuning-${String(opts.tuning).slice(0, 12)}-${afterCommit}.json`;
    writeFileSync(path.join(root, 'bench/results', tuningFile), `${JSON.stringify(out, null, 2)}\n`);
  } finally {
    await b.browser.close();
    before.stop();
    after.stop();
    base.remove();
  }
  const md = renderMarkdown(root);
  writeFileSync(path.join(root, 'bench/results/README-table.md'), md);
  writeFileSync(path.join(root, 'bench/HISTORY.md'), renderHistory(root));
  if (opts.readme) updateReadme(root, md);
  log(`wrote bench/results/${tuningFile} and bench/HISTORY.md`);
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.renderOnly) {
    updateReadme(root, renderMarkdown(root));
    writeFileSync(path.join(root, 'bench/HISTORY.md'), renderHistory(root));
    return log('README table and bench/HISTORY.md rewritten from bench/results/*.json');
  }
  if (opts.build) {
    const r = spawnSync(process.execPath, [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], {
      cwd: root,
      stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error('vite build failed');
  }
  if (opts.tuning) return runTuning(opts);
  const manifestPath = path.join(modelDir, 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const results = {
    when: new Date().toISOString(),
    machine: describeMachine(root),
    options: { ...opts, only: [...opts.only] },
    model: `${manifest.id}@${manifest.version}`,
  };
  const load = loadSampler();
  results.flops = loadFlops(root, manifestPath, log);
  if (opts.only.has('size')) await section(results, 'size', () => size.run({ root, manifest, modelDir }));
  if (opts.only.has('profile')) await section(results, 'opProfile', () => opProfile.run({ root, manifest, modelDir, log }));

  const dir = path.join(root, 'bench/results');
  mkdirSync(dir, { recursive: true });
  // Written after each side too: a run stopped during the slow SwiftShader side keeps the rest.
  const save = () => writeFileSync(path.join(dir, `${opts.name}.json`), `${JSON.stringify(results, null, 2)}\n`);
  const server = await startPreview();
  try {
    for (const side of opts.sides) {
      results[side] = {};
      log(`== ${side}`);
      await runBrowserSide(side, opts, server.url, results[side], manifest).catch((err) => {
        log(`${side} failed: ${err.stack ?? err}`);
        results[side].error = String(err.message ?? err);
      });
      save();
    }
  } finally {
    server.stop();
  }
  results.loadDuringRun = load.stop();
  for (const side of opts.sides) {
    const r = results[side];
    if (r.overhead?.rawStagesMs) r.limit = limit.achieved(results.flops, r.overhead.rawStagesMs, r.matmulPeak?.gflops?.median);
  }

  save();
  if (opts.readme) {
    const md = renderMarkdown(root);
    writeFileSync(path.join(dir, 'README-table.md'), md);
    writeFileSync(path.join(root, 'bench/HISTORY.md'), renderHistory(root));
    updateReadme(root, md);
  }
  log(`wrote bench/results/${opts.name}.json${opts.readme ? ' and the README table' : ''}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
