/**
 * Resumable, verified download of one model file into chunked storage.
 *
 *   stored chunks of an earlier try ─▶ Range request from the first missing chunk (206) ─▶ stream:
 *   each chunk is stored the moment it is complete, then the "partial" record is advanced ─▶
 *   sha256 of the whole file ─▶ index record written LAST (the file now exists for readers).
 *
 * A cut connection therefore loses at most one chunk: the next try asks only for the rest. A
 * server that ignores Range (200) or a file that changed (If-Range) restarts cleanly from byte 0.
 * A wrong sha256 discards everything stored for the file. When storage refuses a write (quota) the
 * download carries on in memory only, and says so (`stored: false`).
 * Aborting cancels the request and drops the in-memory buffer; completed chunks stay stored, so
 * the next load resumes instead of starting over.
 */
import {
  DownloadError,
  HostNotAllowedError,
  IntegrityError,
  isQuotaExceeded,
  LoadCancelledError,
  ModelFileMissingError,
} from '../../src/shared/errors';
import { blockedSince } from './blocked-requests';
import type { NotStoredReason } from '../../src/shared/types';
import { ChunksGoneError, type ChunkStore } from './chunk-store';
import { sha256Hex } from './integrity';
import { ChunkAssembler, chunkCount, rangeOutcome, resumePoint, type FileSpec, type PartialRecord } from './resume';

export interface DownloadProgress {
  loaded: number;
  total: number;
  bytesPerSecond: number;
  /** Bytes that were already stored from an earlier, interrupted try (0 on a fresh download). */
  resumedFrom: number;
}

export interface DownloadRequest {
  url: URL;
  /** Label for messages (the manifest's file name, e.g. "unet"). */
  file: string;
  fileKey: string;
  spec: FileSpec;
  chunkBytes: number;
  store: ChunkStore;
  onProgress: (p: DownloadProgress) => void;
  onVerify?: () => void;
  signal?: AbortSignal;
  fetchImpl?: typeof fetch;
}

export interface DownloadResult {
  bytes: Uint8Array<ArrayBuffer>;
  /** False when storage refused a write: the file is in memory only. */
  stored: boolean;
  /** Why it is not stored (null when it is). */
  notStored: NotStoredReason | null;
  resumedFrom: number;
}

const hostOf = (uri: string) => {
  try {
    return new URL(uri).host;
  } catch {
    return uri; // Chromium reports only the origin, or a keyword, for some blocked requests
  }
};

