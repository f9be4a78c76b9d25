/**
 * Can this device run a model? Answered from the manifest's requirements BEFORE any model byte is
 * downloaded: a 2 GB download that then fails on a missing GPU feature wastes the person's data.
 * Returns the named error to show (or throw), or null when the device can run it.
 */
import { DeviceLimitError, Fp16UnsupportedError, InsufficientStorageError } from '../../src/shared/errors';
import { formatBytesPlain } from './format-bytes';

/** Chrome's largest ArrayBuffer (~2 GB): one model file must fit one buffer to reach ORT. */
export const MAX_FILE_BYTES = 0x7fe00000;

export interface DeviceNeeds {
  webgpuFeatures: readonly string[];
  /** False when the model must not fall back to WASM (float16 graphs). */
  wasmOk: boolean;
  maxTensorBytes?: number;
  largestFile: { path: string; bytes: number };
  /** Bytes still to download and store (files already cached are not counted). */
  downloadBytes: number;
}

export type DeviceRefusal = Fp16UnsupportedError | DeviceLimitError | InsufficientStorageError;

async function adapter(): Promise<GPUAdapter | null> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return null;
  try {
    return await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch {
    return null;
  }
}

export async function checkDevice(needs: DeviceNeeds): Promise<DeviceRefusal | null> {
  if (needs.largestFile.bytes > MAX_FILE_BYTES) {
    return new DeviceLimitError(
      `${needs.largestFile.path} is ${formatBytesPlain(needs.largestFile.bytes)}; a browser holds at most ${formatBytesPlain(MAX_FILE_BYTES)} in one buffer (split it into ONNX external data)`,
    );
  }
  if (needs.webgpuFeatures.length > 0 && !needs.wasmOk) {
    const a = await adapter();
    const want = needs.webgpuFeatures.join(', ');
    if (!a)
      return new Fp16UnsupportedError(
        `this model needs WebGPU with ${want}; this browser offers no WebGPU adapter, and the model cannot run on WASM`,
      );
    const missing = needs.webgpuFeatures.filter((f) => !a.features.has(f));
    if (missing.length > 0)
      return new Fp16UnsupportedError(`this model needs the WebGPU feature ${missing.join(', ')}, which this GPU lacks`);
    const limit = Math.min(a.limits.maxStorageBufferBindingSize, a.limits.maxBufferSize);
    if (needs.maxTensorBytes && needs.maxTensorBytes > limit) {
      return new DeviceLimitError(
        `its largest weight is ${formatBytesPlain(needs.maxTensorBytes)}, above this GPU's ${formatBytesPlain(limit)} buffer limit`,
      );
    }
  }
  const est = await navigator.storage?.estimate?.().catch(() => null);
  if (est?.quota !== undefined) {
    const free = Math.max(0, est.quota - (est.usage ?? 0));
    if (needs.downloadBytes > free) {
      return new InsufficientStorageError(
        `the model needs ${formatBytesPlain(needs.downloadBytes)} and this site may store only ${formatBytesPlain(free)} more`,
      );
    }
  }
  return null;
}
