/**
 * What the page says about itself in data-* attributes, all set here: the e2e suites
 * (tests/e2e/) and the benchmarks (bench/) read these and nothing else of the page's internals.
 * Values are plain strings (textContent-safe; a prompt is never parsed as HTML).
 *
 *   #status      state (loading | ready | generating | error), error (the error's name),
 *                backend, loadMs, loadPhases (JSON), cached, model       — after a load
 *                ms, steps, backend, stages (JSON, ms per stage)         — after each image
 *                teacher (the compare teacher's state)
 *   #output      generation (count of images painted), prompt, seed,     — the image on screen
 *                explore (JSON of the explore point; absent at the start)
 *   #progress    file (the file downloading)
 *   #app-state   state (the service worker's: offline-ready, update-available, …)
 *   #add-model-status  state, error;  #plan-license license;  #plan-size bytes
 *   #files li    file, source (cache | network), resumed (bytes already stored)
 *   #gallery-summary  count, bytes;  #gallery-list li  id, prompt, seed, model, explore (JSON)
 *   #gallery-status   state (ready | error), error
 *   <html>       build
 */
import type { GalleryEntry } from '../gallery/store';
import type { ExploreRequest, GenerateResult, LoadResult } from '../shared/types';

export type StatusState = 'loading' | 'ready' | 'generating' | 'error';

export function markStatus(status: HTMLElement, state: string): void {
  status.dataset.state = state;
}

/** The error's name on the element (null: none any more). */
export function markError(el: HTMLElement, name: string | null): void {
  if (name) el.dataset.error = name;
  else delete el.dataset.error;
}

/** A panel's own status line (explore, gallery): shown, with its text, state and error name. */
export function sayIn(line: HTMLElement, text: string, error: string | null = null): void {
  line.hidden = false;
  line.textContent = text;
  markStatus(line, error ? 'error' : 'ready');
  markError(line, error);
}

export function markLoaded(status: HTMLElement, r: LoadResult): void {
  status.dataset.backend = r.backend;
  status.dataset.loadMs = String(r.loadMs);
  status.dataset.loadPhases = JSON.stringify(r.phases);
  status.dataset.cached = String(r.cached);
  status.dataset.model = r.modelId;
  markError(status, null);
}

export function markPainted(
  output: HTMLElement,
  status: HTMLElement,
  painted: { generation: number; prompt: string; seed: number; explore?: ExploreRequest },
  result: GenerateResult,
): void {
  output.dataset.generation = String(painted.generation);
  output.dataset.prompt = painted.prompt;
  output.dataset.seed = String(painted.seed);
  if (painted.explore) output.dataset.explore = JSON.stringify(painted.explore);
  else delete output.dataset.explore;
  status.dataset.ms = String(Math.round(result.ms));
  status.dataset.steps = String(result.steps);
  status.dataset.backend = result.backend;
  status.dataset.stages = JSON.stringify(Object.fromEntries(Object.entries(result.stages).map(([k, v]) => [k, Math.round(v)])));
}

export function markTeacher(status: HTMLElement, teacher: string): void {
  status.dataset.teacher = teacher;
}

export function markDownloading(progress: HTMLElement, file: string): void {
  progress.dataset.file = file;
}

export function markAppState(el: HTMLElement, state: string): void {
  el.dataset.state = state;
}

export function markPlan(license: HTMLElement, size: HTMLElement, plan: { license: string; totalBytes: number }): void {
  license.dataset.license = plan.license;
  size.dataset.bytes = String(plan.totalBytes);
}

export function markFileRow(li: HTMLElement, file: string, source: string, resumedFrom: number): void {
  li.dataset.file = file;
  li.dataset.source = source;
  if (resumedFrom) li.dataset.resumed = String(resumedFrom);
}

export function markBuild(build: string): void {
  document.documentElement.dataset.build = build;
}

export function markGallery(summary: HTMLElement, count: number, bytes: number): void {
  summary.dataset.count = String(count);
  summary.dataset.bytes = String(bytes);
}

export function markGalleryEntry(li: HTMLElement, entry: GalleryEntry): void {
  li.dataset.id = entry.id;
  li.dataset.prompt = entry.prompt;
  li.dataset.seed = String(entry.seed);
  li.dataset.model = entry.modelId;
  if (entry.explore) li.dataset.explore = JSON.stringify(entry.explore);
}
