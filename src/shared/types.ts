/**
 * Types shared by the UI thread (src/) and the generator worker (workers/).
 * Data only: no DOM and no worker globals, so both tsconfig libs accept it.
 */

/** Where a model's files came from on this load. */
export type FileSource = 'cache' | 'network';

/** The backend ORT runs the sessions on. */
export type Backend = 'webgpu' | 'wasm';

/** Progress is a tagged union, never free text: the UI renders each phase its own way. */
export type Progress =
  | { phase: 'download'; file: string; loaded: number; total: number; bytesPerSecond: number; resumedFrom: number }
  | { phase: 'verify'; file: string }
  | { phase: 'cache'; file: string; action: 'hit' | 'miss' | 'store' | 'discard' | 'memory-only' }
  | { phase: 'session'; file: string; backend: Backend }
  | { phase: 'generate'; step: number; steps: number };

export type ProgressCallback = (p: Progress) => void;

/** One file of a model as the manifest lists it. */
export interface ManifestFile {
  path: string;
  bytes: number;
  sha256: string;
}

export interface TensorSpec {
  dtype: string;
  shape: (number | string)[];
}

export interface GraphSpec {
  inputs: Record<string, TensorSpec>;
  outputs: Record<string, TensorSpec>;
}

/** The parts of manifest.json the worker relies on (validated in workers/model-store/manifest.ts). */
export interface Manifest {
  schema: number;
  id: string;
  version: string;
  name: string;
  files: Record<string, ManifestFile> & {
    tokenizer: ManifestFile;
    text_encoder: ManifestFile;
    unet: ManifestFile;
    vae_decoder: ManifestFile;
  };
  tokenizer: { kind: 'tokenizers-json'; max_length: number; pad_id: number };
  tensors: { text_encoder: GraphSpec; unet: GraphSpec; vae_decoder: GraphSpec };
  latent: { channels: number; height: number; width: number };
  output: { width: number; height: number; range: [number, number] };
  one_step: {
    rule: 'ddpm';
    timestep: number;
    alpha_bar: number;
    noise_scale: number;
    input_scale: number;
    prediction_type: 'epsilon';
  };
  vae: { scaling_factor: number };
  teacher?: {
    file: string;
    schedule: 'ddim';
    num_train_timesteps: number;
    beta_schedule: 'scaled_linear';
    beta_start: number;
    beta_end: number;
    timestep_spacing: 'trailing';
    default_steps: number;
    default_guidance: number;
    prediction_type: 'epsilon';
  };
  requirements?: { webgpu_features?: string[]; fp16_compute?: boolean };
  license?: unknown;
  attribution?: unknown;
}

/** An entry of public/models/index.json. */
export interface ModelIndexEntry {
  id: string;
  name: string;
  manifest: string;
  source: string;
  bytes: number;
  license?: string;
  default?: boolean;
}

export interface LoadResult {
  modelId: string;
  name: string;
  version: string;
  backend: Backend;
  /** Why WebGPU was not used, when it was not (shown in the status line). */
  backendNote: string | null;
  threads: number;
  sources: Record<string, FileSource>;
  /** Files whose cached copy failed its sha256 check and were fetched again. */
  discarded: string[];
  /** False when IndexedDB refused the write: the model runs from memory this visit. */
  cached: boolean;
  /** Files whose download resumed from bytes an earlier, interrupted try had stored (file → bytes). */
  resumed: Record<string, number>;
  hasTeacher: boolean;
  teacherDefaults: { steps: number; guidance: number } | null;
  width: number;
  height: number;
  loadMs: number;
}

export interface GenerateRequest {
  prompt: string;
  seed: number;
  /** Number of images; image i uses seed + i. */
  count: number;
}

export interface TeacherRequest {
  prompt: string;
  seed: number;
  steps: number;
  guidance: number;
}

/** RGBA8 pixels, row-major, width*height*4 bytes; transferred, not copied. */
export interface GeneratedImage {
  seed: number;
  width: number;
  height: number;
  pixels: ArrayBuffer;
}

export interface GenerateResult {
  prompt: string;
  images: GeneratedImage[];
  backend: Backend;
  /** Wall time in the worker for the whole request. */
  ms: number;
  /** Per-stage timings (ms): encode is 0 when the cached embedding was reused. */
  stages: { encode: number; denoise: number; decode: number };
  steps: number;
}

export interface CacheInfo {
  /** Bytes of model files in IndexedDB, by `${modelId}@${version}/${file}`. */
  entries: { key: string; bytes: number }[];
  totalBytes: number;
  usage: number | null;
  quota: number | null;
  persisted: boolean | null;
}
