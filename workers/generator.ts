/**
 * The generator: one queue for every load and run, and the caches that make typing cheap.
 *   prompt → ids (tokenize) → embedding (encode-text, cached per prompt) → pipeline/generate.ts
 * What it delegates: loading to load-model.ts, adding by URL to model-store/add-by-url.ts, the
 * caches to pipeline/prompt-caches.ts, device loss to runtime/device-watch.ts and the
 * WebGPU → WASM fallback to runtime/wasm-fallback.ts.
 * The Comlink surface lives in generator.worker.ts; this class knows nothing about messaging.
 */
import { MAX_BATCH, MODELS_PATH } from '../src/shared/config';
import { DeviceLostError, LoadCancelledError, ModelChangedError, ModelNotLoadedError } from '../src/shared/errors';
import type {
  AddRequest,
  GenerateRequest,
  GenerateResult,
  LoadResult,
  ProgressCallback,
  RemoteModelPlan,
  FileInfo,
  TeacherRequest,
} from '../src/shared/types';
import { matmulPeak, rawStageRuns, type RawStageTimes } from './bench-hooks';
import { loadModel, resolveModel, type LoadedModel, type LoadOptions, type ResolvedModel } from './load-model';
import { putAdded } from './model-store/added-models';
import { forgetUnusableFiles, UrlModels } from './model-store/add-by-url';
import { encodeText } from './pipeline/encode-text';
import { studentImages, teacherImage } from './pipeline/generate';
import { normalizeSeed } from './pipeline/noise';
import { embeddingAt, exploreOf, towardSeed } from './pipeline/explore';
import { EmbeddingCache, ImageCache, promptTokens } from './pipeline/prompt-caches';
import { clearStoredEmbeddings } from './pipeline/stored-embeddings';
import { clipPromptForTokenizer } from './pipeline/tokenize';
import { checkGraphContract } from './runtime/graph-contract';
import { DeviceWatch } from './runtime/device-watch';
import { graphInput } from './runtime/graph-input';
import { createSession, SerialQueue } from './runtime/session';
import { switchNote, withWasmFallback, type SwitchReason } from './runtime/wasm-fallback';

export type { LoadOptions } from './load-model';

const modelsBase = () => new URL(`${import.meta.env.BASE_URL}${MODELS_PATH}`, self.location.href).href;

export class Generator {
  private model: LoadedModel | null = null;
  private loading: { modelId: string; options: LoadOptions } | null = null;
  private readonly device = new DeviceWatch();
  /** Aborts the load in progress (cancelLoad): its download stops and frees its buffers. */
  private loadAbort: AbortController | null = null;
  /** Adds by URL asked for and not settled (queued or running), each stoppable by cancelLoad. */
  private readonly addAborts = new Set<AbortController>();
  private readonly queue = new SerialQueue();
  // The caches that make typing cheap (pipeline/prompt-caches.ts).
  private readonly embeddings = new EmbeddingCache();
  private readonly lastImages = new ImageCache();
  private uncond: Float32Array | null = null;
  /** Plans of models by URL, read and shown before anything is downloaded. */
  private readonly urlModels = new UrlModels(modelsBase);

  /** Reads a model's layout from a URL and checks this device against it (add-by-url.ts). */
  inspect(input: string): Promise<RemoteModelPlan> {
    return this.urlModels.inspect(input);
  }

  /**
   * Downloads (with progress), verifies, caches and loads the model of a plan the person read
   * (UrlModels.confirmed: the same layout, or a refusal); remembers it on success.
   */
  async add({ id, input, fingerprint }: AddRequest, onProgress: ProgressCallback, options: LoadOptions = {}): Promise<LoadResult> {
    // Its own controller from the moment it is asked for: a stop while it waits in the queue (or
    // checks the device) ends it as soon as its turn comes, and no other load can take its place.
    const abort = new AbortController();
    this.addAborts.add(abort);
    const stopped = () => {
      if (abort.signal.aborted) throw new LoadCancelledError('loading was stopped');
    };
    return this.queue
      .run(async () => {
        stopped();
        const previous = this.loading;
        const remote = await this.urlModels.confirmed(id, input, fingerprint);
        stopped();
        const result = await this.loadNow(
          id,
          onProgress,
          options,
          { manifest: remote.manifest, baseUrl: new URL(remote.baseUrl) },
          abort,
        ).catch(async (err: unknown) => {
          await forgetUnusableFiles(remote.manifest, err);
          // A graph the runtime refused is found only once the model in use was released for it:
          // load that one again (from IndexedDB), so a bad model never leaves the page without one.
          if (!this.model && previous) await this.loadNow(previous.modelId, () => undefined, previous.options).catch(() => undefined);
          throw err;
        });
        // Remembered only once it loaded, so a failed download leaves no half-added model behind.
        await putAdded({
          id,
          manifest: remote.manifest,
          baseUrl: remote.baseUrl,
          source: remote.source,
          license: remote.license,
          addedAt: Date.now(),
        });
        this.urlModels.done(id);
        return result;
      })
      .finally(() => this.addAborts.delete(abort));
  }

