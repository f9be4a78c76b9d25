/** ORT session creation and a run queue: one session.run at a time across the whole worker. */
import type * as ort from 'onnxruntime-web';
import type { Backend } from '../../src/shared/types';
import { activeOrt, webgpuOrt } from './ort';

/**
 * The WebGPU execution provider's options.
 *
 * `preferredLayout: 'NCHW'` keeps Conv, InstanceNormalization and Resize in the models' own
 * layout. With the JSEP default ('NHWC') ORT rewrites those nodes to channels-last kernels and
 * inserts Transposes around them, and on Chromium's SwiftShader WebGPU that path made the UNet
 * non-deterministic and wrong: the same inputs gave two alternating outputs run to run, each off
 * the WASM/CPU result by mean |Δε| 5e-3..2e-2 (max 0.2), which the ×14.6 one-step x0 rule turns
 * into visibly different images. In NCHW the UNet is bit-identical run to run and within 2.6e-6
 * of CPU onnxruntime. Measured with tests/e2e/diagnostics/ (issue 3).
 */
export const WEBGPU_EP: { name: 'webgpu'; preferredLayout: 'NCHW' } = { name: 'webgpu', preferredLayout: 'NCHW' };

export interface SessionExtras {
  /** Pins symbolic dimensions (batch_size, height, …) so ORT plans static shapes. */
  freeDimensionOverrides?: Record<string, number>;
  /** ONNX external data: `path` is the location string inside the graph (e.g. model.onnx_data). */
  externalData?: { path: string; data: Uint8Array }[];
  /** Outputs to leave in GPU memory (WebGPU only), e.g. the text encoder's hidden states. */
  gpuOutputs?: string[];
}

/** Session options: the backend's execution providers (NCHW on WebGPU) plus the model's extras. */
export function sessionOptions(backend: Backend, extras: SessionExtras = {}): ort.InferenceSession.SessionOptions {
  const options: ort.InferenceSession.SessionOptions = {
    // On WebGPU, nodes the WebGPU EP lacks fall back to the CPU kernels of the same build.
    executionProviders: backend === 'webgpu' ? [WEBGPU_EP, 'wasm'] : ['wasm'],
    graphOptimizationLevel: 'all',
  };
  if (extras.freeDimensionOverrides) options.freeDimensionOverrides = extras.freeDimensionOverrides;
  if (extras.externalData?.length) options.externalData = extras.externalData;
  if (backend === 'webgpu' && extras.gpuOutputs?.length) {
    options.preferredOutputLocation = Object.fromEntries(extras.gpuOutputs.map((n) => [n, 'gpu-buffer' as const]));
  }
  return options;
}

export async function createSession(bytes: Uint8Array, backend: Backend, extras: SessionExtras = {}): Promise<ort.InferenceSession> {
  return activeOrt().InferenceSession.create(bytes, sessionOptions(backend, extras));
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
    const build = webgpuOrt();
    return build ? ((await (await build).env.webgpu.device) ?? null) : null;
  } catch {
    return null;
  }
}
