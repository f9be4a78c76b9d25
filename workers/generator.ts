/**
 * The generator: model loading (manifest → files → sessions) and the two pipelines,
 *   student: prompt → ids → embeddings → seeded noise → ONE UNet call → x0 → decoder → RGBA
 *   teacher: same ends, N DDIM steps with classifier-free guidance in the middle.
 * The Comlink surface lives in generator.worker.ts; this class knows nothing about messaging.
 */
import type * as ort from 'onnxruntime-web';
import { MAX_BATCH, MODELS_PATH } from '../src/shared/config';
import { DeviceLostError, LayoutError, LoadCancelledError, ManifestError, ModelChangedError, ModelNotLoadedError } from '../src/shared/errors';
import type {
  AddRequest, FileSource, GenerateRequest, NotStoredReason, GenerateResult, LoadResult, TeacherFileInfo, Manifest, ModelIndexEntry, ProgressCallback, RemoteModelPlan, TeacherRequest,
} from '../src/shared/types';
import { matmulPeak, rawStageRuns, type RawModel, type RawStageTimes } from './bench-hooks';
import { getAdded, putAdded } from './model-store/added-models';
import { deleteCached, storedBytes } from './model-store/idb-cache';
import { fileKey, loadModelFile } from './model-store/load-file';
import { fetchManifest, readIndex } from './model-store/manifest';
import { parseModelUrl } from './model-store/model-url';
import { planFingerprint, readRemoteModel, type RemoteModel } from './model-store/remote-layout';
import { teacherFile as makeTeacherFile, type TeacherFile } from './model-store/teacher-file';
import { createClipTokenizer } from './pipeline/clip-tokenize';
import { encodeTextTensor } from './pipeline/encode-text';
import { checkDevice, type DeviceNeeds } from './runtime/device-check';
import { checkGraphContract } from './runtime/graph-contract';
import { switchNote, withWasmFallback, type SwitchReason } from './runtime/wasm-fallback';
import { studentImages, teacherImage } from './pipeline/generate';
import { encodeText } from './pipeline/encode-text';
import { normalizeSeed } from './pipeline/noise';
import { clipPromptForTokenizer, createTokenizer } from './pipeline/tokenize';
import { chooseBackend, type BackendPreference } from './runtime/backend';
import { LoadPhases } from './runtime/load-phases';
import { startRuntime } from './runtime/start-runtime';
import { useOrtFor } from './runtime/ort';
import { createSession, ortWebGpuDevice, SerialQueue } from './runtime/session';

interface LoadedModel extends RawModel {
  /**
   * The teacher's file, fetched once on first ask (prefetchTeacher after the first image, or a
   * compare), outside the load: its bytes no longer delay the first image. Its session is made on
   * first compare (most visits never compare); the bytes are let go once the session exists.
   */
  teacherFile: TeacherFile | null;
  /** Stops a teacher download still running when the model is released. */
  teacherAbort: AbortController;
  teacher: ort.InferenceSession | null;
  /** Hidden states stay an ORT tensor (in GPU memory on WebGPU) instead of float32 data. */
  gpuEmbedding: boolean;
  /** Why this model runs on WASM after starting on WebGPU (wasm-fallback.ts); null if it did not switch. */
  switchNote: string | null;
}

export interface LoadOptions {
  backend?: BackendPreference;
  /** WASM threads; default: every core (capped at 4). Only the first load of a worker sets it. */
  threads?: number;
}

/** A model ready to load: its validated manifest and the URL its file paths are relative to. */
interface ResolvedModel {
  manifest: Manifest;
  baseUrl: URL;
}

/**
 * What the device check needs from a manifest. Files already stored are not downloaded again, and
 * neither are the stored chunks of an interrupted download (it resumes after them).
 */