  async load(modelId: string, onProgress: ProgressCallback, options: LoadOptions = {}): Promise<LoadResult> {
    return this.queue.run(() => this.loadNow(modelId, onProgress, options));
  }

  /** Stops the running load and every add by URL not yet settled. Stored chunks stay, so the next try resumes. */
  cancelLoad(): void {
    this.loadAbort?.abort();
    for (const a of this.addAborts) a.abort();
  }

  private async loadNow(
    modelId: string,
    onProgress: ProgressCallback,
    options: LoadOptions,
    resolved?: ResolvedModel,
    abort = new AbortController(),
  ): Promise<LoadResult> {
    const startedAt = performance.now();
    this.loadAbort = abort;
    try {
      const { manifest, baseUrl } = resolved ?? (await resolveModel(modelId, modelsBase()));
      const { model, result } = await loadModel({
        manifest,
        baseUrl,
        onProgress,
        options,
        signal: abort.signal,
        startedAt,
        replacing: this.model !== null,
        releaseCurrent: async () => {
          this.loading = { modelId, options };
          await this.release();
        },
      });
      this.model = model;
      this.embeddings.useStored(model.stored);
      this.device.watch(model.backend);
      return result;
    } finally {
      if (this.loadAbort === abort) this.loadAbort = null;
    }
  }

  /** After a device loss, reload the same model on WASM (files come from IndexedDB, no network). */
  private async recoverIfLost(): Promise<void> {
    if (this.device.lost) await this.switchToWasm('device-lost', switchNote('device-lost', null));
  }

  private async switchToWasm(reason: SwitchReason, note: string): Promise<void> {
    if (!this.loading) return;
    try {
      await this.loadNow(this.loading.modelId, () => undefined, { backend: 'wasm' });
    } catch (err) {
      const what = reason === 'device-lost' ? 'the GPU device was lost' : 'WebGPU gave an invalid image';
      throw new DeviceLostError(`${what} and WASM recovery failed: ${(err as Error).message}`);
    }
    if (this.model) this.model.switchNote = note;
  }

  private requireModel(): LoadedModel {
    if (!this.model) throw new ModelNotLoadedError('no model is loaded yet');
    return this.model;
  }

  async generate(req: GenerateRequest, onProgress?: ProgressCallback): Promise<GenerateResult> {
    return this.queue.run(() => this.withDeviceRecovery(() => this.generateNow(req, onProgress)));
  }

  /** Runs `job`, redone once on WASM if WebGPU lost its device or gave a bad image (wasm-fallback.ts). */
  private async withDeviceRecovery<T>(job: () => Promise<T>): Promise<T> {
    await this.recoverIfLost();
    return withWasmFallback(job, {
      onWebGpu: () => this.model?.backend === 'webgpu',
      lostWithin: (ms) => this.device.lostWithin(ms),
      switchToWasm: (reason, note) => this.switchToWasm(reason, note),
    });
  }

  private async generateNow(req: GenerateRequest, onProgress?: ProgressCallback): Promise<GenerateResult> {
    const m = this.requireModel();
    const t0 = performance.now();
    const count = Math.max(1, Math.min(MAX_BATCH, Math.trunc(req.count) || 1));
    const seed = normalizeSeed(req.seed);
    // Before its tokenizer is read, a prompt whose embedding is kept under its exact text paints
    // from that (the first image of a visit); anything else reads the tokenizer first.
    const text = clipPromptForTokenizer(req.prompt, m.tokenizer.maxLength);
    const byText = m.tokenizer.ready || req.explore ? null : this.embeddings.keptByText(text);
    const tokenizer = byText ? null : await m.tokenizer.get();
    const tokens = tokenizer ? promptTokens(tokenizer, req.prompt) : null;
    const explore = tokenizer ? exploreOf(req, tokenizer) : null;
    const key = `${tokens?.key ?? `text:${text}`}|${seed}|${count}${explore?.key ?? ''}`;
    const reused = req.reuse !== false ? this.lastImages.get(key) : null;
    if (reused) {
      return {
        prompt: req.prompt,
        images: reused,
        backend: m.backend,
        switchNote: m.switchNote,
        ms: performance.now() - t0,
        stages: { encode: 0, denoise: 0, decode: 0 },
        steps: 0,
      };
    }
    const { data: emb, ms: encodeMs } = byText ? { data: byText, ms: 0 } : await embeddingAt(this.embeddings, m, tokens!, explore);

    onProgress?.({ phase: 'generate', step: 0, steps: 1 });
    const noiseOf = explore?.seedMix ? towardSeed(explore.toSeed, explore.seedMix) : undefined;
    const { images, denoiseMs, decodeMs } = await studentImages(m, emb, seed, count, noiseOf);
    onProgress?.({ phase: 'generate', step: 1, steps: 1 });
    // A deferred tokenizer and encoder session are made next in the queue: after this image, before
    // the next keystroke.
    if (!m.textEncoder.started) void this.queue.run(() => readyToEncode(m)).catch(() => undefined);
    this.lastImages.put(key, images);
    return {
      prompt: req.prompt,
      images,
      backend: m.backend,
      switchNote: m.switchNote,
      ms: performance.now() - t0,
      stages: { encode: encodeMs, denoise: denoiseMs, decode: decodeMs },
      steps: 1,
    };
  }

