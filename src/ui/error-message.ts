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
    case 'WebGPUUnavailableError':
      return `WebGPU is not available here (${detail}). Remove ?backend=webgpu to use WASM.`;
    case 'Fp16UnsupportedError':
      return `This device lacks the 16-bit float GPU support the model needs (${detail}).`;
    case 'DeviceLostError':
      return `The GPU stopped responding (${detail}). Reload the page to try again.`;
    case 'ModelNotLoadedError':
      return 'The model is still loading.';
    case 'ModelChangedError':
      return 'Another model was loaded before this finished, so it was not run; try again.';
    case 'LoadCancelledError':
      return 'Loading the model was stopped; loading it again continues where it stopped.';
    case 'WorkerCrashedError':
      return `The image engine stopped unexpectedly (${detail}); restarting it.`;
    case 'InsecureUrlError':
      return `Refused: ${detail}. Model weights are code the page runs, so they must come over https.`;
    case 'LayoutError':
      return `That is not a model this app can run: ${detail}.`;
    case 'DeviceLimitError':
      return `This device's limits are too small for this model: ${detail}.`;
    case 'InsufficientStorageError':
      return `Not enough storage on this device: ${detail}. Free some space or clear downloaded models.`;
    case 'HostNotAllowedError':
      return `Refused: ${detail}. This app downloads models only from the hosts it was built to allow, so nothing else is contacted.`;
    case 'BadOutputError':
      return `The model gave an invalid image on this device (${detail}), so nothing was painted.`;
    case 'GalleryFullError':
      return `The gallery is full: this device's storage has no room for another image (${detail}). Nothing was deleted; export or delete some images to make room.`;
    case 'GalleryUnavailableError':
      return `This browser does not let the page store images here (${detail}), so the gallery is off; downloading still works.`;
    case 'VideoUnsupportedError':
      return `This browser cannot encode video (${detail}), so the morph cannot be saved; the frames still play.`;
    default:
      return `Something went wrong: ${detail}`;
  }
}
