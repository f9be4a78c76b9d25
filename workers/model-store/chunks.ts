/**
 * Split a file into chunks for IndexedDB and join it back. One IndexedDB value over ~127 MiB
 * fails in some contexts (incognito Chromium), so files are stored as fixed-size chunks.
 */

import { DOWNLOAD_CHUNK_BYTES } from '../../src/shared/config';

/**
 * 4 MiB (config.ts): far under the per-value limit, few enough records to read quickly, and small
 * enough that a cut-off download loses little (chunks are stored as they arrive, see download.ts).
 */
export const CHUNK_BYTES = DOWNLOAD_CHUNK_BYTES;

/** Copies `bytes` into chunks of at most `chunkBytes` (copies, so each chunk owns its buffer). */
export function splitIntoChunks(bytes: Uint8Array, chunkBytes = CHUNK_BYTES): ArrayBuffer[] {
  if (!(chunkBytes > 0)) throw new RangeError('chunkBytes must be positive');
  const out: ArrayBuffer[] = [];
  for (let off = 0; off < bytes.byteLength; off += chunkBytes) {
    out.push(bytes.slice(off, Math.min(off + chunkBytes, bytes.byteLength)).buffer);
  }
  return out;
}

/** Joins chunks into one buffer; throws if their sizes do not add up to `totalBytes`. */
export function joinChunks(chunks: readonly ArrayBuffer[], totalBytes: number): Uint8Array<ArrayBuffer> {
  const sum = chunks.reduce((s, c) => s + c.byteLength, 0);
  if (sum !== totalBytes) throw new RangeError(`chunks hold ${sum} bytes, expected ${totalBytes}`);
  const out = new Uint8Array(totalBytes);
  let off = 0;
  for (const c of chunks) {
    out.set(new Uint8Array(c), off);
    off += c.byteLength;
  }
  return out;
}
