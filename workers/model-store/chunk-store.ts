/**
 * The records a model file is stored as, and the storage interface the download writes through
 * (IndexedDB in the app: idb-cache.ts; a Map in unit tests). Its own module so that the download
 * and the IndexedDB store depend on it and not on each other.
 */
import type { PartialRecord } from './resume';

/** A complete, verified file: written last, so a file exists for readers only once it is whole. */
export interface IndexRecord {
  kind: 'onestep-file';
  sha256: string;
  bytes: number;
  chunks: number;
  chunkBytes: number;
  storedAt: number;
}

/** Where chunks go (IndexedDB in the app, a Map in unit tests). */
export interface ChunkStore {
  readPartial(fileKey: string): Promise<PartialRecord | undefined>;
  readChunks(fileKey: string, count: number): Promise<ArrayBuffer[] | null>;
  writeChunk(fileKey: string, index: number, data: ArrayBuffer): Promise<void>;
  writePartial(fileKey: string, record: PartialRecord): Promise<void>;
  /**
   * Writes the index record (making the file visible) and drops the partial record, atomically and
   * only if every chunk is still stored; else throws ChunksGoneError (storage was cleared meanwhile).
   */
  commit(fileKey: string, index: IndexRecord): Promise<void>;
  /** Removes everything of the file: index, partial record, chunks. */
  discard(fileKey: string): Promise<void>;
}

/**
 * Storage was cleared ("clear downloaded models", in this tab or another) while the file downloaded:
 * it is kept in memory for this visit, and what was written after the clear is removed.
 */
export class ChunksGoneError extends Error {
  override readonly name = 'ChunksGoneError';
}