async function deviceNeeds(manifest: Manifest): Promise<DeviceNeeds> {
  const files = Object.entries(manifest.files);
  let downloadBytes = 0;
  for (const [key, f] of files) {
    const have = await storedBytes(fileKey(manifest, key), f.sha256, f.bytes).catch(() => 0);
    downloadBytes += f.bytes - have;
  }
  const largest = files.map(([, f]) => f).reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const req = manifest.requirements ?? {};
  return {
    webgpuFeatures: req.webgpu_features ?? [],
    wasmOk: req.wasm !== false,
    maxTensorBytes: req.max_tensor_bytes,
    largestFile: { path: largest.path, bytes: largest.bytes },
    downloadBytes,
  };
}

/** The manifest's tokenizer from its file(s); a file that is not a tokenizer is a LayoutError. */
function readTokenizer(manifest: Manifest, bytes: Uint8Array, merges: Uint8Array | null) {
  const { max_length: maxLength, pad_id: padId } = manifest.tokenizer;
  try {
    return merges
      ? createClipTokenizer(bytes, merges, maxLength, padId)
      : createTokenizer(JSON.parse(new TextDecoder().decode(bytes)) as object, maxLength, padId);
  } catch (err) {
    throw new LayoutError(`${manifest.files.tokenizer.path} is not a tokenizer this app can read (${(err as Error).message ?? err})`);
  }
}

const modelsBase = () => new URL(`${import.meta.env.BASE_URL}${MODELS_PATH}`, self.location.href).href;

export class Generator {
  private model: LoadedModel | null = null;
  private loading: { modelId: string; options: LoadOptions } | null = null;
  private deviceLost = false;
  /** Aborts the load in progress (cancelLoad): its download stops and frees its buffers. */
  private loadAbort: AbortController | null = null;
  /** Adds by URL asked for and not settled (queued or running), each stoppable by cancelLoad. */
  private readonly addAborts = new Set<AbortController>();
  private readonly queue = new SerialQueue();
  /**
   * The last prompt's embedding, keyed by its token ids: changing only the seed, or only what the
   * tokenizer ignores (a trailing space, letter case for the uncased MiniLM), skips the encoder.
   */
  private embedding: { ids: string; data: Float32Array | ort.Tensor } | null = null;
  /**
   * The last request's images (copies: the returned pixels are transferred away), keyed by token
   * ids, seed and count. While typing, a keystroke that leaves the tokens as they were (a space
   * between words) asks for exactly the same images: they come back without running any network.
   */
  private lastImages: { key: string; images: GenerateResult['images'] } | null = null;
  private uncond: Float32Array | null = null;
  /** Models read from a URL and shown to the person, waiting for "download". */
  private readonly inspected = new Map<string, RemoteModel>();

  /**
   * Reads a model's layout from a URL or repository id and checks this device against it, without
   * downloading model weights. URL and layout problems throw (InsecureUrlError, LayoutError, …);
   * a device that cannot run the model gets the plan with `refusal` set, so size and licence show too.
   */
  async inspect(input: string): Promise<RemoteModelPlan> {
    const remote = await this.readLayout(input);
    this.inspected.set(remote.id, remote);
    const refusal = await checkDevice(await deviceNeeds(remote.manifest));
    const m = remote.manifest;
    return {
      id: remote.id,
      name: m.name,
      license: remote.license,
      licenseUrl: remote.licenseUrl,
      source: remote.source,
      totalBytes: Object.values(m.files).reduce((s, f) => s + f.bytes, 0),
      files: Object.entries(m.files).map(([key, f]) => ({ key, path: f.path, bytes: f.bytes })),
      rule: m.one_step.rule,
      webgpuFeatures: m.requirements?.webgpu_features ?? [],
      assumed: remote.assumed,
      refusal: refusal ? { name: refusal.name, message: refusal.message } : null,
      fingerprint: planFingerprint(remote),
    };
  }

  /** The layout behind a URL or repository id (small JSON files; no weights). */
  private async readLayout(input: string): Promise<RemoteModel> {
    const ref = parseModelUrl(input);
    const index = await readIndex(modelsBase()).catch(() => [] as ModelIndexEntry[]);
    const known = index.find((e) => e.url && (e.url === ref.repo || e.url === `${ref.origin}/${ref.repo}`));
    return readRemoteModel(ref, known);
  }

