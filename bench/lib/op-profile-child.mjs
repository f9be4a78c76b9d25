// Child of sections/op-profile.mjs: runs one network in onnxruntime-web's WASM build under Node
// (the same MLAS kernels as the browser's CPU path) with ORT's profiler on. ORT prints the
// profile's JSON events on stdout when the session ends profiling; the parent parses them.
//   node op-profile-child.mjs <graph file: model.onnx or model.onnx.pack> <network> <threads> <runs>
import * as ort from 'onnxruntime-web';
import { readGraphFile } from './packed-graph.mjs';

const [file, network, threads, runs] = process.argv.slice(2);
ort.env.wasm.numThreads = Number(threads);
const { graph, externalData } = await readGraphFile(file);
const session = await ort.InferenceSession.create(graph, {
  externalData,
  executionProviders: ['wasm'],
  graphOptimizationLevel: 'all',
  enableProfiling: true,
});
const f32 = (n) => Float32Array.from({ length: n }, (_, i) => Math.sin(i));
const feeds = {
  text_encoder: () => ({
    input_ids: new ort.Tensor('int64', BigInt64Array.from([101n, 2417n, 6207n, 102n, ...Array(16).fill(0n)]), [1, 20]),
  }),
  unet: () => ({
    sample: new ort.Tensor('float32', f32(1024), [1, 4, 16, 16]),
    timestep: new ort.Tensor('int64', BigInt64Array.from([999n]), [1]),
    encoder_hidden_states: new ort.Tensor('float32', f32(20 * 384), [1, 20, 384]),
  }),
  vae_decoder: () => ({ latent_sample: new ort.Tensor('float32', f32(1024), [1, 4, 16, 16]) }),
}[network]();
console.log(`#runs ${Number(runs) + 1}`);
for (let i = 0; i < Number(runs) + 1; i++) await session.run(feeds);
session.endProfiling();
