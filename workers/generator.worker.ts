/**
 * The generator worker's whole API, exposed with Comlink. The UI imports only the type
 * (GeneratorApi), so every call is typed end to end. Pixels leave with Comlink.transfer
 * (moved, not copied); progress callbacks arrive as Comlink.proxy functions.
 */
import * as Comlink from 'comlink';
import type {
  AddRequest,
  CacheInfo,
  GenerateRequest,
  GenerateResult,
  LoadResult,
  Progress,
  ProgressCallback,
  RemoteModelPlan,
  FileInfo,
  TeacherRequest,
} from '../src/shared/types';
import { Generator, type LoadOptions } from './generator';
import { listAdded } from './model-store/added-models';
import { clearCached, listCached } from './model-store/idb-cache';
import { installTrustedTypesPolicy } from '../src/shared/trusted-types';

installTrustedTypesPolicy(); // before ORT starts its thread workers by URL

const generator = new Generator();

/** Progress must never fail a load: a closed tab or a throwing callback is ignored. */
function safe(cb?: ProgressCallback): ProgressCallback {
  return (p: Progress) => {
    if (!cb) return;
    void Promise.resolve()
      .then(() => cb(p))
      .catch(() => undefined);
  };
}

function transferred(r: GenerateResult): GenerateResult {
  return Comlink.transfer(
    r,
    r.images.map((i) => i.pixels),
  );
}

const api = {
  load(modelId: string, onProgress?: ProgressCallback, options?: LoadOptions): Promise<LoadResult> {
    return generator.load(modelId, safe(onProgress), options);
  },
  /** Reads a model's layout at a URL / repository id and checks this device; downloads no weights. */
  inspect(url: string): Promise<RemoteModelPlan> {
    return generator.inspect(url);
  },
  /** Downloads, verifies, caches and loads a model `inspect` returned, then remembers it. */
  add(request: AddRequest, onProgress?: ProgressCallback, options?: LoadOptions): Promise<LoadResult> {
    return generator.add(request, safe(onProgress), options);
  },
  listAdded(): Promise<{ id: string; name: string; source: string; license: string }[]> {
    return listAdded();
  },
  async generate(req: GenerateRequest, onProgress?: ProgressCallback): Promise<GenerateResult> {
    return transferred(await generator.generate(req, safe(onProgress)));
  },
  /** Reads what the load left for later (tokenizer, text encoder) and says where their files came from. */
  deferredFiles(onProgress?: ProgressCallback): Promise<FileInfo[]> {
    return generator.deferredFiles(safe(onProgress));
  },
  /** Fetches and keeps the teacher's file while images keep coming; resolves when compare can run. */
  prefetchTeacher(onProgress?: ProgressCallback): Promise<FileInfo | null> {
    return generator.prefetchTeacher(safe(onProgress));
  },
  async generateTeacher(req: TeacherRequest, onProgress?: ProgressCallback): Promise<GenerateResult> {
    return transferred(await generator.generateTeacher(req, safe(onProgress)));
  },
  async cacheInfo(): Promise<CacheInfo> {
    const entries = await listCached().catch(() => []);
    const est = await navigator.storage?.estimate?.().catch(() => null);
    const persisted = await navigator.storage?.persisted?.().catch(() => null);
    return {
      entries,
      totalBytes: entries.reduce((s, e) => s + e.bytes, 0),
      usage: est?.usage ?? null,
      quota: est?.quota ?? null,
      persisted: persisted ?? null,
    };
  },
  async clearCache(): Promise<void> {
    await Promise.all([clearCached(), generator.clearStoredEmbeddings()]);
  },
  /** Bench only (bench/run.mjs through the page's ?bench=1 hook); see workers/bench-hooks.ts. */
  benchRawRuns(prompt: string, seed: number) {
    return generator.benchRawRuns(prompt, seed);
  },
  benchMatmul(modelBytes: Uint8Array, n: number, reps: number) {
    return generator.benchMatmul(modelBytes, n, reps);
  },
  /** Stops a model download in progress (its stored chunks stay for the next load to resume). */
  cancelLoad(): void {
    generator.cancelLoad();
  },
  /** Test hook: an uncaught error, as a real crash would raise; the UI's supervisor replaces this worker. */
  crashForTest(): void {
    setTimeout(() => {
      throw new Error('crash requested by a test hook');
    }, 0);
  },
};

export type GeneratorApi = typeof api;
Comlink.expose(api);
