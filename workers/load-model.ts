/**
 * Loading a model: manifest → files (IndexedDB or network, verified) → tokenizer → one ORT session
 * per graph, on the backend this device gets. One options object (LoadRequest); the Generator
 * decides when a load runs and what happens to the model in use.
 *
 * Order, for a quick first image: the runtime's WebAssembly starts while the first files are read,
 * each graph's file is read while the previous session is created, and the teacher is not loaded
 * at all (it is fetched after the first image). The text encoder's session comes last, and when
 * the first image's embedding is kept (stored from an earlier visit, or shipped with the model)
 * not in the load at all; kept under the prompt's exact text, the tokenizer waits too: the first
 * image needs only the UNet and the decoder. When a model is in use, everything that can fail
 * (every file, the tokenizer, the runtime) happens before it is released. A packed graph's fp32
 * weights (runtime/packed-graph.ts) are rebuilt as soon as its file is in, so the UNet's usually
 * are while the runtime starts.
 */
import type * as ort from 'onnxruntime-web';
import { LayoutError, LoadCancelledError, ManifestError } from '../src/shared/errors';
import type {
  Backend,
  FileInfo,
  FileSource,
  LoadResult,
  Manifest,
  ModelIndexEntry,
  NotStoredReason,
  ProgressCallback,
} from '../src/shared/types';
import { getAdded } from './model-store/added-models';
import { loadModelFile } from './model-store/load-file';
import { fetchManifest, readIndex } from './model-store/manifest';
import { teacherFile as makeTeacherFile, type TeacherFile } from './model-store/teacher-file';
import { createClipTokenizer } from './pipeline/clip-tokenize';
import { promptTokens } from './pipeline/prompt-caches';
import { LazyTokenizer } from './pipeline/lazy-tokenizer';
import { StoredEmbeddings } from './pipeline/stored-embeddings';
import { clipPromptForTokenizer, createTokenizer } from './pipeline/tokenize';
import { chooseBackend, type BackendPreference } from './runtime/backend';
import { checkGraphContract } from './runtime/graph-contract';
import { LoadPhases } from './runtime/load-phases';
import { useOrtFor } from './runtime/ort';
import { LazySession } from './runtime/lazy-session';
import { graphInput } from './runtime/graph-input';
import type { UnpackedGraph } from './runtime/packed-graph';
import { createSession } from './runtime/session';
import { startRuntime } from './runtime/start-runtime';

export interface LoadedModel {
  manifest: Manifest;
  backend: Backend;
  /** Read in the load, or on first use when the first image's embedding was kept under its text. */
  tokenizer: LazyTokenizer;
  /** Made in the load, or on first use when the first image's embedding was kept. */
  textEncoder: LazySession;
  /** The embeddings kept for this model and backend across visits (and those it ships). */
  stored: StoredEmbeddings;
  unet: ort.InferenceSession;
  decoder: ort.InferenceSession;
  /**
   * The teacher's file, fetched once on first ask (prefetchTeacher after the first image, or a
   * compare), outside the load: its bytes no longer delay the first image. Its session is made on
   * first compare (most visits never compare); the bytes are let go once the session exists.
   */
  teacherFile: TeacherFile | null;
  /** Stops a teacher download, or a deferred file's read, still running when the model is released. */
  laterAbort: AbortController;
  teacher: ort.InferenceSession | null;
  /** Where the files the load left for later came from, once they are read. */
  deferredFiles: () => FileInfo[];
  /** Where the deferred files' download progress goes (the load's own callback is closed by then). */
  reportLaterTo: (onProgress: ProgressCallback) => void;
  /** Hidden states stay an ORT tensor (in GPU memory on WebGPU) instead of float32 data. */
  gpuEmbedding: boolean;
  /** Why this model runs on WASM after starting on WebGPU (wasm-fallback.ts); null if it did not switch. */
  switchNote: string | null;
}

export interface LoadOptions {
  backend?: BackendPreference;
  /** The prompt of the first image after the load: with its embedding stored, the encoder can wait. */
  firstPrompt?: string;
  /** WASM threads; default: every core (capped at 4). Only the first load of a worker sets it. */
  threads?: number;
}

/** A model ready to load: its validated manifest and the URL its file paths are relative to. */
export interface ResolvedModel {
  manifest: Manifest;
  baseUrl: URL;
}

export interface LoadRequest extends ResolvedModel {
  onProgress: ProgressCallback;
  options: LoadOptions;
  signal: AbortSignal;
  /** performance.now() when the person asked (the result's loadMs counts from it). */
  startedAt: number;
  /** A model is in use: it is kept until every new file is in and the tokenizer read. */
  replacing: boolean;
  /** Frees the model in use; called once, past the last point where a stop keeps it. */
  releaseCurrent: () => Promise<void>;
}

