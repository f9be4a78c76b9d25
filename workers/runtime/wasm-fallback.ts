/**
 * When a run on WebGPU fails in a way WASM does not share, the model is reloaded on WASM (its
 * files come from IndexedDB: no network) and the run is made once more, so the person gets an
 * image and a note instead of an error:
 *   - the GPU device was lost during the run (driver reset, out of memory); the loss is reported a
 *     moment after the failing call, so it is waited for briefly;
 *   - the run gave NaN, infinite values or a blank image (BadOutputError), the known failure of
 *     fp16 GPU kernels.
 * Anything else, and any failure on WASM, is the caller's error as it was.
 */
export type SwitchReason = 'device-lost' | 'bad-output';

export interface FallbackTarget {
  /** The loaded model runs on WebGPU (only then is there somewhere to fall back to). */
  onWebGpu(): boolean;
  /** Whether the GPU device is reported lost within `ms`. */
  lostWithin(ms: number): Promise<boolean>;
  /** Reloads the model on WASM; `note` is what the person is told. */
  switchToWasm(reason: SwitchReason, note: string): Promise<void>;
}

/** How long a failed call waits for the device's loss to be reported. */
const LOSS_REPORT_MS = 250;

export function switchNote(reason: SwitchReason, err: unknown): string {
  if (reason === 'device-lost') return 'the GPU stopped responding, so it switched';
  return `WebGPU gave an invalid image (${(err as Error).message}), so it switched`;
}

export async function withWasmFallback<T>(job: () => Promise<T>, target: FallbackTarget): Promise<T> {
  try {
    return await job();
  } catch (err) {
    if (!target.onWebGpu()) throw err;
    const reason: SwitchReason | null =
      (err as Error | null)?.name === 'BadOutputError' ? 'bad-output' : (await target.lostWithin(LOSS_REPORT_MS)) ? 'device-lost' : null;
    if (!reason) throw err;
    await target.switchToWasm(reason, switchNote(reason, err));
    return job();
  }
}
