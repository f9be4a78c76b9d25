/**
 * Bookkeeping for resumable downloads (pure, unit-tested).
 *
 * A model file is stored in IndexedDB as fixed-size chunks while it downloads. A small "partial"
 * record says how many leading chunks are complete; it is rewritten after each chunk lands. The
 * file's index record is written only after the whole file passed its sha256 check, so a partly
 * written model is never used: readers look for the index, and a partial record only tells the
 * next download where to resume (an HTTP Range request from the first missing chunk).
 */

export interface PartialRecord {
  kind: 'onestep-partial';
  sha256: string;
  bytes: number;
  chunkBytes: number;
  /** Chunks 0 … chunksDone − 1 are stored completely. */
  chunksDone: number;
  /** The server's ETag or Last-Modified when the download began (for If-Range), if it sent one. */
  validator: string | null;
}

export interface FileSpec {
  sha256: string;
  bytes: number;
}

export const chunkCount = (bytes: number, chunkBytes: number) => Math.ceil(bytes / chunkBytes);

/** Where a download starts: after the stored chunks of a partial record that matches `spec`, else 0. */
export function resumePoint(
  partial: PartialRecord | undefined | null,
  spec: FileSpec,
  chunkBytes: number,
): { chunksDone: number; offset: number } {
  if (
    !partial ||
    partial.kind !== 'onestep-partial' ||
    partial.sha256 !== spec.sha256 ||
    partial.bytes !== spec.bytes ||
    partial.chunkBytes !== chunkBytes ||
    !Number.isInteger(partial.chunksDone) ||
    partial.chunksDone <= 0
  ) {
    return { chunksDone: 0, offset: 0 };
  }
  // Never resume "after the end": a record claiming every chunk is re-verified by a fresh fetch of
  // the last chunk instead, so the sha256 check always sees a finished stream.
  const chunksDone = Math.min(partial.chunksDone, chunkCount(spec.bytes, chunkBytes) - 1);
  return { chunksDone, offset: chunksDone * chunkBytes };
}

/** Parses "bytes start-end/total" (total may be "*"). */
export function parseContentRange(header: string | null): { start: number; end: number; total: number | null } | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec((header ?? '').trim());
  if (!m) return null;
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) return null;
  return { start, end, total: m[3] === '*' ? null : Number(m[3]) };
}

export type RangeOutcome =
  /** 206 starting exactly where we asked: append to what is stored. */
  | { kind: 'resume'; offset: number }
  /** A full 200 (server ignores Range, or the file changed under If-Range): start over from 0. */
  | { kind: 'restart' }
  /** 416 or a 206 for another range: ask again without Range. */
  | { kind: 'retry-full' };

/** What to do with the response to a request that asked for `bytes=offset-` (offset 0: no Range). */
export function rangeOutcome(status: number, contentRange: string | null, offset: number, totalBytes: number): RangeOutcome {
  if (offset === 0) return { kind: 'restart' };
  if (status === 206) {
    const r = parseContentRange(contentRange);
    if (r && r.start === offset && (r.total === null || r.total === totalBytes)) return { kind: 'resume', offset };
    return { kind: 'retry-full' };
  }
  if (status === 416) return { kind: 'retry-full' };
  return { kind: 'restart' };
}

/**
 * Collects a streamed body into one preallocated buffer and says which chunks a write completed,
 * so the caller can store each one as soon as it is whole.
 */
export class ChunkAssembler {
  readonly buffer: Uint8Array<ArrayBuffer>;
  private loaded: number;
  private nextChunk: number;

  constructor(
    readonly totalBytes: number,
    readonly chunkBytes: number,
    startOffset = 0,
    buffer?: Uint8Array<ArrayBuffer>,
  ) {
    if (startOffset % chunkBytes !== 0) throw new RangeError('a download resumes only at a chunk boundary');
    this.buffer = buffer ?? new Uint8Array(totalBytes);
    this.loaded = startOffset;
    this.nextChunk = startOffset / chunkBytes;
  }

  get bytesLoaded(): number {
    return this.loaded;
  }

  /** Appends `data`; returns the indices of chunks that are now complete (in order). */
  push(data: Uint8Array): number[] {
    if (this.loaded + data.byteLength > this.totalBytes) {
      throw new RangeError(`the server sent more than the ${this.totalBytes} bytes the manifest lists`);
    }
    this.buffer.set(data, this.loaded);
    this.loaded += data.byteLength;
    const done: number[] = [];
    while (this.nextChunk < chunkCount(this.totalBytes, this.chunkBytes) && this.chunkEnd(this.nextChunk) <= this.loaded) {
      done.push(this.nextChunk++);
    }
    return done;
  }

  chunkEnd(i: number): number {
    return Math.min((i + 1) * this.chunkBytes, this.totalBytes);
  }

  /** A copy of chunk i (its own buffer, so IndexedDB does not keep the whole file alive). */
  chunk(i: number): ArrayBuffer {
    return this.buffer.slice(i * this.chunkBytes, this.chunkEnd(i)).buffer;
  }
}
