/**
 * Which backend runs the sessions, and ORT's one-time environment.
 *
 * WebGPU first when `navigator.gpu` yields an adapter that has every feature the manifest
 * requires; otherwise WASM, with the reason kept for the status line. Which onnxruntime-web build
 * then runs the sessions follows from the backend (runtime/ort.ts).
 */
import { Fp16UnsupportedError, WebGPUUnavailableError } from '../../src/shared/errors';
import type { Backend } from '../../src/shared/types';

export type BackendPreference = 'auto' | 'webgpu' | 'wasm';

export interface BackendChoice {
  backend: Backend;
  /** Why WebGPU is not used (null when it is, or when WASM was asked for). */
  note: string | null;
  threads: number;
}

let chosenThreads: number | null = null;

/**
 * WASM threads for this worker, fixed by its first load (ORT's thread pool is made once).
 * `requested` (the page's ?threads=N, used by the benchmarks to compare thread counts) overrides
 * the default.
 */
export function wasmThreads(requested?: number): number {
  if (chosenThreads !== null) return chosenThreads;
  // Threads need SharedArrayBuffer, i.e. a cross-origin-isolated page (COOP/COEP headers).
  // ORT's own default is ceil(cores / 2), which is 1 on a 2-core laptop: set it explicitly.
  const wanted = requested && requested > 0 ? Math.min(16, Math.trunc(requested)) : Math.min(4, navigator.hardwareConcurrency || 1);
  chosenThreads = self.crossOriginIsolated ? Math.max(1, wanted) : 1;
  return chosenThreads;
}

/**
 * `requestedThreads`: the page's ?threads=N (benchmarks). `wasmOk` false (float16 graphs): a
 * device without the WebGPU features gets a clear refusal, not a WASM session that fails deep in
 * ORT or takes minutes per image.
 */
export async function chooseBackend(
  preference: BackendPreference,
  requiredFeatures: readonly string[],
  requestedThreads?: number,
  wasmOk = true,
): Promise<BackendChoice> {
  const threads = wasmThreads(requestedThreads);
  if (preference === 'wasm' && wasmOk) return { backend: 'wasm', note: null, threads };

  let note: string;
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) {
    note = 'this browser has no WebGPU';
  } else {
    let adapter: GPUAdapter | null = null;
    try {
      adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    } catch {
      adapter = null;
    }
    if (!adapter) {
      note = 'no WebGPU adapter is available';
    } else {
      const missing = requiredFeatures.filter((f) => !adapter.features.has(f));
      if (missing.length === 0) return { backend: 'webgpu', note: null, threads };
      if (preference === 'webgpu' || !wasmOk) throw new Fp16UnsupportedError(`the GPU lacks ${missing.join(', ')}, which this model needs`);
      note = `the GPU lacks ${missing.join(', ')}`;
    }
  }
  if (preference === 'webgpu') throw new WebGPUUnavailableError(`WebGPU was requested but ${note}`);
  if (!wasmOk) throw new Fp16UnsupportedError(`this model needs WebGPU with ${requiredFeatures.join(', ') || 'float16'}, but ${note}`);
  return { backend: 'wasm', note, threads };
}
