/**
 * Bench-only measurements, reached from the page only when it was opened with `?bench=1`
 * (bench/run.mjs). The app never calls these.
 *
 * - rawStageRuns: the three `session.run` calls of one image, timed alone, on the same inputs the
 *   app would use (ids, noise and decoder input are prepared outside the clock). The app's
 *   per-image time divided by their sum is our overhead (tokenising, copies, messaging, pixels).
 * - matmulPeak: the GFLOP/s the same runtime (same ORT build, threads, backend) reaches on a big
 *   square MatMul: the practical ceiling the per-stage GFLOP/s are compared against.
 */
import type * as ort from 'onnxruntime-web';
import type { Backend, Manifest } from '../src/shared/types';
import { x0FromEps } from './pipeline/denoise-one-step';
import { gaussianNoise, normalizeSeed } from './pipeline/noise';
import type { PromptTokenizer } from './pipeline/tokenize';
import { activeOrt } from './runtime/ort';
import { createSession } from './runtime/session';

export interface RawModel {
  manifest: Manifest;
  backend: Backend;
  tokenizer: PromptTokenizer;
  textEncoder: ort.InferenceSession;
  unet: ort.InferenceSession;
  decoder: ort.InferenceSession;
}

export interface RawStageTimes {
  encode: number;
  denoise: number;
  decode: number;
  total: number;
}

async function timedRun(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<{ ms: number; data: Float32Array }> {
  const t0 = performance.now();
  const out = await session.run(feeds);
  const first = out[session.outputNames[0]];
  // getData is part of a raw run on WebGPU (the read-back); on WASM it returns the data already copied.
  const data = (await first.getData()) as Float32Array;
  const ms = performance.now() - t0;
  for (const t of Object.values(out)) t.dispose();
  return { ms, data };
}

export async function rawStageRuns(m: RawModel, prompt: string, seed: number): Promise<RawStageTimes> {
  const { manifest } = m;
  const seq = manifest.tokenizer.max_length;
  const ids = m.tokenizer.encode(prompt);
  const enc = await timedRun(m.textEncoder, { [m.textEncoder.inputNames[0]]: new (activeOrt().Tensor)('int64', ids, [1, seq]) });

  const { channels, height, width } = manifest.latent;
  const noise = gaussianNoise(normalizeSeed(seed), channels * height * width);
  const dim = enc.data.length / seq;
  const unet = await timedRun(m.unet, {
    sample: new (activeOrt().Tensor)('float32', noise, [1, channels, height, width]),
    timestep: new (activeOrt().Tensor)('int64', BigInt64Array.from([BigInt(manifest.one_step.timestep)]), [1]),
    encoder_hidden_states: new (activeOrt().Tensor)('float32', enc.data, [1, seq, dim]),
  });

  const inv = 1 / manifest.vae.scaling_factor;
  const latent = x0FromEps(noise, unet.data, manifest.one_step.alpha_bar).map((v) => v * inv);
  const dec = await timedRun(m.decoder, { [m.decoder.inputNames[0]]: new (activeOrt().Tensor)('float32', latent, [1, channels, height, width]) });
  return { encode: enc.ms, denoise: unet.ms, decode: dec.ms, total: enc.ms + unet.ms + dec.ms };
}

/** Times `reps` runs of an n×n×n MatMul model (inputs A, B) on `backend`; returns ms per run. */
export async function matmulPeak(modelBytes: Uint8Array, n: number, reps: number, backend: Backend): Promise<number[]> {
  const session = await createSession(modelBytes, backend);
  try {
    const a = new (activeOrt().Tensor)('float32', Float32Array.from({ length: n * n }, (_, i) => ((i % 7) - 3) / 7), [n, n]);
    const b = new (activeOrt().Tensor)('float32', Float32Array.from({ length: n * n }, (_, i) => ((i % 5) - 2) / 5), [n, n]);
    const times: number[] = [];
    for (let i = 0; i < reps + 1; i++) {
      const r = await timedRun(session, { A: a, B: b });
      if (i > 0) times.push(r.ms); // the first run pays allocation and kernel set-up
    }
    return times;
  } finally {
    await session.release();
  }
}
