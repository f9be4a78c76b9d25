/** ORT session creation and a run queue: one session.run at a time across the whole worker. */
import * as ort from 'onnxruntime-web';
import type { Backend } from '../../src/shared/types';

export async function createSession(bytes: Uint8Array, backend: Backend): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    // On WebGPU, nodes the WebGPU EP lacks fall back to the CPU kernels of the same build.
    executionProviders: backend === 'webgpu' ? ['webgpu', 'wasm'] : ['wasm'],
    graphOptimizationLevel: 'all',
  });
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
