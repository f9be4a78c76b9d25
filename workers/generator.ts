/**
 * The generator: model loading (manifest → files → sessions) and the two pipelines,
 *   student: prompt → ids → embeddings → seeded noise → ONE UNet call → x0 → decoder → RGBA
 *   teacher: same ends, N DDIM steps with classifier-free guidance in the middle.
 * The Comlink surface lives in generator.worker.ts; this class knows nothing about messaging.
 */
import type * as ort from 'onnxruntime-web';
import { MAX_BATCH, MODELS_PATH } from '../src/shared/config';
import { DeviceLostError, LoadCancelledError, ModelNotLoadedError } from '../src/shared/errors';
import type {
  FileSource, GenerateRequest, GenerateResult, LoadResult, ProgressCallback, TeacherRequest,
} from '../src/shared/types';
import { matmulPeak, rawStageRuns, type RawModel, type RawStageTimes } from './bench-hooks';
import { loadModelFile } from './model-store/load-file';
import { fetchManifest, findModel } from './model-store/manifest';
import { ddimTeacher } from './pipeline/ddim-teacher';
import { decodeLatents } from './pipeline/decode';
import { denoiseOneStep } from './pipeline/denoise-one-step';
import { encodeText } from './pipeline/encode-text';
import { gaussianNoise, normalizeSeed } from './pipeline/noise';
import { planarToRgba } from './pipeline/to-rgba';
import { clipPromptForTokenizer, createTokenizer } from './pipeline/tokenize';
import { chooseBackend, type BackendPreference } from './runtime/backend';
import { createSession, ortWebGpuDevice, SerialQueue } from './runtime/session';

/** What the bench hooks also read (bench-hooks.ts), plus the teacher. */
interface LoadedModel extends RawModel {
  /** Teacher bytes are kept and its session made on first compare: most visits never compare. */
  teacherBytes: Uint8Array | null;
  teacher: ort.InferenceSession | null;
}

export interface LoadOptions {
  backend?: BackendPreference;
  /** WASM threads; default: every core (capped at 4). Only the first load of a worker sets it. */
  threads?: number;
}

const modelsBase = () => new URL(`${import.meta.env.BASE_URL}${MODELS_PATH}`, self.location.href).href;

export class Generator {
  private model: LoadedModel | null = null;
  private loading: { modelId: string; options: LoadOptions } | null = null;
  private deviceLost = false;
  /** Aborts the load in progress (cancelLoad): its download stops and frees its buffers. */
  private loadAbort: AbortController | null = null;
  private readonly queue = new SerialQueue();
  /** The last prompt's embedding: typing "cat" then changing only the seed skips the encoder. */
  private embedding: { prompt: string; data: Float32Array } | null = null;
  private uncond: Float32Array | null = null;

  async load(modelId: string, onProgress: ProgressCallback, options: LoadOptions = {}): Promise<LoadResult> {
    return this.queue.run(() => this.loadNow(modelId, onProgress, options));
  }

  /** Stops the running load, if any. Chunks already stored stay, so the next load resumes. */
  cancelLoad(): void {
    this.loadAbort?.abort();
  }

  private async loadNow(modelId: string, onProgress: ProgressCallback, options: LoadOptions): Promise<LoadResult> {
    const started = performance.now();
    this.loading = { modelId, options };
    await this.release();
    const abort = new AbortController();
    this.loadAbort = abort;
    try {
      return await this.loadFiles(modelId, onProgress, options, abort.signal, started);
    } finally {
      if (this.loadAbort === abort) this.loadAbort = null;
    }
  }

