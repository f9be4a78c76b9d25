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
  | { phase: 'cache'; file: string; action: 'hit' | 'miss' | 'store' | 'discard' | 'memory-only'; why?: NotStoredReason }
  /** Every file is in: the model in use is let go (a stop can no longer keep it). */
  | { phase: 'switch' }
  | { phase: 'session'; file: string; backend: Backend }
  | { phase: 'generate'; step: number; steps: number };

export type ProgressCallback = (p: Progress) => void;

/** One file of a model as the manifest lists it. */
export interface ManifestFile {
  path: string;
  bytes: number;
  sha256: string;
  /** A graph that is not plain ONNX: "onnx-pack", its weights packed (workers/runtime/packed-graph.ts). */
  format?: 'onnx-pack';
}

export interface TensorSpec {
  dtype: string;
  shape: (number | string)[];
}

export interface GraphSpec {
  inputs: Record<string, TensorSpec>;
  outputs: Record<string, TensorSpec>;
}

/**
 * The parts of manifest.json the worker relies on. Its shape and bounds are defined once, in
 * manifest.schema.json (validated against in workers/model-store/manifest.ts and by the factory's
 * exporters); this interface is the compiler's view of the same fields, and
 * tests/unit/manifest-type-vs-schema.test.ts fails when the two drift apart.
 */
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
  /** tokenizers-json: files.tokenizer is a tokenizer.json. clip-bpe: files.tokenizer is CLIP's
   *  vocab.json and files[merges] its merges.txt (the published SD exports ship only those). */
  tokenizer: { kind: 'tokenizers-json' | 'clip-bpe'; max_length: number; pad_id: number; merges?: string };
  tensors: { text_encoder: GraphSpec; unet: GraphSpec; vae_decoder: GraphSpec };
  latent: { channels: number; height: number; width: number };
  output: { width: number; height: number; range: [number, number] };
  /** ddpm (DMD2): x = noise_scale·z, x0 = (x − √(1−ᾱ)ε)/√ᾱ.
   *  euler (SD-Turbo): x = σ·z, ε from x/√(σ²+1), x0 = x − σε (noise_scale = σ, input_scale = 1/√(σ²+1)). */
  one_step: {
    rule: 'ddpm' | 'euler';
    sigma?: number;
    timestep: number;
    alpha_bar: number;
    noise_scale: number;
    input_scale: number;
    prediction_type: 'epsilon';
  };
  vae: { scaling_factor: number };
  /** The text encoder's output for prompts a visit opens with (the empty one): float32 [L, D] per prompt. */
  prompt_embeddings?: { file: string; prompts: string[] };
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
  requirements?: {
    webgpu_features?: string[];
    fp16_compute?: boolean;
    /** false: the graphs are float16 and must not fall back to WASM (too slow, or unsupported). */
    wasm?: boolean;
    /** The largest single weight, which must fit the adapter's maxStorageBufferBindingSize. */
    max_tensor_bytes?: number;
  };
  /** Graph file key → file keys of its ONNX external data (weights beyond protobuf's 2 GB limit). */
  external_data?: Record<string, string[]>;
  runtime?: {
    /** Images per UNet call; 1 for 512×512 models (variations then run one after another). */
    max_batch?: number;
    /** ORT freeDimensionOverrides per graph, so every shape is static. */
    free_dimension_overrides?: Partial<Record<'text_encoder' | 'unet' | 'vae_decoder', Record<string, number>>>;
  };
  license?: unknown;
  attribution?: unknown;
}

/** An entry of public/models/index.json. */
export interface ModelIndexEntry {
  id: string;
  name: string;
  /** Shipped models: their manifest.json, relative to index.json. Remote entries have `url` instead. */
  manifest?: string;
  source: string;
  bytes: number;
  license?: string;
  default?: boolean;
  /** Remote entries: the repository the "add by URL" flow reads (the manifest field is then unused). */
  url?: string;
  one_step_rule?: 'ddpm' | 'euler';
  requirements?: Manifest['requirements'];
}

