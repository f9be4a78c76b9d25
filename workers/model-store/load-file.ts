/**
 * One model file, checked and cached: IndexedDB hit → sha256 → bytes; on a miss or a bad cached
 * copy → streamed download → sha256 → IndexedDB (chunked) → bytes.
 */
import { IntegrityError, isQuotaExceeded } from '../../src/shared/errors';
import type { FileSource, Manifest, ProgressCallback } from '../../src/shared/types';
import { downloadFile } from './download';
import { deleteCached, readCached, writeCached } from './idb-cache';
import { verifySha256 } from './integrity';

export interface LoadedFile {
  bytes: Uint8Array<ArrayBuffer>;
  source: FileSource;
  /** True when a cached copy failed its hash and was thrown away. */
  discarded: boolean;
  /** False when IndexedDB refused the write (quota): the file lives in memory only. */
  cached: boolean;
}

/** The IndexedDB key of a file: model id and version, so a new export never reads an old copy. */
export const fileKey = (m: Manifest, file: string) => `${m.id}@${m.version}/${file}`;

export async function loadModelFile(manifest: Manifest, baseUrl: URL, file: string, onProgress: ProgressCallback): Promise<LoadedFile> {
  const spec = manifest.files[file];
  const key = fileKey(manifest, file);
  let discarded = false;

  let cachedBytes: Uint8Array<ArrayBuffer> | null = null;
  try {
    cachedBytes = await readCached(key, spec.sha256);
  } catch {
    cachedBytes = null; // IndexedDB unavailable (some private modes): just download
  }
  if (cachedBytes) {
    onProgress({ phase: 'cache', file, action: 'hit' });
    onProgress({ phase: 'verify', file });
    try {
      // Disks and browsers corrupt data; a wrong weight silently ruins every image, so re-check.
      await verifySha256(file, cachedBytes, spec.sha256);
      return { bytes: cachedBytes, source: 'cache', discarded: false, cached: true };
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err;
      discarded = true;
      onProgress({ phase: 'cache', file, action: 'discard' });
      await deleteCached(key).catch(() => undefined);
    }
  } else {
    onProgress({ phase: 'cache', file, action: 'miss' });
  }

  const bytes = await downloadFile(new URL(spec.path, baseUrl), spec.bytes, (p) => onProgress({ phase: 'download', file, ...p }));
  onProgress({ phase: 'verify', file });
  await verifySha256(file, bytes, spec.sha256); // a bad download is never stored

  let cached = true;
  try {
    await writeCached(key, spec.sha256, bytes);
    onProgress({ phase: 'cache', file, action: 'store' });
  } catch (err) {
    // Quota (or a private mode without IndexedDB): keep going from memory, and say so.
    cached = false;
    await deleteCached(key).catch(() => undefined);
    onProgress({ phase: 'cache', file, action: 'memory-only' });
    if (!isQuotaExceeded(err)) console.warn(`[onestep] could not cache ${file}:`, err);
  }
  return { bytes, source: 'network', discarded, cached };
}
