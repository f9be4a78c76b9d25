/**
 * UI thread: wires the page to the generator worker. Nothing here computes images; every heavy
 * step runs in the worker, so typing stays smooth. Prompt text is only ever set as textContent
 * or an input's value, never parsed as HTML.
 */
import * as Comlink from 'comlink';
import { FALLBACK_MODEL_ID, MODELS_PATH, TYPE_DEBOUNCE_MS } from './shared/config';
import type { GenerateRequest, GenerateResult, LoadResult, ModelIndexEntry, Progress } from './shared/types';
import { initAddModel } from './ui/add-model';
import { paint } from './ui/canvas';
import { createCoalescer } from './ui/coalesce';
import { initCompare } from './ui/compare';
import { errorMessage } from './ui/error-message';
import { describeProgress, notStoredWhy } from './ui/format';
import { startOfflineSupport } from './ui/pwa';
import { parseSeed, randomSeed, SEED_RULE } from './ui/seed';
import { readShared, writeShared } from './ui/share-link';
import { SupervisedGenerator } from './ui/supervisor';
import { initOutputActions } from './ui/output-actions';
import { initStoragePanel } from './ui/storage-panel';
import { installTestHooks } from './ui/test-hooks';
import { createGeneratorWorker } from './ui/worker-client';
import { installTrustedTypesPolicy } from './shared/trusted-types';

installTrustedTypesPolicy(); // before the first worker or service worker starts by URL

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const promptInput = $<HTMLInputElement>('prompt');
const seedInput = $<HTMLInputElement>('seed');
const seedHint = $<HTMLParagraphElement>('seed-hint');
const notice = $<HTMLParagraphElement>('notice');
const output = $<HTMLCanvasElement>('output');
const status = $<HTMLParagraphElement>('status');
const progress = $<HTMLProgressElement>('progress');
const buttons = {
  shuffle: $<HTMLButtonElement>('shuffle'),
  download: $<HTMLButtonElement>('download'),
  copy: $<HTMLButtonElement>('copy'),
  share: $<HTMLButtonElement>('share'),
  variations: $<HTMLButtonElement>('variations'),
  compare: $<HTMLButtonElement>('compare'),
  clear: $<HTMLButtonElement>('clear'),
};

// A crashed worker is replaced by the supervisor; the page then loads the model into the new one.
const generator = new SupervisedGenerator(createGeneratorWorker, {
  onRestart(reason) {
    model = null;
    compare.reset();
    setStatus(errorMessage({ name: 'WorkerCrashedError', message: reason }), 'loading');
    void loadModel();
  },
  onGiveUp(reason) {
    model = null;
    setStatus(`The image engine keeps stopping (${reason}). Reload the page to try again.`, 'error');
  },
});
let model: LoadResult | null = null;
let loadRequest: { modelId: string; backend: 'auto' | 'webgpu' | 'wasm'; threads?: number } | null = null;
let generation = 0;
let lastPainted: { prompt: string; seed: number } | null = null;

function setStatus(text: string, state: 'loading' | 'ready' | 'generating' | 'error'): void {
  status.textContent = text;
  status.dataset.state = state;
}

// The last seed that kept the rule (seed.ts): a box being edited or holding a bad value keeps it.
let lastGoodSeed = 0;
const currentSeed = () => lastGoodSeed;
/** Reads the seed box; false (and the rule shown beside it) when it breaks the rule. */
function readSeedBox(): boolean {
  const seed = parseSeed(seedInput.value);
  seedHint.hidden = seed !== null;
  seedInput.setAttribute('aria-invalid', String(seed === null));
  if (seed === null) seedHint.textContent = `The seed must be ${SEED_RULE}; the image keeps seed ${lastGoodSeed}.`;
  else lastGoodSeed = seed;
  return seed !== null;
}
function setSeed(seed: number): void {
  seedInput.value = String(seed);
  readSeedBox();
}

function readyLine(r: GenerateResult | null): string {
  if (!model) return '';
  const backend = model.backend === 'webgpu' ? 'WebGPU' : `WASM (${model.threads} thread${model.threads > 1 ? 's' : ''})`;
  const why = model.backendNote ? ` — ${model.backendNote}` : '';
  const ms = !r ? '' : r.steps === 0 ? ' · same tokens as before: image reused, nothing to compute' : ` · ${Math.round(r.ms / r.images.length)} ms per image`;
  const mem = model.cached ? '' : ` · running from memory: ${notStoredWhy(model.notStored ?? 'quota', 'the model').replace(/^./, (c) => c.toLowerCase())}, so it downloads again next visit`;
  return `${backend}${why} · ${model.name}${ms}${mem}`;
}

// ---- generate as you type -------------------------------------------------------------------