  private async loadFiles(modelId: string, onProgress: ProgressCallback, options: LoadOptions, signal: AbortSignal, started: number): Promise<LoadResult> {

    const entry = await findModel(modelsBase(), modelId);
    const { manifest, baseUrl } = await fetchManifest(modelsBase(), entry);
    const choice = await chooseBackend(options.backend ?? 'auto', manifest.requirements?.webgpu_features ?? [], options.threads);

    const sources: Record<string, FileSource> = {};
    const discarded: string[] = [];
    const resumed: Record<string, number> = {};
    let cached = true;
    const fetchFile = async (file: string) => {
      if (signal.aborted) throw new LoadCancelledError('loading was stopped');
      const f = await loadModelFile(manifest, baseUrl, file, onProgress, signal);
      sources[file] = f.source;
      if (f.discarded) discarded.push(file);
      if (f.resumedFrom > 0) resumed[file] = f.resumedFrom;
      cached &&= f.cached;
      return f.bytes;
    };
    // Files are fetched one after another. (Fetching them all at once was tried for cold start
    // (bench/): no measurable gain on this machine, and a connection cut in one file then left the
    // load hanging instead of failing with "interrupted" — tests/e2e/suites/40-faults.mjs.)
    const session = (file: 'text_encoder' | 'unet' | 'vae_decoder', bytes: Uint8Array) => {
      onProgress({ phase: 'session', file, backend: choice.backend });
      return createSession(bytes, choice.backend);
    };
    const tokenizer = createTokenizer(
      JSON.parse(new TextDecoder().decode(await fetchFile('tokenizer'))) as object,
      manifest.tokenizer.max_length,
      manifest.tokenizer.pad_id,
    );
    const textEncoder = await session('text_encoder', await fetchFile('text_encoder'));
    const unet = await session('unet', await fetchFile('unet'));
    const decoder = await session('vae_decoder', await fetchFile('vae_decoder'));
    // The teacher is fetched (and cached) now so compare mode also works offline later.
    const teacherBytes = manifest.teacher ? await fetchFile(manifest.teacher.file) : null;

    this.model = { manifest, backend: choice.backend, tokenizer, textEncoder, unet, decoder, teacherBytes, teacher: null };
    this.deviceLost = false;
    if (choice.backend === 'webgpu') void this.watchDevice();

    return {
      modelId: manifest.id,
      name: manifest.name,
      version: manifest.version,
      backend: choice.backend,
      backendNote: choice.note,
      threads: choice.threads,
      sources,
      discarded,
      cached,
      resumed,
      hasTeacher: teacherBytes !== null,
      teacherDefaults: manifest.teacher ? { steps: manifest.teacher.default_steps, guidance: manifest.teacher.default_guidance } : null,
      width: manifest.output.width,
      height: manifest.output.height,
      loadMs: Math.round(performance.now() - started),
    };
  }

  /** A lost GPU device (driver reset, out of memory) kills every session: note it, recover on the next call. */
  private async watchDevice(): Promise<void> {
    const device = await ortWebGpuDevice();
    const info = await device?.lost;
    if (info && info.reason !== 'destroyed') this.deviceLost = true;
  }

  /** After a device loss, reload the same model on WASM (files come from IndexedDB, no network). */
  private async recoverIfLost(): Promise<void> {
    if (!this.deviceLost || !this.loading) return;
    try {
      await this.loadNow(this.loading.modelId, () => undefined, { backend: 'wasm' });
    } catch (err) {
      throw new DeviceLostError(`the GPU device was lost and WASM recovery failed: ${(err as Error).message}`);
    }
  }

  private requireModel(): LoadedModel {
    if (!this.model) throw new ModelNotLoadedError('no model is loaded yet');
    return this.model;
  }

  private async embed(m: LoadedModel, prompt: string): Promise<{ data: Float32Array; ms: number }> {
    const key = clipPromptForTokenizer(prompt, m.tokenizer.maxLength);
    if (this.embedding?.prompt === key) return { data: this.embedding.data, ms: 0 };
    const t0 = performance.now();
    const data = await encodeText(m.textEncoder, m.manifest, m.tokenizer.encode(key), 1);
    this.embedding = { prompt: key, data };
    return { data, ms: performance.now() - t0 };
  }

  async generate(req: GenerateRequest, onProgress?: ProgressCallback): Promise<GenerateResult> {
    return this.queue.run(() => this.withDeviceRecovery(() => this.generateNow(req, onProgress)));
  }

  /**
   * Runs `job`; if it failed because the GPU device was lost during the run (the loss is reported
   * a moment after the failing call), reload on WASM and run it once more, so the user sees an
   * image instead of an error.
   */
  private async withDeviceRecovery<T>(job: () => Promise<T>): Promise<T> {
    await this.recoverIfLost();
    try {
      return await job();
    } catch (err) {
      if (this.model?.backend !== 'webgpu' || !(await this.lostWithin(250))) throw err;
      this.deviceLost = true;
      await this.recoverIfLost();
      return job();
    }
  }