/** A model id → its manifest: index.json first (shipped models), then the models this person added by URL. */
export async function resolveModel(modelId: string, modelsBase: string): Promise<ResolvedModel> {
  let indexError: unknown = null;
  const index = await readIndex(modelsBase).catch((err: unknown) => ((indexError = err), [] as ModelIndexEntry[]));
  const shipped = index.find((e) => e.id === modelId && !e.url);
  // A shipped model's bad manifest is its own error, never hidden behind the added-models lookup.
  if (shipped) return fetchManifest(modelsBase, shipped);
  const added = await getAdded(modelId);
  if (added) return { manifest: added.manifest, baseUrl: new URL(added.baseUrl) };
  if (indexError) throw indexError;
  throw new ManifestError(`model "${modelId}" is neither shipped nor added on this device`);
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

/** Values in one prompt embedding: the text encoder's [tokens, width] output (0 if not fixed). */
function embeddingLength(manifest: Manifest): number {
  const [tokens, width] = (Object.values(manifest.tensors.text_encoder.outputs)[0]?.shape ?? []).slice(-2);
  return typeof tokens === 'number' && typeof width === 'number' ? tokens * width : 0;
}

/**
 * The model's shipped prompt embeddings by text ([] if it ships none). They only save time: a file
 * that cannot be read, or is not one embedding of float32 per prompt, leaves the encoder in the load.
 */
async function shippedEmbeddings(
  manifest: Manifest,
  file: (key: string) => Promise<Uint8Array>,
): Promise<{ text: string; data: Float32Array }[]> {
  const spec = manifest.prompt_embeddings;
  const size = embeddingLength(manifest);
  if (!spec || size === 0) return [];
  const bytes = await file(spec.file).catch(() => null);
  if (!bytes || bytes.length !== spec.prompts.length * size * 4) return [];
  const all = new Float32Array(bytes.slice().buffer);
  const maxLength = manifest.tokenizer.max_length;
  return spec.prompts.map((p, i) => ({ text: clipPromptForTokenizer(p, maxLength), data: all.slice(i * size, (i + 1) * size) }));
}

export async function loadModel(r: LoadRequest): Promise<{ model: LoadedModel; result: LoadResult }> {
  const { manifest, baseUrl, onProgress, options, signal, startedAt: started, replacing } = r;
  const req = manifest.requirements ?? {};
  // Before release(): a refused model leaves the current one running.
  const choice = await chooseBackend(options.backend ?? 'auto', req.webgpu_features ?? [], options.threads, req.wasm !== false);
  const phases = new LoadPhases();
  // The runtime's WebAssembly compiles and starts while the files are read (once per build).
  const runtimeStarted = phases.time('runtime start', () => startRuntime(choice.backend, choice.threads));
  runtimeStarted.catch(() => undefined); // awaited (and reported) before the first session
  // Embeddings kept from earlier visits, valid for this text encoder file on the backend it chose.
  const storedOpened = StoredEmbeddings.open(manifest.id, choice.backend, manifest.files.text_encoder.sha256, embeddingLength(manifest));

  // The load's reads stop with a stop, and with the load's own failure (a read ahead must not go on
  // downloading a refused model's next file).
  const reads = new AbortController();
  const stopReads = () => reads.abort();
  signal.addEventListener('abort', stopReads, { once: true });
  if (signal.aborted) reads.abort();
  const sources: Record<string, FileSource> = {};
  const discarded: string[] = [];
  const deferred: string[] = [];
  const resumed: Record<string, number> = {};
  let cached = true;
  let notStored: NotStoredReason | null = null;
  const fetchFile = async (file: string) => {
    if ((loaded ? laterAbort.signal : reads.signal).aborted) throw new LoadCancelledError('loading was stopped');
    const f = loaded
      ? await loadModelFile(manifest, baseUrl, file, (p) => laterProgress(p), laterAbort.signal)
      : await phases.time(`read ${file}`, () => loadModelFile(manifest, baseUrl, file, onProgress, reads.signal));
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
  // The text encoder last: its session is the one the first image can do without.
  const graphs = ['unet', 'vae_decoder', 'text_encoder'] as const;
  type Graph = (typeof graphs)[number];
  const fetched = new Map<string, Promise<Uint8Array>>();
  const unpacked = new Map<string, Promise<UnpackedGraph>>();
  // Files whose bytes were used and let go (a session made, the tokenizer read): a read-ahead
  // never fetches them again (it would store a refused model's file after the refusal's cleanup).
  const used = new Set<string>();
  const letGo = (keys: string[]) => keys.forEach((k) => (fetched.delete(k), unpacked.delete(k), used.add(k)));
  let loaded = false;
  // After the load, a deferred file's read is stopped by the model's release, and its progress goes
  // wherever the page asks (reportLaterTo).
  const laterAbort = new AbortController();
  let laterProgress: ProgressCallback = () => undefined;
  const file = (key: string) => {
    if (!fetched.has(key)) {
      const p = fetchFile(key);
      fetched.set(key, p);
      // After the load, a failed read is tried again by the next caller (a deferred encoder's file,
      // fetched after the first image, resumes from its stored chunks when a prompt needs it).
      // During the load a failure stays: the load reports it, whichever caller met it first.
      p.catch(() => loaded && fetched.get(key) === p && fetched.delete(key));
    }
    return fetched.get(key)!;
  };
  // A graph's file as ORT takes it: a packed graph's weights are rebuilt as soon as its bytes are in
  // (read ahead, that is while the runtime starts or the previous session is made). Memoised like
  // the file, and let go with it.
  const prepared = (g: Graph) => {
    if (!unpacked.has(g)) {
      const p = file(g).then((bytes) => graphInput(manifest.files[g], bytes));
      unpacked.set(g, p);
      p.catch(() => loaded && unpacked.get(g) === p && unpacked.delete(g));
    }
    return unpacked.get(g)!;
  };
  /** Reads a file ahead of its use; nothing for one already used, and its failure is met by its user. */
  const readAhead = async (key: string): Promise<void> =>
    void (used.has(key)
      ? null
      : await ((graphs as readonly string[]).includes(key) ? prepared(key as Graph) : file(key)).catch(() => undefined));
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
    'tokenizer',
    ...(manifest.tokenizer.kind === 'clip-bpe' ? [manifest.tokenizer.merges!] : []),
    ...graphs.flatMap((g) => [g, ...(manifest.external_data?.[g] ?? [])]),
  ];
  // Switching models (one added by URL, or another shipped one): every file is fetched and
  // verified before the current model is released, so a failed download, a bad checksum or a
  // full disk leaves the page usable. With nothing loaded yet (first load, worker restart) there
  // is nothing to keep, and each session is created as soon as its file is in.
  if (replacing) for (const key of order) await file(key);
  // So is the tokenizer read (cheap): an unreadable one never replaces a working model.
  const tokenizerFiles = ['tokenizer', ...(manifest.tokenizer.kind === 'clip-bpe' ? [manifest.tokenizer.merges!] : [])];
  const readTok = async () => {
    const [bytes, merges] = [await file(tokenizerFiles[0]), tokenizerFiles[1] ? await file(tokenizerFiles[1]) : null];
    const t = readTokenizer(manifest, bytes, merges);
    letGo(tokenizerFiles); // read: the bytes are not needed again
    return t;
  };
  const earlyTokenizer = replacing ? await readTok() : null;

  // What the first image can do without. Its embedding kept under the prompt's exact text: the
  // tokenizer and the encoder wait. The model's shipped ones (30 KB, read first) count too.
  const stored = await storedOpened;
  const spec = manifest.prompt_embeddings;
  const firstText = options.firstPrompt === undefined ? null : clipPromptForTokenizer(options.firstPrompt, manifest.tokenizer.max_length);
  let shippedRead = false;
  let shipped: Promise<void> | null = null;
  const readShipped = () =>
    (shipped ??= (async () => {
      if (!spec) return;
      stored.addShipped(await shippedEmbeddings(manifest, file));
      shippedRead = true;
    })());
  if (!replacing && firstText !== null && !stored.hasText(firstText) && spec?.prompts.includes(firstText)) await readShipped();
  const deferTokenizer = !replacing && firstText !== null && stored.hasText(firstText);

  // The first files are read while the runtime starts (one download at a time; when replacing,
  // every file is in already)...
  if (!replacing)
    void (deferTokenizer ? Promise.resolve() : readShipped().then(() => Promise.all(tokenizerFiles.map(readAhead))))
      .then(() => readAhead(graphs[0]))
      .catch(() => undefined); // the load's own reads meet any failure
  // ...and it starts before release(): a runtime that cannot load leaves the current model running.
  await runtimeStarted;
  // The last point where a stop keeps the current model: past release() there is none to keep
  // (the page greys its stop button on 'switch').
  if (signal.aborted) throw new LoadCancelledError('loading was stopped');
  if (replacing) onProgress({ phase: 'switch' });
  await r.releaseCurrent();
  // After release(): the previous model's sessions and tensors belong to the previous build.
  await useOrtFor(choice.backend, choice.threads);
  const overrides = manifest.runtime?.free_dimension_overrides ?? {};
  const made: ort.InferenceSession[] = [];
  let deferEncoder = deferTokenizer; // else decided once the tokenizer is read
  const session = async (g: Graph, gpuOutputs?: string[]) => {
    const input = await prepared(g);
    const ext = await externalData(g);
    // The next graph's file is read (or downloaded: still one download at a time) while this
    // session is created.
    // (A deferred text encoder's file is read when its session is made, not beside the first image.)
    const next = graphs[graphs.indexOf(g) + 1];
    if (next && !(next === 'text_encoder' && deferEncoder)) void readAhead(next);
    onProgress({ phase: 'session', file: g, backend: choice.backend });
    // The first session's time includes compiling and starting the runtime's WebAssembly.
    const s = await phases
      .time(`session ${g}`, () =>
        createSession(input.graph, choice.backend, {
          freeDimensionOverrides: overrides[g],
          externalData: [...ext, ...input.externalData],
          gpuOutputs,
        }),
      )
      .catch((err: unknown) => {
        throw new LayoutError(`${manifest.files[g].path} is not a model the runtime can read (${(err as Error).message ?? err})`);
      });
    made.push(s);
    // The session holds its own copy: let the file's bytes go (a deferred session outlives the load).
    letGo([g, ...(manifest.external_data?.[g] ?? [])]);
    try {
      checkGraphContract(s, manifest.tensors[g], g);
    } catch (err) {
      // Freed here, not only by the load's catch: a deferred session is made after the load.
      made.splice(made.indexOf(s), 1);
      await s.release().catch(() => undefined);
      throw err;
    }
    return s;
  };
  let model: LoadedModel;
  try {
    // Read now or after the first image; either way the shipped embeddings get their token keys then.
    const tokenizer = new LazyTokenizer(manifest.tokenizer.max_length, async () => {
      const t = earlyTokenizer ?? (await readTok());
      await readShipped();
      stored.keyShipped((text) => promptTokens(t, text).key);
      return t;
    });
    if (deferTokenizer) deferred.push(...tokenizerFiles, ...(spec && !shippedRead ? [spec.file] : []));
    else {
      const t = await tokenizer.get();
      // The same token ids as a kept prompt (another spelling of it): the encoder still waits.
      if (!replacing && options.firstPrompt !== undefined) deferEncoder = stored.has(promptTokens(t, options.firstPrompt).key);
    }
    // On WebGPU, one-image-per-call models keep the prompt's hidden states on the GPU for the UNet.
    const gpuEmbedding = choice.backend === 'webgpu' && manifest.runtime?.max_batch === 1;
    const unet = await session('unet');
    const decoder = await session('vae_decoder');
    const textEncoder = new LazySession(() =>
      session('text_encoder', gpuEmbedding ? Object.keys(manifest.tensors.text_encoder.outputs).slice(0, 1) : undefined),
    );
    if (!deferEncoder) await textEncoder.get();
    else deferred.push('text_encoder');
    const teacherKey = manifest.teacher?.file;
    const teacherFile = teacherKey ? makeTeacherFile((p) => loadModelFile(manifest, baseUrl, teacherKey, p, laterAbort.signal)) : null;
    model = {
      manifest,
      backend: choice.backend,
      tokenizer,
      textEncoder,
      stored,
      unet,
      decoder,
      teacherFile,
      laterAbort,
      deferredFiles: () =>
        deferred
          .filter((f) => sources[f])
          .map((f) => ({ file: f, source: sources[f], discarded: discarded.includes(f), resumedFrom: resumed[f] ?? 0 })),
      reportLaterTo: (p) => void (laterProgress = p),
      teacher: null,
      gpuEmbedding,
      switchNote: null,
    };
  } catch (err) {
    // A file failed after some sessions were made: free them (GPU memory) before reporting it.
    await Promise.all(made.map((s) => s.release().catch(() => undefined)));
    // And a read still in flight (the next graph's, read ahead) is stopped and settles first, so
    // that whoever cleans up after a refused model (forgetUnusableFiles) finds every file it stored.
    reads.abort();
    await Promise.allSettled([...fetched.values()]);
    throw err;
  }

  loaded = true;
  signal.removeEventListener('abort', stopReads);
  const result: LoadResult = {
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
    deferred: [...deferred],
    teacherDefaults: manifest.teacher ? { steps: manifest.teacher.default_steps, guidance: manifest.teacher.default_guidance } : null,
    width: manifest.output.width,
    height: manifest.output.height,
    loadMs: Math.round(performance.now() - started),
    phases: phases.list,
  };
  return { model, result };
}
