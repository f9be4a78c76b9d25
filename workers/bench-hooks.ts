/**
 * Bench-only measurements, reached from the page only when it was opened with `?bench=1`
 * (bench/run.mjs). The app never calls these.
 *
 * - rawStageRuns: the three stages of one image, each timed alone through the app's own stage
 *   functions. The app's per-image time divided by their sum is our overhead (tokenising,
 *   caches, queue, messaging, pixels).
 * - matmulPeak: the GFLOP/s the same runtime (same ORT build, threads, backend) reaches on a big
 *   square MatMul: the practical ceiling the per-stage GFLOP/s are compared against.
 */
import type * as ort from 'onnxruntime-web';
import type { Backend } from '../src/shared/types';
import type { LoadedModel } from './load-model';
import { decodeLatents } from './pipeline/decode';
import { denoiseOneStep } from './pipeline/denoise-one-step';
import { encodeText } from './pipeline/encode-text';
import { gaussianNoise, normalizeSeed } from './pipeline/noise';
import { activeOrt } from './runtime/ort';
import { createSession } from './runtime/session';

/** What a raw run needs of the loaded model. */
export type RawModel = Pick<LoadedModel, 'manifest' | 'tokenizer' | 'textEncoder' | 'unet' | 'decoder'>;

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

const timed = async <T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> => {
  const t0 = performance.now();
  const value = await f();
  return { ms: performance.now() - t0, value };
};

/**
 * The three stages of one image through the app's own stage functions (encodeText,
 * denoiseOneStep with the manifest's rule and scales, decodeLatents), each timed alone with its
 * inputs made outside the clock: what the per-image time would be without the rest of the app.
 */
export async function rawStageRuns(m: RawModel, prompt: string, seed: number): Promise<RawStageTimes> {
  const { manifest } = m;
  const ids = (await m.tokenizer.get()).encode(prompt);
  const encoder = await m.textEncoder.get();
  const enc = await timed(() => encodeText(encoder, manifest, ids, 1));
  const { channels, height, width } = manifest.latent;
  const noise = gaussianNoise(normalizeSeed(seed), channels * height * width);
  const unet = await timed(() => denoiseOneStep(m.unet, manifest, noise, enc.value, 1));
  const dec = await timed(() => decodeLatents(m.decoder, manifest, unet.value, 1));
  return { encode: enc.ms, denoise: unet.ms, decode: dec.ms, total: enc.ms + unet.ms + dec.ms };
}

/** Times `reps` runs of an n×n×n MatMul model (inputs A, B) on `backend`; returns ms per run. */
export async function matmulPeak(modelBytes: Uint8Array, n: number, reps: number, backend: Backend): Promise<number[]> {
  const session = await createSession(modelBytes, backend);
  try {
    const a = new (activeOrt().Tensor)(
      'float32',
      Float32Array.from({ length: n * n }, (_, i) => ((i % 7) - 3) / 7),
      [n, n],
    );
    const b = new (activeOrt().Tensor)(
      'float32',
      Float32Array.from({ length: n * n }, (_, i) => ((i % 5) - 2) / 5),
      [n, n],
    );
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
