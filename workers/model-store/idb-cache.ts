/**
 * Model files in IndexedDB (idb-keyval), chunked.
 *
 * Layout in the "onestep-models"/"files" store:
 *   `${fileKey}#${i}`  ArrayBuffer chunk i
 *   `${fileKey}`       IndexRecord, written LAST: a file is cached only once its index exists,
 *                      so a write interrupted half-way reads as a miss, never as a short file.
 * Presence is decided by the small index record; chunks are read only when the file is used.
 */
import { clear, createStore, del, delMany, get, getMany, keys, set, type UseStore } from 'idb-keyval';
import { joinChunks, CHUNK_BYTES } from './chunks';

export interface IndexRecord {
  kind: 'onestep-file';
  sha256: string;
  bytes: number;
  chunks: number;
  chunkBytes: number;
  storedAt: number;
}

let store: UseStore | null = null;
function db(): UseStore {
  // Created lazily so importing this module never opens IndexedDB (tests, SSR-free builds).
  store ??= createStore('onestep-models', 'files');
  return store;
}

const chunkKey = (fileKey: string, i: number) => `${fileKey}#${i}`;

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

/** True when a complete copy with this sha256 is indexed (reads the small index record only). */
export async function readCachedIndex(fileKey: string, sha256: string): Promise<boolean> {
  const index = await get<IndexRecord>(fileKey, db());
  return index?.kind === 'onestep-file' && index.sha256 === sha256;
}

/** Stores chunks first and the index record last. Throws what IndexedDB throws (e.g. quota). */
export async function writeCached(fileKey: string, sha256: string, bytes: Uint8Array, chunkBytes = CHUNK_BYTES): Promise<void> {
  await deleteCached(fileKey);
  if (!(chunkBytes > 0)) throw new RangeError('chunkBytes must be positive');
  const count = Math.ceil(bytes.byteLength / chunkBytes);
  // One transaction per chunk keeps each commit bounded, and copying one chunk at a time (not the
  // whole file up front) keeps a 1.7 GB UNet from needing twice its size in memory.
  for (let i = 0; i < count; i++) {
    const chunk = bytes.slice(i * chunkBytes, Math.min((i + 1) * chunkBytes, bytes.byteLength)).buffer;
    await set(chunkKey(fileKey, i), chunk, db());
  }
  const index: IndexRecord = { kind: 'onestep-file', sha256, bytes: bytes.byteLength, chunks: count, chunkBytes, storedAt: Date.now() };
  await set(fileKey, index, db());
}

/** Removes a file's index first (so it reads as absent at once), then its chunks. */
export async function deleteCached(fileKey: string): Promise<void> {
  const index = await get<IndexRecord>(fileKey, db());
  await del(fileKey, db());
  if (index?.kind === 'onestep-file') {
    await delMany(Array.from({ length: index.chunks }, (_, i) => chunkKey(fileKey, i)), db());
  }
}

/** Every cached file with its size. Reads keys, then only the small index records, never chunks. */
export async function listCached(): Promise<{ key: string; bytes: number }[]> {
  const indexKeys = (await keys<string>(db())).filter((k) => typeof k === 'string' && !k.includes('#'));
  const records = await getMany<IndexRecord | undefined>(indexKeys, db());
  return indexKeys.flatMap((key, i) => {
    const r = records[i];
    return r?.kind === 'onestep-file' ? [{ key, bytes: r.bytes }] : [];
  });
}

export async function clearCached(): Promise<void> {
  await clear(db());
}
