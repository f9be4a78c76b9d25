/**
 * Which onnxruntime-web build runs this worker's sessions.
 *
 * The package ships two builds of the same runtime, both served from our own origin:
 *   - JSEP (`onnxruntime-web`): WebGPU and CPU kernels; its .wasm (28 MB) is instrumented so that
 *     WASM code can wait on the GPU;
 *   - plain WASM (`onnxruntime-web/wasm`): CPU kernels only (14 MB).
 * On the CPU path the plain build is much quicker: a cold start with the model in IndexedDB went
 * from ~9–12 s to ~5–6 s to the first image in Chromium here (session creation: text encoder ~4 s →
 * ~2.3 s, UNet ~2.4 s → ~1.2 s; README "Benchmarks"). So the backend picks the build: WebGPU →
 * JSEP, WASM → plain. A worker that loses its GPU and reloads on WASM switches to the plain build.
 *
 * Tensors must come from the build whose session they feed (ORT checks `instanceof Tensor`):
 * every module takes ORT from `activeOrt()` here and never imports the package's values itself.
 */
import type * as Ort from 'onnxruntime-web';
// Vite copies both files into our build output and gives their URLs: never a CDN.
import jsepWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';
import plainWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import type { Backend } from '../../src/shared/types';

export type OrtModule = typeof Ort;

const builds: Partial<Record<Backend, Promise<OrtModule>>> = {};
let active: OrtModule | null = null;

/** Loads (once) and configures the build for `backend`; a failed load is tried again next time. */
export function loadOrtBuild(backend: Backend, threads: number): Promise<OrtModule> {
  builds[backend] ??= (backend === 'webgpu' ? import('onnxruntime-web') : import('onnxruntime-web/wasm')).then(
    (ort) => {
      ort.env.wasm.wasmPaths = { wasm: backend === 'webgpu' ? jsepWasmUrl : plainWasmUrl };
      ort.env.wasm.numThreads = threads;
      ort.env.wasm.proxy = false; // we are already in a worker
      if (backend === 'webgpu') ort.env.webgpu.powerPreference = 'high-performance';
      ort.env.logLevel = 'error';
      return ort;
    },
    (err: unknown) => {
      delete builds[backend];
      throw err;
    },
  );
  return builds[backend];
}

/** Makes the build for `backend` the one sessions and tensors use (loading it if needed). */
export async function useOrtFor(backend: Backend, threads: number): Promise<OrtModule> {
  active = await loadOrtBuild(backend, threads);
  return active;
}

/** The build of the current model's sessions. */
export function activeOrt(): OrtModule {
  if (!active) throw new Error('onnxruntime-web is not loaded yet: useOrtFor() runs first, in the model load');
  return active;
}

/** The WebGPU build, if this worker has loaded it (its env holds the GPU device). */
export function webgpuOrt(): Promise<OrtModule> | null {
  return builds.webgpu ?? null;
}