  private async lostWithin(ms: number): Promise<boolean> {
    if (this.deviceLost) return true;
    const device = await ortWebGpuDevice();
    if (!device) return false;
    const lost = device.lost.then((info) => info.reason !== 'destroyed');
    return Promise.race([lost, new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  }

  private async generateNow(req: GenerateRequest, onProgress?: ProgressCallback): Promise<GenerateResult> {
    const m = this.requireModel();
    const t0 = performance.now();
    const count = Math.max(1, Math.min(MAX_BATCH, Math.trunc(req.count) || 1));
    const seed = normalizeSeed(req.seed);
    const { data: emb, ms: encodeMs } = await this.embed(m, req.prompt);

    const { channels, height, width } = m.manifest.latent;
    const latentSize = channels * height * width;
    const noise = new Float32Array(count * latentSize);
    const embBatch = new Float32Array(count * emb.length);
    for (let i = 0; i < count; i++) {
      // Image i's noise depends only on seed + i, so a variation re-run alone looks the same.
      noise.set(gaussianNoise((seed + i) >>> 0, latentSize), i * latentSize);
      embBatch.set(emb, i * emb.length);
    }
    onProgress?.({ phase: 'generate', step: 0, steps: 1 });
    const t1 = performance.now();
    const x0 = await denoiseOneStep(m.unet, m.manifest, noise, embBatch, count);
    const t2 = performance.now();
    const rgb = await decodeLatents(m.decoder, m.manifest, x0, count);
    const t3 = performance.now();
    onProgress?.({ phase: 'generate', step: 1, steps: 1 });
    return {
      prompt: req.prompt,
      images: this.toImages(m, rgb, count, seed),
      backend: m.backend,
      ms: performance.now() - t0,
      stages: { encode: encodeMs, denoise: t2 - t1, decode: t3 - t2 },
      steps: 1,
    };
  }

  async generateTeacher(req: TeacherRequest, onProgress?: ProgressCallback): Promise<GenerateResult> {
    return this.queue.run(() => this.withDeviceRecovery(async () => {
      const m = this.requireModel();
      if (!m.teacherBytes || !m.manifest.teacher) throw new ModelNotLoadedError('this model ships no teacher');
      m.teacher ??= await createSession(m.teacherBytes, m.backend);
      const t0 = performance.now();
      const steps = Math.max(1, Math.min(1000, Math.trunc(req.steps) || m.manifest.teacher.default_steps));
      const seed = normalizeSeed(req.seed);
      const { data: cond, ms: encodeMs } = await this.embed(m, req.prompt);
      this.uncond ??= await encodeText(m.textEncoder, m.manifest, m.tokenizer.encode(''), 1);
      const { channels, height, width } = m.manifest.latent;
      const z = gaussianNoise(seed, channels * height * width);
      const t1 = performance.now();
      const x0 = await ddimTeacher(m.teacher, m.manifest, z, cond, this.uncond, steps, req.guidance, (step, total) =>
        onProgress?.({ phase: 'generate', step, steps: total }),
      );
      const t2 = performance.now();
      const rgb = await decodeLatents(m.decoder, m.manifest, x0, 1);
      const t3 = performance.now();
      return {
        prompt: req.prompt,
        images: this.toImages(m, rgb, 1, seed),
        backend: m.backend,
        ms: performance.now() - t0,
        stages: { encode: encodeMs, denoise: t2 - t1, decode: t3 - t2 },
        steps,
      };
    }));
  }

  /** Bench only (bench-hooks.ts): the raw session.run times of one image, in the same queue. */
  async benchRawRuns(prompt: string, seed: number): Promise<RawStageTimes> {
    return this.queue.run(() => {
      const m = this.requireModel();
      return rawStageRuns(m, clipPromptForTokenizer(prompt, m.tokenizer.maxLength), seed);
    });
  }

  /** Bench only: ms per run of an n³ MatMul on the loaded model's backend and thread count. */
  async benchMatmul(modelBytes: Uint8Array, n: number, reps: number): Promise<number[]> {
    return this.queue.run(() => matmulPeak(modelBytes, n, reps, this.requireModel().backend));
  }

  private toImages(m: LoadedModel, rgb: Float32Array, count: number, seed: number) {
    const { width, height, range } = m.manifest.output;
    return Array.from({ length: count }, (_, i) => ({
      seed: (seed + i) >>> 0,
      width,
      height,
      pixels: planarToRgba(rgb, i * 3 * width * height, width, height, range).buffer,
    }));
  }

  private async release(): Promise<void> {
    const m = this.model;
    this.model = null;
    this.embedding = null;
    this.uncond = null;
    if (!m) return;
    await Promise.all([m.textEncoder, m.unet, m.decoder, m.teacher].map((s) => s?.release().catch(() => undefined)));
  }
}