  /**
   * Downloads (with progress), verifies, caches and loads the model of a plan the person read;
   * remembers it on success. `input` is what that plan was read from: a worker that replaced a
   * crashed one never saw the plan, so it reads the layout again, and refuses a repository whose
   * licence or files are no longer those the person was shown.
   */
  async add({ id, input, fingerprint }: AddRequest, onProgress: ProgressCallback, options: LoadOptions = {}): Promise<LoadResult> {
    // Its own controller from the moment it is asked for: a stop while it waits in the queue (or
    // checks the device) ends it as soon as its turn comes, and no other load can take its place.
    const abort = new AbortController();
    this.addAborts.add(abort);
    const stopped = () => {
      if (abort.signal.aborted) throw new LoadCancelledError('loading was stopped');
    };
    return this.queue.run(async () => {
      stopped();
      const previous = this.loading;
      const remote = this.inspected.get(id) ?? (await this.readLayout(input));
      stopped();
      if (remote.id !== id || planFingerprint(remote) !== fingerprint) {
        throw new LayoutError(`${input.trim()} changed since it was checked (its licence or files differ); check it again`);
      }
      // Checked again: storage and the GPU may have changed since the person read the plan.
      const refusal = await checkDevice(await deviceNeeds(remote.manifest));
      stopped();
      if (refusal) throw refusal;
      const result = await this.loadNow(id, onProgress, options, { manifest: remote.manifest, baseUrl: new URL(remote.baseUrl) }, abort)
        .catch(async (err: unknown) => {
          // Files that arrived whole but are not what the pipeline can run (not ONNX, not a
          // tokenizer, tensors the manifest does not name) are of no use later: none stays stored.
          // Interrupted or stopped downloads keep their chunks, so a retry resumes.
          if (['LayoutError', 'ManifestError'].includes((err as Error).name)) {
            await Promise.all(Object.keys(remote.manifest.files).map((k) => deleteCached(fileKey(remote.manifest, k)).catch(() => undefined)));
          }
          // A graph the runtime refused is found only once the model in use was released for it:
          // load that one again (from IndexedDB), so a bad model never leaves the page without one.
          if (!this.model && previous) await this.loadNow(previous.modelId, () => undefined, previous.options).catch(() => undefined);
          throw err;
        });
      // Remembered only once it loaded, so a failed download leaves no half-added model behind.
      await putAdded({ id, manifest: remote.manifest, baseUrl: remote.baseUrl, source: remote.source, license: remote.license, addedAt: Date.now() });
      this.inspected.delete(id);
      return result;
    }).finally(() => this.addAborts.delete(abort));
  }

  /** index.json first (shipped models), then the models this person added by URL. */
  private async resolve(modelId: string): Promise<ResolvedModel> {
    let indexError: unknown = null;
    const index = await readIndex(modelsBase()).catch((err: unknown) => ((indexError = err), [] as ModelIndexEntry[]));
    const shipped = index.find((e) => e.id === modelId && !e.url);
    // A shipped model's bad manifest is its own error, never hidden behind the added-models lookup.
    if (shipped) return fetchManifest(modelsBase(), shipped);
    const added = await getAdded(modelId);
    if (added) return { manifest: added.manifest, baseUrl: new URL(added.baseUrl) };
    if (indexError) throw indexError;
    throw new ManifestError(`model "${modelId}" is neither shipped nor added on this device`);
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
    modelId: string, onProgress: ProgressCallback, options: LoadOptions, resolved?: ResolvedModel, abort = new AbortController(),
  ): Promise<LoadResult> {
    const started = performance.now();
    this.loadAbort = abort;
    try {
      const { manifest, baseUrl } = resolved ?? (await this.resolve(modelId));
      return await this.loadFiles(modelId, manifest, baseUrl, onProgress, options, abort.signal, started);
    } finally {
      if (this.loadAbort === abort) this.loadAbort = null;
    }
  }

