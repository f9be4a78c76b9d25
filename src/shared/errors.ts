/**
 * Named errors shared by the worker and the UI.
 *
 * Comlink only carries `name`, `message` and `stack` of a thrown Error across the worker
 * boundary, so `name` is the stable contract: the UI switches on it (see errorMessage in ui/).
 * Each class sets `name` explicitly because minifiers rename classes.
 */

export type OnestepErrorName =
  | 'ManifestError'
  | 'IntegrityError'
  | 'DownloadError'
  | 'ModelFileMissingError'
  | 'WebGPUUnavailableError'
  | 'Fp16UnsupportedError'
  | 'DeviceLostError'
  | 'ModelNotLoadedError'
  | 'ModelChangedError'
  | 'LoadCancelledError'
  | 'WorkerCrashedError'
  | 'InsecureUrlError'
  | 'LayoutError'
  | 'DeviceLimitError'
  | 'InsufficientStorageError'
  | 'HostNotAllowedError'
  | 'BadOutputError'
  | 'GalleryFullError'
  | 'GalleryUnavailableError'
  | 'VideoUnsupportedError';

abstract class OnestepError extends Error {
  abstract override readonly name: OnestepErrorName;
}

/** The manifest is missing, not JSON, or lacks a field the worker needs. */
export class ManifestError extends OnestepError {
  override readonly name = 'ManifestError' as const;
}

/** A file's sha256 differs from the manifest (the bad copy is discarded). */
export class IntegrityError extends OnestepError {
  override readonly name = 'IntegrityError' as const;
  constructor(
    readonly file: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${file}: sha256 ${actual.slice(0, 12)}… does not match the manifest's ${expected.slice(0, 12)}…`);
  }
}

/** The network failed or the download stopped before the last byte. */
export class DownloadError extends OnestepError {
  override readonly name = 'DownloadError' as const;
}

/** The server answered 404 for a file the manifest lists. */
export class ModelFileMissingError extends OnestepError {
  override readonly name = 'ModelFileMissingError' as const;
}

/** WebGPU was required but no adapter is available. */
export class WebGPUUnavailableError extends OnestepError {
  override readonly name = 'WebGPUUnavailableError' as const;
}

/** The model needs shader-f16 and the adapter lacks it. */
export class Fp16UnsupportedError extends OnestepError {
  override readonly name = 'Fp16UnsupportedError' as const;
}

/** The GPU device was lost mid-run (often out of memory); sessions must be recreated. */
export class DeviceLostError extends OnestepError {
  override readonly name = 'DeviceLostError' as const;
}

/** generate() was called before load() finished. */
export class ModelNotLoadedError extends OnestepError {
  override readonly name = 'ModelNotLoadedError' as const;
}

/**
 * A request named a model other than the one loaded when it ran: another model was loaded in
 * between (requests wait in one queue), so running it would answer for the wrong model.
 */
export class ModelChangedError extends OnestepError {
  override readonly name = 'ModelChangedError' as const;
}

/** cancelLoad() stopped a load; completed chunks stay stored, so the next load resumes. */
export class LoadCancelledError extends OnestepError {
  override readonly name = 'LoadCancelledError' as const;
}

/** The generator worker died (uncaught error, out of memory); the UI starts a new one. */
export class WorkerCrashedError extends OnestepError {
  override readonly name = 'WorkerCrashedError' as const;
}

/** A model URL that is not https (plain http is allowed only for this machine: localhost tests). */
export class InsecureUrlError extends OnestepError {
  override readonly name = 'InsecureUrlError' as const;
}

/** A model repository or folder that is unreadable or lacks a file the pipeline needs. */
export class LayoutError extends OnestepError {
  override readonly name = 'LayoutError' as const;
}

/** The GPU's limits (buffer sizes) or the browser's one-buffer limit are below what the model needs. */
export class DeviceLimitError extends OnestepError {
  override readonly name = 'DeviceLimitError' as const;
}

/** The storage estimate leaves less free space than the model's files need (checked before downloading). */
export class InsufficientStorageError extends OnestepError {
  override readonly name = 'InsufficientStorageError' as const;
}

/** A model URL on a host this build does not allow (config.ts MODEL_HUBS; the CSP's connect-src). */
export class HostNotAllowedError extends OnestepError {
  override readonly name = 'HostNotAllowedError' as const;
}

/** True for the QuotaExceededError DOMException that IndexedDB throws when storage is full. */
export function isQuotaExceeded(err: unknown): boolean {
  return err instanceof DOMException && (err.name === 'QuotaExceededError' || err.code === 22);
}

/** A network gave NaN, infinite values or a blank image (check-output.ts): nothing is painted. */
export class BadOutputError extends OnestepError {
  override readonly name = 'BadOutputError' as const;
}

/** Storage refused a gallery entry (QuotaExceededError): nothing was written and nothing was deleted to make room. */
export class GalleryFullError extends OnestepError {
  override readonly name = 'GalleryFullError' as const;
}

/** IndexedDB is missing or throwing (private browsing in some browsers): the gallery cannot keep images here. */
export class GalleryUnavailableError extends OnestepError {
  override readonly name = 'GalleryUnavailableError' as const;
}

/** This browser has no WebCodecs video encoder for WebM (VP9 or VP8), so the morph cannot be saved as video. */
export class VideoUnsupportedError extends OnestepError {
  override readonly name = 'VideoUnsupportedError' as const;
}
