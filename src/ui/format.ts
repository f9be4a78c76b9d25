/** Small formatting helpers for the status line and progress (pure). */
import type { GenerateResult, LoadResult, NotStoredReason, Progress } from '../shared/types';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

export function describeProgress(p: Progress): string {
  switch (p.phase) {
    case 'download': {
      const pct = p.total > 0 ? Math.floor((100 * p.loaded) / p.total) : 0;
      const resumed = p.resumedFrom > 0 ? `, resumed after ${formatBytes(p.resumedFrom)} already saved` : '';
      return `Downloading ${p.file}: ${pct}% of ${formatBytes(p.total)} (${formatBytes(p.bytesPerSecond)}/s${resumed})`;
    }
    case 'verify':
      return `Checking ${p.file}`;
    case 'cache':
      return {
        hit: `Reading ${p.file} from this device`,
        miss: `${p.file} is not on this device yet`,
        store: `Saved ${p.file} on this device`,
        discard: `The saved copy of ${p.file} was damaged; fetching it again`,
        'memory-only': `${notStoredWhy(p.why ?? 'unavailable', p.file)}; running from memory`,
      }[p.action];
    case 'switch':
      return 'All files are in; switching models';
    case 'session':
      return `Preparing ${p.file} on ${p.backend.toUpperCase()}`;
    case 'generate':
      return p.steps > 1 ? `Teacher step ${p.step} of ${p.steps}` : 'Generating';
  }
}

/** Why a file (or "the model") could not be saved on this device, in words. */
export function notStoredWhy(why: NotStoredReason, what: string): string {
  switch (why) {
    case 'quota':
      return `No room to save ${what} on this device`;
    case 'cleared':
      return `Downloads were cleared while ${what} was loading, so it was not saved`;
    case 'unavailable':
      return `This browser gives the page no storage (private browsing?), so ${what} cannot be saved`;
  }
}

/** The status line once a model is ready: backend (and why), model, ms per image, and whether it is stored. */
export function describeReady(model: LoadResult, r: GenerateResult | null): string {
  const backend = model.backend === 'webgpu' ? 'WebGPU' : `WASM (${model.threads} thread${model.threads > 1 ? 's' : ''})`;
  const why = model.backendNote ? ` — ${model.backendNote}` : '';
  const ms = !r
    ? ''
    : r.steps === 0
      ? ' · same tokens as before: image reused, nothing to compute'
      : ` · ${Math.round(r.ms / r.images.length)} ms per image`;
  const mem = model.cached
    ? ''
    : ` · running from memory: ${notStoredWhy(model.notStored ?? 'quota', 'the model').replace(/^./, (c) => c.toLowerCase())}, so it downloads again next visit`;
  return `${backend}${why} · ${model.name}${ms}${mem}`;
}
