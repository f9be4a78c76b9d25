// What the weights' format costs a session: a graph as it shipped before packing (int8/int4 bytes
// rebuilt by constants that ORT folds at session creation; read from git, default the last commit
// with them) against the shipped packed graph (workers/runtime/packed-graph.ts rebuilds its fp32
// weights in JS, then ORT takes them as external data), in onnxruntime-web's WASM build under
// Node, one thread. Prints session creation (median, p95), the JS rebuild, their sum against the
// inline graph's session (ratio of medians, alternating reps), run times, the output difference
// (0: same numbers) and the process's RSS growth after creation (each in a fresh process).
// Asserts nothing.
//   node bench/weights-format.mjs [graph=unet] [reps=7] [git ref of the inline graphs=19ae1bf]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packedGraphReader } from './lib/packed-graph.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const ortUrl = new URL('../node_modules/onnxruntime-web/dist/ort.wasm.min.mjs', import.meta.url).href;
const [graph = 'unet', repsArg = '7', before = '19ae1bf', child] = process.argv.slice(2);
const modelDir = path.join(root, 'public/models/onestep-emoji');
const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, 'manifest.json'), 'utf8'));
const packedFile = path.join(modelDir, manifest.files[graph].path);
const inlineBytes = () =>
  new Uint8Array(
    execFileSync('git', ['show', `${before}:public/models/onestep-emoji/${graph}/model.onnx`], { cwd: root, maxBuffer: 1 << 30 }),
  );

const { unpackGraph } = await packedGraphReader();
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const p95 = (a) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * 0.95))];

async function ortModule() {
  const ort = await import(ortUrl);
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  return ort;
}
/** [graph bytes, session options, rebuild ms] as the page would hand them over. */
const variants = {
  inline: async () => [inlineBytes(), {}, 0],
  packed: async () => {
    const bytes = new Uint8Array(fs.readFileSync(packedFile)); // (the page has them from IndexedDB)
    const t0 = performance.now();
    const { graph: g, externalData } = unpackGraph(bytes);
    return [g, { externalData }, performance.now() - t0];
  },
};

if (child) {
  // One variant in a fresh process: the RSS its session creation leaves behind.
  const ort = await ortModule();
  const [bytes, options] = await variants[child]();
  const baseline = process.memoryUsage().rss;
  await ort.InferenceSession.create(bytes, options); // kept open: its memory is what is measured
  console.log(JSON.stringify({ rssMiB: (process.memoryUsage().rss - baseline) / 2 ** 20 }));
  process.exit(0);
}

const ort = await ortModule();
const feeds = () =>
  Object.fromEntries(
    // (the teacher's UNet has the student's inputs)
    Object.entries((manifest.tensors[graph] ?? manifest.tensors[graph.replace(/_teacher$/, '')]).inputs).map(([name, t], k) => {
      const shape = t.shape.map((d) => (typeof d === 'string' ? 1 : d));
      const n = shape.reduce((a, b) => a * b, 1);
      return [
        name,
        t.dtype === 'int64'
          ? new ort.Tensor(
              'int64',
              BigInt64Array.from({ length: n }, () => (name === 'timestep' ? 999n : 101n)),
              shape,
            )
          : new ort.Tensor(
              'float32',
              Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + k) * 0.8),
              shape,
            ),
      ];
    }),
  );
// The runtime's own start is not part of either: one throwaway session first.
await (await ort.InferenceSession.create(...(await variants.packed()).slice(0, 2))).release();
const reps = Number(repsArg);
const created = { inline: [], packed: [] };
const rebuilt = [];
const runs = { inline: [], packed: [] };
const outputs = {};
for (let r = 0; r < reps; r++)
  for (const k of r % 2 ? ['packed', 'inline'] : ['inline', 'packed']) {
    const [bytes, options, rebuildMs] = await variants[k]();
    if (k === 'packed') rebuilt.push(rebuildMs);
    const t0 = performance.now();
    const s = await ort.InferenceSession.create(bytes, options);
    created[k].push(performance.now() - t0);
    for (let i = 0; i < 3; i++) {
      const t1 = performance.now();
      const out = await s.run(feeds());
      runs[k].push(performance.now() - t1);
      outputs[k] = Object.values(out)[0].data;
    }
    await s.release();
  }
let maxDiff = 0;
for (let i = 0; i < outputs.inline.length; i++) maxDiff = Math.max(maxDiff, Math.abs(outputs.inline[i] - outputs.packed[i]));
const rss = Object.fromEntries(
  Object.keys(variants).map((k) => [
    k,
    JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), graph, '1', before, k], { encoding: 'utf8' })).rssMiB,
  ]),
);
for (const k of ['inline', 'packed'])
  console.log(
    `${graph} ${k.padEnd(6)}: session ${median(created[k]).toFixed(0)} ms median (p95 ${p95(created[k]).toFixed(0)}, n=${reps}), ` +
      `run ${median(runs[k]).toFixed(1)} ms, RSS +${rss[k].toFixed(0)} MiB after creation`,
  );
const packedTotal = created.packed.map((c, i) => c + rebuilt[i]);
console.log(
  `${graph} packed: rebuilding the weights in JS ${median(rebuilt).toFixed(0)} ms median (p95 ${p95(rebuilt).toFixed(0)}); ` +
    `rebuild + session ${median(packedTotal).toFixed(0)} ms = ${(median(packedTotal) / median(created.inline)).toFixed(3)}× the inline session ` +
    `(session alone ${(median(created.packed) / median(created.inline)).toFixed(3)}×); max |output difference| ${maxDiff.toExponential(2)}`,
);