  async generateTeacher(req: TeacherRequest, onProgress?: ProgressCallback): Promise<GenerateResult> {
    return this.queue.run(() =>
      this.withDeviceRecovery(async () => {
        const m = this.requireModel();
        // The request was queued for one model; a load queued before it may have replaced that model.
        if (req.modelId !== m.manifest.id) throw new ModelChangedError(`asked for ${req.modelId}'s teacher, ${m.manifest.id} is loaded`);
        if (!m.teacherFile || !m.manifest.teacher) throw new ModelNotLoadedError('this model ships no teacher');
        if (!m.teacher) {
          const key = m.manifest.teacher.file;
          const bytes = await m.teacherFile.bytes(onProgress ?? (() => undefined));
          const { graph, externalData } = graphInput(m.manifest.files[key], bytes);
          const teacher = await createSession(graph, m.backend, { externalData });
          try {
            checkGraphContract(teacher, m.manifest.tensors.unet, 'unet_teacher'); // the student's signature
          } catch (err) {
            await teacher.release().catch(() => undefined);
            throw err;
          }
          m.teacher = teacher;
          m.teacherFile.sessionMade();
        }
        const t0 = performance.now();
        const steps = Math.max(1, Math.min(1000, Math.trunc(req.steps) || m.manifest.teacher.default_steps));
        const seed = normalizeSeed(req.seed);
        const tokenizer = await m.tokenizer.get();
        const { data: cond, ms: encodeMs } = await this.embeddings.get(m, promptTokens(tokenizer, req.prompt), 'data');
        this.uncond ??= await encodeText(await m.textEncoder.get(), m.manifest, tokenizer.encode(''), 1);
        const { images, denoiseMs, decodeMs } = await teacherImage(
          { ...m, teacher: m.teacher },
          cond as Float32Array,
          this.uncond,
          seed,
          steps,
          req.guidance,
          (step, total) => onProgress?.({ phase: 'generate', step, steps: total }),
        );
        return {
          prompt: req.prompt,
          images,
          backend: m.backend,
          switchNote: m.switchNote,
          ms: performance.now() - t0,
          stages: { encode: encodeMs, denoise: denoiseMs, decode: decodeMs },
          steps,
        };
      }),
    );
  }

  /**
   * Downloads (or reads from IndexedDB), verifies and keeps the teacher's file, outside the run
   * queue so images keep coming meanwhile; null when the model has no teacher. The UI calls it
   * once the model is loaded, so compare works at once, and offline on later visits.
   */
  async prefetchTeacher(onProgress: ProgressCallback): Promise<FileInfo | null> {
    const m = this.requireModel();
    if (!m.teacherFile) return null;
    const { source, discarded, resumedFrom } = await m.teacherFile.info(onProgress);
    return { file: m.manifest.teacher!.file, source, discarded, resumedFrom };
  }

  /** "Clear downloaded models": the kept prompt embeddings go too, in memory as in IndexedDB. */
  async clearStoredEmbeddings(): Promise<void> {
    this.embeddings.forgetStored();
    await clearStoredEmbeddings();
  }

  /**
   * Reads the files and makes the sessions the load left for later (in the queue: after the image
   * being made) and says where the files came from; [] when there are none. The page asks once the
   * first image is up; their download's progress goes to `onProgress`.
   */
  async deferredFiles(onProgress?: ProgressCallback): Promise<FileInfo[]> {
    const m = this.requireModel();
    if (onProgress) m.reportLaterTo(onProgress);
    return this.queue.run(async () => {
      if (this.model !== m) throw new ModelChangedError('another model was loaded');
      await readyToEncode(m);
      return m.deferredFiles();
    });
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

  private async release(): Promise<void> {
    const m = this.model;
    this.model = null;
    this.embeddings.clear();
    this.lastImages.clear();
    this.uncond = null;
    if (!m) return;
    m.laterAbort.abort();
    await Promise.all([m.textEncoder, m.unet, m.decoder, m.teacher].map((s) => s?.release().catch(() => undefined)));
  }
}

/** The tokenizer read and the encoder's session made: what a prompt without a kept embedding needs. */
async function readyToEncode(m: LoadedModel): Promise<void> {
  await m.tokenizer.get();
  await m.textEncoder.get();
}
