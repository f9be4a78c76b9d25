import * as ort from 'onnxruntime-web';
import { readFileSync } from 'node:fs';
ort.env.wasm.numThreads = 1;
const M = 'public/models/onestep-emoji';
const order = process.argv.slice(2);
let t = performance.now();
const id = await ort.InferenceSession.create(readFileSync(`${M}/vae_decoder/model.onnx`)); // runtime start stand-in
console.log('first session (decoder, starts runtime)', (performance.now() - t).toFixed(0));
for (const net of order) {
  const bytes = readFileSync(`${M}/${net}/model.onnx`);
  t = performance.now();
  const s = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: process.env.LEVEL ?? 'all' });
  console.log(net, (performance.now() - t).toFixed(0), 'ms');
}