const typing = createCoalescer<GenerateRequest, GenerateResult>(
  (req) => generator.generate(req),
  (req, result) => {
    const image = result.images[0];
    paint(output, image);
    delete status.dataset.error;
    // The worker moved to WASM (a lost GPU device, or an invalid image): say so instead of claiming WebGPU.
    if (model && result.backend !== model.backend) model = { ...model, backend: result.backend, backendNote: result.switchNote ?? 'it switched' };
    generation += 1;
    lastPainted = { prompt: req.prompt, seed: image.seed };
    // Test hooks and a record of what is on screen; textContent-safe data attributes only.
    output.dataset.generation = String(generation);
    output.dataset.prompt = req.prompt;
    output.dataset.seed = String(image.seed);
    status.dataset.ms = String(Math.round(result.ms));
    status.dataset.steps = String(result.steps);
    status.dataset.backend = result.backend;
    status.dataset.stages = JSON.stringify(Object.fromEntries(Object.entries(result.stages).map(([k, v]) => [k, Math.round(v)])));
    $('size').textContent = `${image.width} × ${image.height} pixels, shown at ${output.clientWidth} px`;
    setStatus(readyLine(result), typing.busy ? 'generating' : 'ready');
    history.replaceState(null, '', writeShared({ prompt: req.prompt, seed: image.seed }));
    for (const b of [buttons.download, buttons.copy, buttons.share, buttons.variations]) b.disabled = false;
    compare.painted();
  },
  // A crash is not the user's problem to fix: the supervisor is already restarting the worker.
  (_req, err) => {
    const name = (err as { name?: string }).name ?? 'Error';
    if (name !== 'WorkerCrashedError') status.dataset.error = name;
    setStatus(errorMessage(err), name === 'WorkerCrashedError' ? 'loading' : 'error');
  },
);

let debounce = 0;
function requestImage(): void {
  if (!model) return;
  clearTimeout(debounce);
  const submit = () => {
    status.dataset.state = 'generating';
    typing.submit({ prompt: promptInput.value, seed: currentSeed(), count: 1 });
  };
  if (TYPE_DEBOUNCE_MS > 0) debounce = window.setTimeout(submit, TYPE_DEBOUNCE_MS);
  else submit();
}

promptInput.addEventListener('input', requestImage);
seedInput.addEventListener('input', () => {
  if (readSeedBox()) requestImage();
});
$('controls').addEventListener('submit', (e) => {
  e.preventDefault();
  requestImage();
});
buttons.shuffle.addEventListener('click', () => {
  setSeed(randomSeed());
  requestImage();
});

// ---- actions --------------------------------------------------------------------------------

initOutputActions({
  generator,
  canvas: output,
  buttons,
  variations: { panel: $('variations-panel'), grid: $('variations-grid') },
  painted: () => lastPainted,
  current: () => ({ prompt: promptInput.value, seed: currentSeed() }),
  pick: (seed) => {
    setSeed(seed);
    requestImage();
  },
  say: setStatus,
  readyLine: () => readyLine(null),
});

const compare = initCompare({
  generator,
  button: buttons.compare,
  status,
  current: () => ({ prompt: promptInput.value, seed: currentSeed() }),
  hasImage: () => generation > 0,
  onDone: (student, speedup) => setStatus(`${readyLine(student)} · one step is ${speedup.toFixed(0)}× faster than the teacher`, 'ready'),
  onError: (err) => setStatus(errorMessage(err), 'error'),
  addFileRow: (info) => storage.addFile(info.file, info.source, info.discarded, info.resumedFrom),
});

// ---- storage --------------------------------------------------------------------------------

const storage = initStoragePanel({ generator, summary: $('storage'), files: $('files'), clear: buttons.clear, say: setStatus });

// ---- boot -----------------------------------------------------------------------------------

async function readModelIndex(): Promise<ModelIndexEntry[]> {
  try {
    const res = await fetch(`${import.meta.env.BASE_URL}${MODELS_PATH}index.json`);
    return ((await res.json()) as { models: ModelIndexEntry[] }).models;
  } catch {
    return [];
  }
}

/** The default shipped model (remote entries are offered in the add-model panel, never loaded by default). */
function defaultModelId(index: ModelIndexEntry[]): string {
  const shipped = index.filter((m) => !m.url);
  return (shipped.find((m) => m.default) ?? shipped[0])?.id ?? FALLBACK_MODEL_ID;
}

const onLoadProgress = (p: Progress) => {
  setStatus(describeProgress(p), 'loading');
  if (p.phase === 'download') {
    progress.hidden = false;
    progress.value = p.total ? p.loaded / p.total : 0;
    progress.dataset.file = p.file;
  }
};

/**
 * A progress callback for one load that goes quiet once the load has settled. When one file of a
 * load fails, the worker lets the others finish downloading and storing (so the next try only
 * fetches what is missing); their progress must not overwrite the error (or the ready line).
 */
function loadProgress(fn: (p: Progress) => void): { callback: (p: Progress) => void; end(): void } {
  let open = true;
  return {
    callback: Comlink.proxy((p: Progress) => {
      if (open) fn(p);
    }),
    end: () => void (open = false),
  };
}