export async function downloadFile(req: DownloadRequest): Promise<DownloadResult> {
  const { url, file, fileKey, spec, chunkBytes, store, signal } = req;
  const doFetch = req.fetchImpl ?? fetch;
  const where = url.pathname;
  const sameOrigin = typeof location !== 'undefined' && url.origin === location.origin;
  let stored = true;
  let notStored: NotStoredReason | null = null;
  /** Runs a storage write; on the first refusal switch to memory-only and drop what was stored. */
  const keep = async (write: () => Promise<void>) => {
    if (!stored) return;
    try {
      await write();
    } catch (err) {
      stored = false;
      notStored = isQuotaExceeded(err) ? 'quota' : err instanceof ChunksGoneError ? 'cleared' : 'unavailable';
      await store.discard(fileKey).catch(() => undefined);
      if (notStored === 'unavailable') console.warn(`[onestep] could not store ${file}; keeping it in memory:`, err);
    }
  };
  const cancelled = () => new LoadCancelledError(`${file}: download stopped`);

  // 1. What an earlier try left: complete leading chunks, read back into the file's buffer.
  const buffer = new Uint8Array(spec.bytes);
  const partial = await store.readPartial(fileKey).catch(() => undefined);
  let { chunksDone, offset } = resumePoint(partial, spec, chunkBytes);
  if (offset > 0) {
    const chunks = await store.readChunks(fileKey, chunksDone).catch(() => null);
    if (chunks && chunks.length === chunksDone && chunks.every((c) => c.byteLength === chunkBytes)) {
      chunks.forEach((c, i) => buffer.set(new Uint8Array(c), i * chunkBytes));
    } else {
      chunksDone = 0;
      offset = 0;
    }
  }

  // 2. Ask for the rest (or all of it).
  const request = async (from: number, validator: string | null) => {
    const headers: Record<string, string> = {};
    if (from > 0) {
      // "bytes=N-" is a CORS-safelisted header, so resuming from a model hub (another origin) needs
      // no preflight. If-Range is not safelisted: it is sent to our own origin only. A hub file that
      // changed under the same URL is still caught, by the sha256 check of the whole file.
      headers.Range = `bytes=${from}-`;
      if (validator && sameOrigin) headers['If-Range'] = validator;
    }
    const asked = performance.now();
    try {
      // no-store: the bytes go to IndexedDB; a second copy in the HTTP cache only wastes quota.
      return await doFetch(url, { signal, cache: 'no-store', headers });
    } catch (err) {
      if (signal?.aborted) throw cancelled();
      // The violation report can trail the failed fetch by a task.
      await new Promise((r) => setTimeout(r, 0));
      const blocked = blockedSince(asked);
      if (blocked) {
        // For a redirect the browser reports the URL asked for, never where it was sent (the target is
        // not revealed to the page).
        const to = hostOf(blocked) === url.host ? 'another host' : hostOf(blocked);
        throw new HostNotAllowedError(
          `${url.host} redirected the download of ${file} to ${to}, which is not a host this app downloads from, so the browser blocked it`,
        );
      }
      throw new DownloadError(`${where}: network error (${(err as Error).message})`);
    }
  };
  let res = await request(offset, partial?.validator ?? null);
  const outcome = rangeOutcome(res.status, res.headers.get('content-range'), offset, spec.bytes);
  if (outcome.kind === 'retry-full') {
    await res.body?.cancel().catch(() => undefined);
    res = await request(0, null);
  }
  if (outcome.kind !== 'resume') {
    chunksDone = 0;
    offset = 0;
  }
  if (res.status === 404) throw new ModelFileMissingError(`${where} is listed in the manifest but the server has no such file (404)`);
  if (!res.ok || !res.body || (offset === 0 && res.status !== 200)) throw new DownloadError(`${where}: HTTP ${res.status}`);
  const validator = res.headers.get('etag') ?? res.headers.get('last-modified');
  const record = (done: number): PartialRecord => ({
    kind: 'onestep-partial',
    sha256: spec.sha256,
    bytes: spec.bytes,
    chunkBytes,
    chunksDone: done,
    validator,
  });
  // Starting over: first forget the old chunks' claim, then overwrite them one by one.
  if (offset === 0) await keep(() => store.writePartial(fileKey, record(0)));

  // 3. Stream, storing each chunk as soon as it is whole.
  const resumedFrom = offset;
  const asm = new ChunkAssembler(spec.bytes, chunkBytes, offset, buffer);
  const started = performance.now();
  let lastReport = 0;
  const report = () => {
    const now = performance.now();
    lastReport = now;
    req.onProgress({
      loaded: asm.bytesLoaded,
      total: spec.bytes,
      bytesPerSecond: ((asm.bytesLoaded - resumedFrom) / Math.max(now - started, 1)) * 1000,
      resumedFrom,
    });
  };
  const reader = res.body.getReader();
  const onAbort = () => void reader.cancel().catch(() => undefined);
  signal?.addEventListener('abort', onAbort);
  let savedChunks = chunksDone;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const i of asm.push(value)) {
        await keep(async () => {
          await store.writeChunk(fileKey, i, asm.chunk(i));
          await store.writePartial(fileKey, record(i + 1));
          savedChunks = i + 1;
        });
      }
      if (performance.now() - lastReport > 100) report(); // ~10 Hz: do not flood the UI thread
    }
  } catch (err) {
    if (signal?.aborted) throw cancelled();
    if (err instanceof RangeError) {
      await store.discard(fileKey).catch(() => undefined);
      throw new DownloadError(`${where}: ${err.message}`);
    }
    const saved = stored ? Math.min(savedChunks * chunkBytes, spec.bytes) : 0;
    throw new DownloadError(
      `${where}: interrupted after ${asm.bytesLoaded} of ${spec.bytes} bytes; ${saved} bytes are saved and the next try resumes there (${(err as Error).message})`,
    );
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (signal?.aborted) throw cancelled();
  report();
  if (asm.bytesLoaded < spec.bytes) throw new DownloadError(`${where}: download stopped at ${asm.bytesLoaded} of ${spec.bytes} bytes`);

  // 4. The whole file must be the one the manifest names; a wrong one is never kept.
  req.onVerify?.();
  const actual = await sha256Hex(buffer);
  if (actual !== spec.sha256.toLowerCase()) {
    await store.discard(fileKey).catch(() => undefined);
    throw new IntegrityError(file, spec.sha256, actual);
  }

  // 5. Only now does the file exist for readers.
  await keep(() =>
    store.commit(fileKey, {
      kind: 'onestep-file',
      sha256: spec.sha256,
      bytes: spec.bytes,
      chunks: chunkCount(spec.bytes, chunkBytes),
      chunkBytes,
      storedAt: Date.now(),
    }),
  );
  return { bytes: buffer, stored, notStored, resumedFrom };
}
