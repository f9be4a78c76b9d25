/** ORT session creation and a run queue: one session.run at a time across the whole worker. */
import * as ort from 'onnxruntime-web';
import type { Backend } from '../../src/shared/types';

export interface SessionExtras {
  /** Pins symbolic dimensions (batch_size, height, …) so ORT plans static shapes. */
  freeDimensionOverrides?: Record<string, number>;
  /** ONNX external data: `path` is the location string inside the graph (e.g. model.onnx_data). */
  externalData?: { path: string; data: Uint8Array }[];
  /** Outputs to leave in GPU memory (WebGPU only), e.g. the text encoder's hidden states. */
  gpuOutputs?: string[];
}

export async function createSession(bytes: Uint8Array, backend: Backend, extras: SessionExtras = {}): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    // On WebGPU, nodes the WebGPU EP lacks fall back to the CPU kernels of the same build.
    executionProviders: backend === 'webgpu' ? ['webgpu', 'wasm'] : ['wasm'],
    graphOptimizationLevel: 'all',
  };
  if (extras.freeDimensionOverrides) options.freeDimensionOverrides = extras.freeDimensionOverrides;
  if (extras.externalData?.length) options.externalData = extras.externalData;
  if (backend === 'webgpu' && extras.gpuOutputs?.length) {
    options.preferredOutputLocation = Object.fromEntries(extras.gpuOutputs.map((n) => [n, 'gpu-buffer' as const]));
  }
  return ort.InferenceSession.create(bytes, options);
}

/**
 * Serialises async jobs. Overlapping runs (a compare-mode teacher and a keystroke) on the same
 * sessions make ORT web throw "Session already started"; queueing is simpler than locking.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.tail.then(job, job);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/** The WebGPU device ORT created, once a WebGPU session exists (for device-lost handling). */
export async function ortWebGpuDevice(): Promise<GPUDevice | null> {
  try {
    return (await ort.env.webgpu.device) ?? null;
  } catch {
    return null;
  }
}
