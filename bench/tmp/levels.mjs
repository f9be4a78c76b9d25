import * as ort from 'onnxruntime-web';
import { readFileSync } from 'node:fs';
ort.env.wasm.numThreads = 1;
const files = process.argv.slice(2);
const levels = (process.env.LEVELS ?? 'disabled,basic,all').split(',');
const feedsFor = (s) => {
  const f = {};
  for (const [i, name] of s.inputNames.entries()) {
    const md = s.inputMetadata?.[i];
    const shape = md?.shape?.map((d) => (typeof d === 'number' ? d : 1)) ?? [1];
    const type = md?.type ?? 'float32';
    const n = shape.reduce((a, b) => a * b, 1);
    const data = type === 'int64' ? new BigInt64Array(n).fill(1n) : new Float32Array(n).fill(0.1);
    f[name] = new ort.Tensor(type, data, shape);
  }
  return f;
};
const warm = await ort.InferenceSession.create(readFileSync(files[0]));
await warm.release();
for (const file of files) {
  const bytes = readFileSync(file);
  for (const level of levels) {
    const creates = [], runs = [];
    for (let rep = 0; rep < 3; rep++) {
      const t0 = performance.now();
      const s = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: level, freeDimensionOverrides: { batch: 1, sequence: 20, batch_size: 1, sequence_length: 20 } });
      creates.push(performance.now() - t0);
      const feeds = feedsFor(s);
      await s.run(feeds);
      const a = performance.now(); await s.run(feeds); runs.push(performance.now() - a);
      await s.release();
    }
    const med = (x) => x.sort((a, b) => a - b)[1].toFixed(0);
    console.log(file.split('/').slice(-2).join('/'), level, 'create', med(creates), 'ms; run', med(runs), 'ms');
  }
}