  private async loadFiles(
    modelId: string, manifest: Manifest, baseUrl: URL, onProgress: ProgressCallback, options: LoadOptions, signal: AbortSignal, started: number,
  ): Promise<LoadResult> {
    const req = manifest.requirements ?? {};
    // Before release(): a refused model leaves the current one running.
    const choice = await chooseBackend(options.backend ?? 'auto', req.webgpu_features ?? [], options.threads, req.wasm !== false);
    const phases = new LoadPhases();
    // The runtime's WebAssembly compiles and starts while the files are read (once per build).
    const runtimeStarted = phases.time('runtime start', () => startRuntime(choice.backend, choice.threads));
    runtimeStarted.catch(() => undefined); // awaited (and reported) before the first session

    const sources: Record<string, FileSource> = {};
    const discarded: string[] = [];
    const resumed: Record<string, number> = {};
    let cached = true;
    let notStored: NotStoredReason | null = null;
    const fetchFile = async (file: string) => {
      if (signal.aborted) throw new LoadCancelledError('loading was stopped');
      const f = await phases.time(`read ${file}`, () => loadModelFile(manifest, baseUrl, file, onProgress, signal));
      sources[file] = f.source;
      if (f.discarded) discarded.push(file);
      if (f.resumedFrom > 0) resumed[file] = f.resumedFrom;
      cached &&= f.cached;
      notStored ??= f.notStored;
      return f.bytes;
    };
    // Files are fetched one after another, each at most once (memoised), in the order the sessions
    // need them. (Fetching all at once showed no measured cold-start gain here (bench/), and with
    // several sockets open a cut connection loses more already-sent bytes — tests/e2e/suites/40-faults.mjs.)
    // The teacher is not among them: it is fetched after the first image (prefetchTeacher).
    const graphs = ['text_encoder', 'unet', 'vae_decoder'] as const;
    type Graph = (typeof graphs)[number];
    const fetched = new Map<string, Promise<Uint8Array>>();
    const file = (key: string) => {
      if (!fetched.has(key)) fetched.set(key, fetchFile(key));
      return fetched.get(key)!;
    };
    // ONNX external data (weights past protobuf's 2 GB limit), named inside the graph relative to
    // the graph's own folder.
    const externalData = async (g: Graph) => {
      const dir = manifest.files[g].path.split('/').slice(0, -1).join('/');
      const out: { path: string; data: Uint8Array }[] = [];
      for (const key of manifest.external_data?.[g] ?? []) {
        const p = manifest.files[key].path;
        out.push({ path: dir && p.startsWith(`${dir}/`) ? p.slice(dir.length + 1) : p, data: await file(key) });
      }
      return out;
    };
    const order = [
      'tokenizer', ...(manifest.tokenizer.kind === 'clip-bpe' ? [manifest.tokenizer.merges!] : []),
      ...graphs.flatMap((g) => [g, ...(manifest.external_data?.[g] ?? [])]),
    ];
    // Switching models (one added by URL, or another shipped one): every file is fetched and
    // verified before the current model is released, so a failed download, a bad checksum or a
    // full disk leaves the page usable. With nothing loaded yet (first load, worker restart) there
    // is nothing to keep, and each session is created as soon as its file is in.
    if (this.model) for (const key of order) await file(key);
    // So is the tokenizer read (cheap): an unreadable one never replaces a working model.
    const readTok = async () => readTokenizer(manifest, await file('tokenizer'), manifest.tokenizer.kind === 'clip-bpe' ? await file(manifest.tokenizer.merges!) : null);
    const earlyTokenizer = this.model ? await readTok() : null;

    // The first files are read while the runtime starts (one download at a time)...
    file('tokenizer').then(() => file(graphs[0])).catch(() => undefined);
    // ...and it starts before release(): a runtime that cannot load leaves the current model running.
    await runtimeStarted;
    // The last point where a stop keeps the current model: past release() there is none to keep
    // (the page greys its stop button on 'switch').
    if (signal.aborted) throw new LoadCancelledError('loading was stopped');
    if (this.model) onProgress({ phase: 'switch' });
    this.loading = { modelId, options };
    await this.release();
    // After release(): the previous model's sessions and tensors belong to the previous build.
    await useOrtFor(choice.backend, choice.threads);
    const overrides = manifest.runtime?.free_dimension_overrides ?? {};
    const made: ort.InferenceSession[] = [];
    const session = async (g: Graph, gpuOutputs?: string[]) => {
      const bytes = await file(g);
      const ext = await externalData(g);
      // The next graph's file is read (or downloaded: still one download at a time) while this
      // session is created.
      const next = graphs[graphs.indexOf(g) + 1];
      if (next) file(next).catch(() => undefined);
      onProgress({ phase: 'session', file: g, backend: choice.backend });
      // The first session's time includes compiling and starting the runtime's WebAssembly.
      const s = await phases.time(`session ${g}`, () => createSession(bytes, choice.backend, { freeDimensionOverrides: overrides[g], externalData: ext, gpuOutputs }))
        .catch((err: unknown) => {
          throw new LayoutError(`${manifest.files[g].path} is not a model the runtime can read (${(err as Error).message ?? err})`);
        });
      made.push(s);
      checkGraphContract(s, manifest.tensors[g], g);
      return s;
    };
    try {
      const tokenizer = earlyTokenizer ?? (await readTok());
      // On WebGPU, one-image-per-call models keep the prompt's hidden states on the GPU for the UNet.
      const gpuEmbedding = choice.backend === 'webgpu' && manifest.runtime?.max_batch === 1;
      const textEncoder = await session('text_encoder', gpuEmbedding ? Object.keys(manifest.tensors.text_encoder.outputs).slice(0, 1) : undefined);
      const unet = await session('unet');
      const decoder = await session('vae_decoder');
      const teacherAbort = new AbortController();
      const teacherKey = manifest.teacher?.file;
      const teacherFile = teacherKey ? makeTeacherFile((p) => loadModelFile(manifest, baseUrl, teacherKey, p, teacherAbort.signal)) : null;
      this.model = { manifest, backend: choice.backend, tokenizer, textEncoder, unet, decoder, teacherFile, teacherAbort, teacher: null, gpuEmbedding, switchNote: null };
    } catch (err) {
      // A file failed after some sessions were made: free them (GPU memory) before reporting it.
      await Promise.all(made.map((s) => s.release().catch(() => undefined)));
      throw err;
    }

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
      notStored,
      resumed,
      hasTeacher: manifest.teacher !== undefined,
      teacherDefaults: manifest.teacher ? { steps: manifest.teacher.default_steps, guidance: manifest.teacher.default_guidance } : null,
      width: manifest.output.width,
      height: manifest.output.height,
      loadMs: Math.round(performance.now() - started),
      phases: phases.list,
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
    if (this.deviceLost) await this.switchToWasm('device-lost', switchNote('device-lost', null));
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

  /** The prompt's token ids, and them as a string: the key of both caches. */
  private tokenIds(m: LoadedModel, prompt: string): { ids: BigInt64Array; key: string } {
    const ids = m.tokenizer.encode(clipPromptForTokenizer(prompt, m.tokenizer.maxLength));
    return { ids, key: ids.join(',') };
  }

  private async embed(m: LoadedModel, { ids, key }: { ids: BigInt64Array; key: string }): Promise<{ data: Float32Array | ort.Tensor; ms: number }> {
    if (this.embedding?.ids === key) return { data: this.embedding.data, ms: 0 };
    const t0 = performance.now();
    const data = m.gpuEmbedding ? await encodeTextTensor(m.textEncoder, m.manifest, ids, 1) : await encodeText(m.textEncoder, m.manifest, ids, 1);
    this.dropEmbedding();
    this.embedding = { ids: key, data };
    return { data, ms: performance.now() - t0 };
  }

  /** A GPU-resident embedding is ORT's to free: dispose it when the prompt changes. */
  private dropEmbedding(): void {
    const old = this.embedding?.data;
    if (old && !(old instanceof Float32Array)) old.dispose();
    this.embedding = null;
  }

  async generate(req: GenerateRequest, onProgress?: ProgressCallback): Promise<GenerateResult> {
    return this.queue.run(() => this.withDeviceRecovery(() => this.generateNow(req, onProgress)));
  }

  /** Runs `job`, redone once on WASM if WebGPU lost its device or gave a bad image (wasm-fallback.ts). */
  private async withDeviceRecovery<T>(job: () => Promise<T>): Promise<T> {
    await this.recoverIfLost();
    return withWasmFallback(job, {
      onWebGpu: () => this.model?.backend === 'webgpu',
      lostWithin: (ms) => this.lostWithin(ms),
      switchToWasm: (reason, note) => this.switchToWasm(reason, note),
    });
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
    const tokens = this.tokenIds(m, req.prompt);
    const key = `${tokens.key}|${seed}|${count}`;
    if (req.reuse !== false && this.lastImages?.key === key) {
      const images = this.lastImages.images.map((i) => ({ ...i, pixels: i.pixels.slice(0) }));
      return { prompt: req.prompt, images, backend: m.backend, switchNote: m.switchNote, ms: performance.now() - t0, stages: { encode: 0, denoise: 0, decode: 0 }, steps: 0 };
    }
    const { data: emb, ms: encodeMs } = await this.embed(m, tokens);

    onProgress?.({ phase: 'generate', step: 0, steps: 1 });
    const { images, denoiseMs, decodeMs } = await studentImages(m, emb, seed, count);
    onProgress?.({ phase: 'generate', step: 1, steps: 1 });
    this.lastImages = { key, images: images.map((i) => ({ ...i, pixels: i.pixels.slice(0) })) };
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
    return this.queue.run(() => this.withDeviceRecovery(async () => {
      const m = this.requireModel();
      // The request was queued for one model; a load queued before it may have replaced that model.
      if (req.modelId !== m.manifest.id) throw new ModelChangedError(`asked for ${req.modelId}'s teacher, ${m.manifest.id} is loaded`);
      if (!m.teacherFile || !m.manifest.teacher) throw new ModelNotLoadedError('this model ships no teacher');
      if (!m.teacher) {
        const teacher = await createSession(await m.teacherFile.bytes(onProgress ?? (() => undefined)), m.backend);
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
      const { data: embedded, ms: encodeMs } = await this.embed(m, this.tokenIds(m, req.prompt));
      const cond = embedded instanceof Float32Array ? embedded : await encodeText(m.textEncoder, m.manifest, m.tokenizer.encode(req.prompt), 1);
      this.uncond ??= await encodeText(m.textEncoder, m.manifest, m.tokenizer.encode(''), 1);
      const { images, denoiseMs, decodeMs } = await teacherImage({ ...m, teacher: m.teacher }, cond, this.uncond, seed, steps, req.guidance, (step, total) =>
        onProgress?.({ phase: 'generate', step, steps: total }),
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
    }));
  }

  /**
   * Downloads (or reads from IndexedDB), verifies and keeps the teacher's file, outside the run
   * queue so images keep coming meanwhile; null when the model has no teacher. The UI calls it
   * once the model is loaded, so compare works at once, and offline on later visits.
   */
  async prefetchTeacher(onProgress: ProgressCallback): Promise<TeacherFileInfo | null> {
    const m = this.requireModel();
    if (!m.teacherFile) return null;
    const { source, discarded, resumedFrom } = await m.teacherFile.info(onProgress);
    return { file: m.manifest.teacher!.file, source, discarded, resumedFrom };
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
    this.dropEmbedding();
    this.lastImages = null;
    this.uncond = null;
    if (!m) return;
    m.teacherAbort.abort();
    await Promise.all([m.textEncoder, m.unet, m.decoder, m.teacher].map((s) => s?.release().catch(() => undefined)));
  }
}
