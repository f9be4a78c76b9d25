// What the stored weights' format costs a session: a graph as shipped (int8/int4 bytes rebuilt by
// constants that ORT folds at session creation) against the same graph folded offline with its fp32
// weights handed over as external data (bench/fold_weights.py), in onnxruntime-web's WASM build under
// Node, one thread. Prints session creation (median, p95, ratio of medians, alternating reps), the
// first and later run times, the output difference, the process's RSS growth after creation (each
// in a fresh process), and what rebuilding the weights in JS would cost. Asserts nothing.
//   node bench/weights-format.mjs [graph=unet] [reps=7]        (needs training/setup_env.sh's venv)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const ortUrl = new URL('../node_modules/onnxruntime-web/dist/ort.wasm.min.mjs', import.meta.url).href;
const [graph = 'unet', repsArg = '7', child] = process.argv.slice(2);
const model = path.join(root, 'public/models/onestep-emoji', graph, 'model.onnx');
const folded = path.join(os.tmpdir(), `onestep-folded-${graph}`);

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const p95 = (a) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * 0.95))];

async function ortModule() {
  const ort = await import(ortUrl);
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  return ort;
}
const variants = {
  stored: () => [fs.readFileSync(model), {}],
  folded: () => [
    fs.readFileSync(path.join(folded, 'model.onnx')),
    { externalData: [{ path: 'weights.bin', data: new Uint8Array(fs.readFileSync(path.join(folded, 'weights.bin'))) }] },
  ],
};

if (child) {
  // One variant in a fresh process: the RSS its session creation leaves behind.
  const ort = await ortModule();
  const [bytes, options] = variants[child]();
  const before = process.memoryUsage().rss;
  await ort.InferenceSession.create(bytes, options); // kept open: its memory is what is measured
  console.log(JSON.stringify({ rssMiB: (process.memoryUsage().rss - before) / 2 ** 20 }));
  process.exit(0);
}

const venv = execFileSync(path.join(root, 'training/setup_env.sh'), { encoding: 'utf8' }).trim();
console.log(
  execFileSync(path.join(venv, 'bin/python'), [path.join(root, 'bench/fold_weights.py'), model, folded], { encoding: 'utf8' }).trim(),
);
const ort = await ortModule();
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'public/models/onestep-emoji/manifest.json'), 'utf8'));
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
await (await ort.InferenceSession.create(...variants.folded())).release();
const reps = Number(repsArg);
const created = { stored: [], folded: [] };
const runs = { stored: [], folded: [] };
const outputs = {};
for (let r = 0; r < reps; r++)
  for (const k of r % 2 ? ['folded', 'stored'] : ['stored', 'folded']) {
    const [bytes, options] = variants[k]();
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
for (let i = 0; i < outputs.stored.length; i++) maxDiff = Math.max(maxDiff, Math.abs(outputs.stored[i] - outputs.folded[i]));
const rss = Object.fromEntries(
  Object.keys(variants).map((k) => [
    k,
    JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), graph, '1', k], { encoding: 'utf8' })).rssMiB,
  ]),
);
for (const k of ['stored', 'folded'])
  console.log(
    `${graph} ${k.padEnd(6)}: session ${median(created[k]).toFixed(0)} ms median (p95 ${p95(created[k]).toFixed(0)}, n=${reps}), ` +
      `run ${median(runs[k]).toFixed(1)} ms, RSS +${rss[k].toFixed(0)} MiB after creation`,
  );
console.log(
  `folded / stored session: ${(median(created.folded) / median(created.stored)).toFixed(3)}×; max |output difference| ${maxDiff.toExponential(2)}`,
);
// Rebuilding that many int8 weights in JS (one scale per 32 values), what the page would add.
const n = fs.statSync(path.join(folded, 'weights.bin')).size / 4;
const q = Int8Array.from({ length: n }, (_, i) => ((i * 7) % 255) - 127);
const scales = new Float32Array(Math.ceil(n / 32)).fill(0.01);
const w = new Float32Array(n);
const rebuild = [];
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) w[i] = q[i] * scales[i >> 5];
  rebuild.push(performance.now() - t0);
}
console.log(`rebuilding ${(n / 1e6).toFixed(2)} M weights from int8 in JS: ${median(rebuild).toFixed(0)} ms median`);
