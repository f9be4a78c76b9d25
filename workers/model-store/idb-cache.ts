/**
 * Model files in IndexedDB (idb-keyval), chunked.
 *
 * Layout in the "onestep-models"/"files" store:
 *   `${fileKey}#${i}`      ArrayBuffer chunk i
 *   `${fileKey}~partial`   PartialRecord while a download is under way: how many leading chunks
 *                          are complete, so an interrupted download resumes (see resume.ts)
 *   `${fileKey}`           IndexRecord, written LAST: a file is cached only once its index exists,
 *                          so a write interrupted half-way reads as a miss, never as a short file.
 * Presence is decided by the small index record; chunks are read only when the file is used.
 */
import { clear, createStore, del, delMany, get, getMany, keys, set, type UseStore } from 'idb-keyval';
import { joinChunks } from './chunks';
import { ChunksGoneError, type ChunkStore, type IndexRecord } from './chunk-store';
import type { PartialRecord } from './resume';

let store: UseStore | null = null;
function db(): UseStore {
  // Created lazily so importing this module never opens IndexedDB (tests, SSR-free builds).
  store ??= createStore('onestep-models', 'files');
  return store;
}

const chunkKey = (fileKey: string, i: number) => `${fileKey}#${i}`;
const partialKey = (fileKey: string) => `${fileKey}~partial`;

/** True when the file's index record exists with this sha256 (cheap: no chunk is read). */
export async function hasCached(fileKey: string, sha256: string): Promise<boolean> {
  const index = await get<IndexRecord>(fileKey, db());
  return index?.kind === 'onestep-file' && index.sha256 === sha256;
}

/**
 * Bytes of this file already on the device: all of it when indexed with this sha256, else the
 * complete chunks of an interrupted download of it (which the next download resumes after).
 * The "not enough storage" check before adding a model counts only what is still to come.
 */
export async function storedBytes(fileKey: string, sha256: string, bytes: number): Promise<number> {
  if (await hasCached(fileKey, sha256)) return bytes;
  const partial = await get<PartialRecord>(partialKey(fileKey), db());
  if (partial?.kind !== 'onestep-partial' || partial.sha256 !== sha256 || partial.bytes !== bytes) return 0;
  return Math.min(partial.chunksDone * partial.chunkBytes, bytes);
}

/** Returns the file if its index matches `sha256` and every chunk is present; else null. */
export async function readCached(fileKey: string, sha256: string): Promise<Uint8Array<ArrayBuffer> | null> {
  const index = await get<IndexRecord>(fileKey, db());
  if (!index || index.kind !== 'onestep-file' || index.sha256 !== sha256) return null;
  const keys = Array.from({ length: index.chunks }, (_, i) => chunkKey(fileKey, i));
  const chunks = await getMany<ArrayBuffer | undefined>(keys, db());
  if (chunks.some((c) => !(c instanceof ArrayBuffer))) return null;
  try {
    return joinChunks(chunks as ArrayBuffer[], index.bytes);
  } catch {
    return null; // sizes disagree: treat as a miss, the caller re-fetches
  }
}

/**
 * Removes a file's index first (so it reads as absent at once), then its partial record and every
 * chunk (found by key prefix, so chunks of an unfinished or abandoned download go too).
 */
export async function deleteCached(fileKey: string): Promise<void> {
  await del(fileKey, db());
  await del(partialKey(fileKey), db());
  const prefix = chunkKey(fileKey, 0).slice(0, -1);
  const chunks = (await keys<string>(db())).filter((k) => typeof k === 'string' && k.startsWith(prefix));
  if (chunks.length) await delMany(chunks, db());
}

/**
 * The download's view of IndexedDB (workers/model-store/download.ts). Every method is async so that
 * an IndexedDB that throws on use (private browsing) rejects instead of throwing synchronously.
 */
export const idbChunkStore: ChunkStore = {
  readPartial: async (fileKey) => get<PartialRecord>(partialKey(fileKey), db()),
  async readChunks(fileKey, count) {
    const chunks = await getMany<ArrayBuffer | undefined>(
      Array.from({ length: count }, (_, i) => chunkKey(fileKey, i)),
      db(),
    );
    return chunks.every((c) => c instanceof ArrayBuffer) ? (chunks as ArrayBuffer[]) : null;
  },
  writeChunk: async (fileKey, i, data) => set(chunkKey(fileKey, i), data, db()),
  writePartial: async (fileKey, record) => set(partialKey(fileKey), record, db()),
  // One transaction: the index is written only if every chunk is still there, so a "clear" (from
  // this tab or another) during the download can never leave an index over missing chunks.
  commit: async (fileKey, index) =>
    db()(
      'readwrite',
      (files) =>
        new Promise<void>((resolve, reject) => {
          let left = index.chunks;
          let missing = 0;
          const check = () => {
            if (--left > 0) return;
            if (missing)
              return reject(new ChunksGoneError(`${missing} of ${index.chunks} chunks of ${fileKey} were removed while it downloaded`));
            files.put(index, fileKey);
            files.delete(partialKey(fileKey));
            files.transaction.oncomplete = () => resolve();
            files.transaction.onerror = () => reject(files.transaction.error);
          };
          for (let i = 0; i < index.chunks; i++) {
            const r = files.getKey(chunkKey(fileKey, i));
            r.onsuccess = () => {
              if (r.result === undefined) missing++;
              check();
            };
            r.onerror = () => reject(r.error);
          }
          if (index.chunks === 0) {
            left = 1;
            check();
          }
        }),
    ),
  discard: deleteCached,
};

/** Every cached file with its size. Reads keys, then only the small index records, never chunks. */
export async function listCached(): Promise<{ key: string; bytes: number }[]> {
  const indexKeys = (await keys<string>(db())).filter((k) => typeof k === 'string' && !k.includes('#') && !k.includes('~'));
  const records = await getMany<IndexRecord | undefined>(indexKeys, db());
  return indexKeys.flatMap((key, i) => {
    const r = records[i];
    return r?.kind === 'onestep-file' ? [{ key, bytes: r.bytes }] : [];
  });
}

export async function clearCached(): Promise<void> {
  await clear(db());
}