/** A model found at a URL, read before anything is downloaded (shown to the person to confirm). */
export interface RemoteModelPlan {
  id: string;
  name: string;
  license: string;
  licenseUrl: string | null;
  /** Where it came from: https://huggingface.co/<repo> or a localhost test host. */
  source: string;
  totalBytes: number;
  files: { key: string; path: string; bytes: number }[];
  rule: 'ddpm' | 'euler';
  webgpuFeatures: string[];
  /** Facts that were not published by the repository and were assumed (shown to the person). */
  assumed: string[];
  /** Why this device cannot run it (checked before downloading); null when it can. */
  refusal: { name: string; message: string } | null;
  /** Licence and every file (path, size, sha256) as shown: "Download and use" refuses anything else. */
  fingerprint: string;
}

/** "Download and use" on a plan: its id and fingerprint, and the URL or repository id it was read from. */
export type AddRequest = Pick<RemoteModelPlan, 'id' | 'fingerprint'> & { input: string };

/**
 * Why a downloaded file lives in memory only: the storage quota is full, the browser gives the page
 * no IndexedDB (private browsing in some browsers), or "clear downloaded models" ran during its download.
 */
export type NotStoredReason = 'quota' | 'unavailable' | 'cleared';

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
  /** Why a file could not be kept (the first such file's reason); null when every file is stored. */
  notStored: NotStoredReason | null;
  /** Files whose download resumed from bytes an earlier, interrupted try had stored (file → bytes). */
  resumed: Record<string, number>;
  /** The model ships a teacher; its file is fetched after the load (prefetchTeacher). */
  hasTeacher: boolean;
  /** Files the load left for later (the tokenizer and text encoder when the first prompt was kept): deferredFiles() reports them. */
  deferred: string[];
  teacherDefaults: { steps: number; guidance: number } | null;
  width: number;
  height: number;
  loadMs: number;
  /** Where the load's time went (workers/runtime/load-phases.ts). */
  phases: LoadPhase[];
}

export interface LoadPhase {
  name: string;
  ms: number;
  /** Start, in ms after the load began. */
  at: number;
}

export interface GenerateRequest {
  prompt: string;
  seed: number;
  /** Number of images; image i uses seed + i. */
  count: number;
  /**
   * false: always run the networks. By default a request with the same token ids, seed and count
   * as the one before returns that request's images again (steps: 0), as the networks would.
   */
  reuse?: boolean;
  /** Explore from this image toward another seed and/or prompt (workers/pipeline/explore.ts). */
  explore?: ExploreRequest;
}

/** A point between the request's seed and prompt (position 0) and these (position 1). */
export interface ExploreRequest {
  toSeed: number;
  /** 0…1 in thousandths: the start noise slerped from `seed`'s toward `toSeed`'s */
  seedMix: number;
  toPrompt: string;
  /** 0…1 in thousandths: the text embedding moved from `prompt`'s toward `toPrompt`'s */
  promptMix: number;
}

export interface TeacherRequest {
  /** The model the caller compares (LoadResult.modelId): a different loaded model is refused. */
  modelId: string;
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
  /** Why the model now runs on WASM though it was loaded on WebGPU (lost device, invalid image); null if it did not switch. */
  switchNote: string | null;
  /** Wall time in the worker for the whole request. */
  ms: number;
  /** Per-stage timings (ms): encode is 0 when the cached embedding was reused. */
  stages: { encode: number; denoise: number; decode: number };
  /** UNet calls per image: 1 for the student, N for the teacher, 0 when the last images were reused. */
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

/** Where a file read after the load came from (the teacher's, a deferred text encoder's): the files list shows it. */
export interface FileInfo {
  file: string;
  source: FileSource;
  discarded: boolean;
  resumedFrom: number;
}
