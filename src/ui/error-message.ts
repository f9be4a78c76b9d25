/** One clear sentence per failure mode. Errors cross Comlink as {name, message}: switch on name. */
import type { OnestepErrorName } from '../shared/errors';

export function errorMessage(err: unknown): string {
  const name = (err as { name?: string } | null)?.name as OnestepErrorName | string | undefined;
  const detail = (err as { message?: string } | null)?.message ?? String(err);
  switch (name) {
    case 'ManifestError':
      return `This model's description is broken, so it cannot run (${detail}).`;
    case 'IntegrityError':
      return `A downloaded model file is damaged or not the expected file (wrong checksum), so it was thrown away and nothing of it was kept (${detail}).`;
    case 'DownloadError':
      return `Downloading the model failed or was interrupted; what arrived is kept, and reloading continues from there (${detail}).`;
    case 'ModelFileMissingError':
      return `A model file is missing on the server (${detail}).`;
    case 'QuotaError':
      return 'This device has no room to keep the model, so it runs from memory this visit.';
    case 'WebGPUUnavailableError':
      return `WebGPU is not available here (${detail}). Remove ?backend=webgpu to use WASM.`;
    case 'Fp16UnsupportedError':
      return `This GPU lacks 16-bit float support that the model needs (${detail}).`;
    case 'DeviceLostError':
      return `The GPU stopped responding (${detail}). Reload the page to try again.`;
    case 'ModelNotLoadedError':
      return 'The model is still loading.';
    case 'LoadCancelledError':
      return 'Loading the model was stopped; loading it again continues where it stopped.';
    case 'WorkerCrashedError':
      return `The image engine stopped unexpectedly (${detail}); restarting it.`;
    default:
      return `Something went wrong: ${detail}`;
  }
}