/** The page switches to a loaded model (at boot, after a worker restart, or after one was added by URL). */
function useModel(r: LoadResult): void {
  model = r;
  progress.hidden = true;
  status.dataset.backend = r.backend;
  status.dataset.loadMs = String(r.loadMs);
  status.dataset.loadPhases = JSON.stringify(r.phases);
  status.dataset.cached = String(r.cached);
  status.dataset.model = r.modelId;
  delete status.dataset.error;
  storage.showFiles(r);
  setStatus(readyLine(null), 'ready');
  void storage.show().catch(() => undefined);
  requestImage();
  compare.modelLoaded(r);
}

/** Loads the chosen model into the (current) worker; used at start and after a worker restart. */
async function loadModel(): Promise<void> {
  if (!loadRequest) return;
  const progressOf = loadProgress(onLoadProgress);
  try {
    const r = await generator.load(loadRequest.modelId, progressOf.callback, { backend: loadRequest.backend, threads: loadRequest.threads });
    progressOf.end();
    useModel(r);
    promptInput.focus();
  } catch (err) {
    progressOf.end();
    progress.hidden = true;
    // A crash during the load is handled by the restart (which loads again); say nothing twice.
    if ((err as { name?: string }).name === 'WorkerCrashedError') return;
    setStatus(errorMessage(err), 'error');
    status.dataset.error = (err as { name?: string }).name ?? 'Error';
  }
}

const addModel = initAddModel({
  generator,
  loadProgress: (watch) => loadProgress((p) => {
    watch(p);
    onLoadProgress(p);
  }),
  onLoaded: (r, id) => {
    // The model id goes into the address, so a reload (or a bookmark) opens this model again,
    // from this device's storage; a worker restart loads it again too.
    const url = new URL(location.href);
    url.searchParams.set('model', id);
    history.replaceState(null, '', url);
    if (loadRequest) loadRequest = { ...loadRequest, modelId: id };
    useModel(r);
  },
  onFailed: () => {
    progress.hidden = true;
    if (model) setStatus(readyLine(null), 'ready');
  },
});

// ---- offline support (service worker) ---------------------------------------------------------

const appState = $<HTMLParagraphElement>('app-state');
const appReload = $<HTMLButtonElement>('app-reload');
startOfflineSupport({
  show(state, text, reload) {
    appState.hidden = false;
    appState.dataset.state = state;
    $('app-state-text').textContent = text;
    appReload.hidden = !reload;
    appReload.onclick = reload ?? null;
  },
});
$('build').textContent = `Onestep build ${__ONESTEP_BUILD__}`;
document.documentElement.dataset.build = __ONESTEP_BUILD__;

installTestHooks({
  async paint(prompt, seed) {
    promptInput.value = prompt;
    setSeed(seed);
    typing.submit({ prompt, seed, count: 1 });
    await typing.idle();
    return { ms: Number(status.dataset.ms), generation, state: status.dataset.state ?? '' };
  },
  teacherFor: (modelId) =>
    generator.generateTeacher({ modelId, prompt: 'red apple', seed: 1, steps: 2, guidance: 3 }).then(
      () => 'ok',
      (err: { name?: string }) => err.name ?? 'Error',
    ),
  modelId: () => model?.modelId,
  crashWorker: () => generator.crashForTest(),
  killWorker: () => generator.killForTest(),
  restarts: () => generator.restarts,
});

async function boot(): Promise<void> {
  const shared = readShared(location.hash);
  promptInput.value = shared.prompt;
  setSeed(shared.seed ?? randomSeed());
  if (shared.badSeed !== undefined) {
    seedHint.hidden = false;
    seedHint.textContent = `The link's seed "${shared.badSeed}" is not ${SEED_RULE}, so a random seed is used.`;
  }

  // Ask the browser to keep the model; without this it may evict 90 MB under storage pressure.
  void navigator.storage?.persist?.().catch(() => false);

  const params = new URLSearchParams(location.search);
  const backend = (['webgpu', 'wasm'] as const).find((b) => b === params.get('backend')) ?? 'auto';
  const threads = Number(params.get('threads')) || undefined;
  // Benchmarks (bench/run.mjs) drive the worker directly through this hook; only with ?bench=1.
  if (params.get('bench') === '1') Object.assign(window, { __onestepBench: { generator, paint, modelId: () => model?.modelId } });
  const index = await readModelIndex();
  addModel.showKnown(index);
  // A link naming a model this device neither ships nor has added (or junk) opens the default
  // model with a note; the id is only looked up, never fetched. Judged before loading, so a known
  // model that fails to load still says why.
  const linked = params.get('model');
  const known = linked === null || index.length === 0 || index.some((e) => e.id === linked && !e.url)
    || (await generator.listAdded().catch(() => [])).some((a) => a.id === linked);
  if (!known) {
    const url = new URL(location.href);
    url.searchParams.delete('model');
    history.replaceState(null, '', url);
    notice.hidden = false;
    const shown = linked.length > 60 ? `${linked.slice(0, 60)}…` : linked;
    notice.textContent = `The link asks for the model "${shown}", which this device neither ships nor has added, so the default model is open.`;
  }
  loadRequest = { modelId: known && linked !== null ? linked : defaultModelId(index), backend, threads };
  await loadModel();
}

void boot();
