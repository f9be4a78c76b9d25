/**
 * UI thread: wires the page to the generator worker. Nothing here computes images; every heavy
 * step runs in the worker, so typing stays smooth. Prompt text is only ever set as textContent
 * or an input's value, never parsed as HTML.
 */
import type { GenerateRequest, GenerateResult, LoadResult, Progress } from './shared/types';
import { initAddModel } from './ui/add-model';
import { pngName } from './shared/png-name';
import { paint } from './ui/canvas';
import { createCoalescer } from './ui/coalesce';
import { initCompare } from './ui/compare';
import { galleryControls, initGallery } from './ui/gallery-panel';
import { Explore, exploreControls } from './ui/explore';
import { loadProgress } from './ui/load-progress';
import { deferredFiles } from './ui/deferred-files';
import { errorMessage } from './ui/error-message';
import { describeProgress, describeReady } from './ui/format';
import { appStateView, startOfflineSupport } from './ui/pwa';
import { randomSeed } from './ui/seed';
import { SeedBox } from './ui/seed-box';
import { linkWithModel, readShared, writeShared } from './ui/share-link';
import { SupervisedGenerator } from './ui/supervisor';
import { initOutputActions } from './ui/output-actions';
import { markBuild, markDownloading, markError, markLoaded, markPainted, markStatus } from './ui/page-state';
import { initStoragePanel } from './ui/storage-panel';
import { readModelIndex, startingModel } from './ui/model-choice';
import { installTestHooks } from './ui/test-hooks';
import { createGeneratorWorker } from './ui/worker-client';
import { installTrustedTypesPolicy } from './shared/trusted-types';

installTrustedTypesPolicy(); // before the first worker or service worker starts by URL

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const promptInput = $<HTMLInputElement>('prompt');
const seedInput = $<HTMLInputElement>('seed');
const seedBox = new SeedBox(seedInput, $<HTMLParagraphElement>('seed-hint'));
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
let lastPainted: { prompt: string; seed: number; explore?: GenerateRequest['explore'] } | null = null;

function setStatus(text: string, state: 'loading' | 'ready' | 'generating' | 'error'): void {
  status.textContent = text;
  markStatus(status, state);
}

const readyLine = (r: GenerateResult | null) => (model ? describeReady(model, r) : '');

// ---- generate as you type -------------------------------------------------------------------

const typing = createCoalescer<GenerateRequest, GenerateResult>(
  (req) => generator.generate(req),
  (req, result) => {
    const image = result.images[0];
    paint(output, image);
    markError(status, null);
    // The worker moved to WASM (a lost GPU device, or an invalid image): say so instead of claiming WebGPU.
    if (model && result.backend !== model.backend)
      model = { ...model, backend: result.backend, backendNote: result.switchNote ?? 'it switched' };
    generation += 1;
    lastPainted = { prompt: req.prompt, seed: image.seed, explore: req.explore };
    markPainted(output, status, { generation, prompt: req.prompt, seed: image.seed, explore: req.explore }, result);
    $('size').textContent = `${image.width} × ${image.height} pixels, shown at ${output.clientWidth} px`;
    setStatus(readyLine(result), typing.busy ? 'generating' : 'ready');
    history.replaceState(null, '', writeShared({ prompt: req.prompt, seed: image.seed, explore: req.explore }));
    for (const b of [buttons.download, buttons.copy, buttons.share, buttons.variations]) b.disabled = false;
    // The files the next prompt needs first, then the teacher's (compare).
    void deferred.painted().then(() => compare.painted());
    gallery.imagePainted();
  },
  // A crash is not the user's problem to fix: the supervisor is already restarting the worker.
  (_req, err) => {
    const name = (err as { name?: string }).name ?? 'Error';
    if (name !== 'WorkerCrashedError') markError(status, name);
    setStatus(errorMessage(err), name === 'WorkerCrashedError' ? 'loading' : 'error');
  },
);

// No pause after a keystroke: the coalescer keeps at most one waiting request, so a debounce
// would only add latency (the benchmark measured the former 60 ms as exactly that).
function requestImage(): void {
  if (!model) return;
  markStatus(status, 'generating');
  typing.submit({ prompt: promptInput.value, seed: seedBox.current, count: 1, explore: explore.point });
}

promptInput.addEventListener('input', requestImage);
seedInput.addEventListener('input', () => {
  if (seedBox.read()) requestImage();
});
$('controls').addEventListener('submit', (e) => {
  e.preventDefault();
  requestImage();
});
buttons.shuffle.addEventListener('click', () => {
  seedBox.set(randomSeed());
  requestImage();
});

// From the image toward another seed or prompt, painted while dragging (ui/explore.ts).
const explore = new Explore({
  controls: exploreControls(),
  request: requestImage,
  painted: () => typing.idle(),
  seed: () => seedBox.current,
  canvas: output,
  videoName: () => pngName(promptInput.value, seedBox.current).replace(/\.png$/, '-morph.webm'),
});

