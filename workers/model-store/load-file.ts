/**
 * One model file, checked and cached: IndexedDB hit → sha256 → bytes; on a miss or a bad cached
 * copy → resumable download (chunks stored as they arrive) → sha256 → index record → bytes.
 * Loads of the same file share one download (in this worker and across tabs, see share.ts).
 */
import { IntegrityError } from '../../src/shared/errors';
import type { FileSource, Manifest, NotStoredReason, ProgressCallback } from '../../src/shared/types';
import { CHUNK_BYTES } from './chunks';
import { downloadFile } from './download';
import { deleteCached, hasCached, idbChunkStore, readCached } from './idb-cache';
import { verifySha256 } from './integrity';
import { singleFlight, withFileLock } from './share';

export interface LoadedFile {
  bytes: Uint8Array<ArrayBuffer>;
  source: FileSource;
  /** True when a cached copy failed its hash and was thrown away. */
  discarded: boolean;
  /** False when IndexedDB refused the write (quota): the file lives in memory only. */
  cached: boolean;
  /** Why it is not cached (null when it is, or was read from the cache). */
  notStored: NotStoredReason | null;
  /** Bytes an earlier, interrupted download had already stored (0 when nothing was resumed). */
  resumedFrom: number;
}

/** The IndexedDB key of a file: model id and version, so a new export never reads an old copy. */
export const fileKey = (m: Manifest, file: string) => `${m.id}@${m.version}/${file}`;

const shared = singleFlight<LoadedFile>();

export function loadModelFile(
  manifest: Manifest,
  baseUrl: URL,
  file: string,
  onProgress: ProgressCallback,
  signal?: AbortSignal,
): Promise<LoadedFile> {
  const key = fileKey(manifest, file);
  return shared(`${key}:${manifest.files[file].sha256}`, () => loadNow(manifest, baseUrl, file, onProgress, signal));
}

/** The cached copy if it exists and still hashes right; a damaged one is deleted (null, discarded). */
async function fromCache(
  manifest: Manifest,
  file: string,
  onProgress: ProgressCallback,
): Promise<{ bytes: Uint8Array<ArrayBuffer> | null; discarded: boolean }> {
  const spec = manifest.files[file];
  const key = fileKey(manifest, file);
  let bytes: Uint8Array<ArrayBuffer> | null;
  try {
    bytes = await readCached(key, spec.sha256);
  } catch {
    bytes = null; // IndexedDB unavailable (some private modes): just download
  }
  if (!bytes) return { bytes: null, discarded: false };
  onProgress({ phase: 'cache', file, action: 'hit' });
  onProgress({ phase: 'verify', file });
  try {
    // Disks and browsers corrupt data; a wrong weight silently ruins every image, so re-check.
    await verifySha256(file, bytes, spec.sha256);
    return { bytes, discarded: false };
  } catch (err) {
    if (!(err instanceof IntegrityError)) throw err;
    onProgress({ phase: 'cache', file, action: 'discard' });
    await deleteCached(key).catch(() => undefined);
    return { bytes: null, discarded: true };
  }
}

async function loadNow(
  manifest: Manifest,
  baseUrl: URL,
  file: string,
  onProgress: ProgressCallback,
  signal?: AbortSignal,
): Promise<LoadedFile> {
  const spec = manifest.files[file];
  const key = fileKey(manifest, file);
  const first = await fromCache(manifest, file, onProgress);
  if (first.bytes) return { bytes: first.bytes, source: 'cache', discarded: false, cached: true, notStored: null, resumedFrom: 0 };
  if (!first.discarded) onProgress({ phase: 'cache', file, action: 'miss' });

  return withFileLock(`onestep-download:${key}`, signal, async (waited) => {
    // Another tab held the lock: it has probably just stored this very file.
    if (waited && (await hasCached(key, spec.sha256).catch(() => false))) {
      const again = await fromCache(manifest, file, onProgress);
      if (again.bytes)
        return { bytes: again.bytes, source: 'cache', discarded: first.discarded, cached: true, notStored: null, resumedFrom: 0 };
    }
    const r = await downloadFile({
      url: new URL(spec.path, baseUrl),
      file,
      fileKey: key,
      spec,
      chunkBytes: CHUNK_BYTES,
      store: idbChunkStore,
      onProgress: (p) => onProgress({ phase: 'download', file, ...p }),
      onVerify: () => onProgress({ phase: 'verify', file }),
      signal,
    });
    onProgress(
      r.stored
        ? { phase: 'cache', file, action: 'store' }
        : { phase: 'cache', file, action: 'memory-only', why: r.notStored ?? 'unavailable' },
    );
    return {
      bytes: r.bytes,
      source: 'network',
      discarded: first.discarded,
      cached: r.stored,
      notStored: r.notStored,
      resumedFrom: r.resumedFrom,
    };
  });
}