// Keep what you made: an on-device gallery apart from the model files (ui/gallery-panel.ts).
const gallery = initGallery({
  controls: galleryControls(),
  canvas: output,
  painted: () => lastPainted && model && { ...lastPainted, modelId: model.modelId, modelVersion: model.version, backend: model.backend },
  open: (entry) => {
    // Made with another model: open the page on that one (a reload), at this image's link.
    if (model && entry.modelId !== model.modelId) return location.assign(linkWithModel(entry.modelId, entry));
    promptInput.value = entry.prompt;
    seedBox.set(entry.seed);
    explore.restore(entry.explore);
    requestImage();
    output.scrollIntoView({ block: 'nearest' });
  },
});

// ---- actions --------------------------------------------------------------------------------

initOutputActions({
  generator,
  canvas: output,
  buttons,
  variations: { panel: $('variations-panel'), grid: $('variations-grid') },
  painted: () => lastPainted,
  current: () => ({ prompt: promptInput.value, seed: seedBox.current }),
  pick: (seed) => {
    seedBox.set(seed);
    requestImage();
  },
  say: setStatus,
  readyLine: () => readyLine(null),
});

const compare = initCompare({
  generator,
  button: buttons.compare,
  status,
  current: () => ({ prompt: promptInput.value, seed: seedBox.current }),
  hasImage: () => generation > 0,
  onDone: (student, speedup) => setStatus(`${readyLine(student)} · one step is ${speedup.toFixed(0)}× faster than the teacher`, 'ready'),
  onError: (err) => setStatus(errorMessage(err), 'error'),
  addFileRow: (info) => storage.addFile(info.file, info.source, info.discarded, info.resumedFrom),
});

// ---- storage --------------------------------------------------------------------------------

const storage = initStoragePanel({ generator, summary: $('storage'), files: $('files'), clear: buttons.clear, say: setStatus });
// What the load left for after the first image (the tokenizer and text encoder, when its prompt was kept).
const deferred = deferredFiles({
  fetch: (onProgress) => generator.deferredFiles(onProgress),
  progress,
  addRow: (f) => storage.addFile(f.file, f.source, f.discarded, f.resumedFrom),
});

// ---- boot -----------------------------------------------------------------------------------

const onLoadProgress = (p: Progress) => {
  setStatus(describeProgress(p), 'loading');
  if (p.phase === 'download') {
    progress.hidden = false;
    progress.value = p.total ? p.loaded / p.total : 0;
    markDownloading(progress, p.file);
  }
};

/** The page switches to a loaded model (at boot, after a worker restart, or after one was added by URL). */
function useModel(r: LoadResult): void {
  model = r;
  deferred.loaded(r);
  progress.hidden = true;
  markLoaded(status, r);
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
    const r = await generator.load(loadRequest.modelId, progressOf.callback, {
      backend: loadRequest.backend,
      threads: loadRequest.threads,
      firstPrompt: promptInput.value,
    });
    progressOf.end();
    useModel(r);
    promptInput.focus();
  } catch (err) {
    progressOf.end();
    progress.hidden = true;
    // A crash during the load is handled by the restart (which loads again); say nothing twice.
    if ((err as { name?: string }).name === 'WorkerCrashedError') return;
    setStatus(errorMessage(err), 'error');
    markError(status, (err as { name?: string }).name ?? 'Error');
  }
}

const addModel = initAddModel({
  generator,
  loadProgress: (watch) =>
    loadProgress((p) => {
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

startOfflineSupport(appStateView($('app-state'), $('app-state-text'), $<HTMLButtonElement>('app-reload')));
$('build').textContent = `Onestep build ${__ONESTEP_BUILD__}`;
markBuild(__ONESTEP_BUILD__);

installTestHooks({
  async paint(prompt, seed) {
    promptInput.value = prompt;
    seedBox.set(seed);
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
  seedBox.set(shared.seed ?? randomSeed());
  if (shared.badSeed !== undefined) seedBox.linkSeedRefused(shared.badSeed);
  explore.seedChanged(seedBox.current);
  if (shared.explore) explore.restore(shared.explore);

  // Ask the browser to keep the model and the gallery; without this it may evict them under storage pressure.
  void navigator.storage?.persist?.().catch(() => false);

  const params = new URLSearchParams(location.search);
  const backend = (['webgpu', 'wasm'] as const).find((b) => b === params.get('backend')) ?? 'auto';
  const threads = Number(params.get('threads')) || undefined;
  // Benchmarks (bench/run.mjs) drive the worker directly through this hook; only with ?bench=1.
  if (params.get('bench') === '1') Object.assign(window, { __onestepBench: { generator, paint, modelId: () => model?.modelId } });
  const index = await readModelIndex();
  addModel.showKnown(index);
  // Judged before loading (model-choice.ts), so a known model that fails to load still says why.
  const modelId = await startingModel(params.get('model'), index, async () => (await generator.listAdded()).map((a) => a.id), notice);
  loadRequest = { modelId, backend, threads };
  await loadModel();
}

void boot();
