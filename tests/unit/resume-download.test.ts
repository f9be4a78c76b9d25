import { describe, expect, it } from 'vitest';
import { ChunksGoneError, type ChunkStore, type IndexRecord } from '../../workers/model-store/chunk-store';
import { downloadFile } from '../../workers/model-store/download';
import { sha256Hex } from '../../workers/model-store/integrity';
import { ChunkAssembler, parseContentRange, rangeOutcome, resumePoint, type PartialRecord } from '../../workers/model-store/resume';

const spec = { sha256: 'a'.repeat(64), bytes: 1000 };
const partial = (chunksDone: number, over: Partial<PartialRecord> = {}): PartialRecord => ({
  kind: 'onestep-partial',
  sha256: spec.sha256,
  bytes: spec.bytes,
  chunkBytes: 256,
  chunksDone,
  validator: null,
  ...over,
});

describe('resume bookkeeping', () => {
  it('resumes after the stored chunks of a matching partial record', () => {
    expect(resumePoint(partial(2), spec, 256)).toEqual({ chunksDone: 2, offset: 512 });
  });

  it('starts over when the record is missing or belongs to another file or chunk size', () => {
    expect(resumePoint(undefined, spec, 256)).toEqual({ chunksDone: 0, offset: 0 });
    expect(resumePoint(partial(2, { sha256: 'b'.repeat(64) }), spec, 256).offset).toBe(0);
    expect(resumePoint(partial(2, { bytes: 999 }), spec, 256).offset).toBe(0);
    expect(resumePoint(partial(2), spec, 128).offset).toBe(0);
    expect(resumePoint(partial(0), spec, 256).offset).toBe(0);
  });

  it('never resumes past the last chunk (the end is always fetched again and verified)', () => {
    expect(resumePoint(partial(4), spec, 256)).toEqual({ chunksDone: 3, offset: 768 });
    expect(resumePoint(partial(9), spec, 256)).toEqual({ chunksDone: 3, offset: 768 });
  });

  it('parses Content-Range', () => {
    expect(parseContentRange('bytes 512-999/1000')).toEqual({ start: 512, end: 999, total: 1000 });
    expect(parseContentRange('bytes 0-9/*')).toEqual({ start: 0, end: 9, total: null });
    expect(parseContentRange('bytes 9-0/10')).toBeNull();
    expect(parseContentRange(null)).toBeNull();
  });

  it('decides resume, restart or a plain retry from the response', () => {
    expect(rangeOutcome(206, 'bytes 512-999/1000', 512, 1000)).toEqual({ kind: 'resume', offset: 512 });
    expect(rangeOutcome(200, null, 512, 1000)).toEqual({ kind: 'restart' }); // server ignored Range
    expect(rangeOutcome(206, 'bytes 0-999/1000', 512, 1000)).toEqual({ kind: 'retry-full' }); // wrong range
    expect(rangeOutcome(206, 'bytes 512-999/2000', 512, 1000)).toEqual({ kind: 'retry-full' }); // other file
    expect(rangeOutcome(416, null, 512, 1000)).toEqual({ kind: 'retry-full' });
    expect(rangeOutcome(200, null, 0, 1000)).toEqual({ kind: 'restart' });
  });

  it('assembles a stream and reports each chunk once, when it is complete', () => {
    const asm = new ChunkAssembler(1000, 256);
    expect(asm.push(new Uint8Array(100))).toEqual([]);
    expect(asm.push(new Uint8Array(500))).toEqual([0, 1]);
    expect(asm.push(new Uint8Array(400))).toEqual([2, 3]);
    expect(asm.chunk(3).byteLength).toBe(232);
    expect(() => asm.push(new Uint8Array(1))).toThrow(RangeError);
    expect(() => new ChunkAssembler(1000, 256, 100)).toThrow(RangeError);
  });
});

// ---- the downloader against a fake server and an in-memory store -------------------------------

function memoryStore(): ChunkStore & { map: Map<string, unknown>; quotaAfter?: number } {
  const map = new Map<string, unknown>();
  const store = {
    map,
    quotaAfter: undefined as number | undefined,
    async readPartial(k: string) {
      return map.get(`${k}~partial`) as PartialRecord | undefined;
    },
    async readChunks(k: string, n: number) {
      const c = Array.from({ length: n }, (_, i) => map.get(`${k}#${i}`) as ArrayBuffer | undefined);
      return c.every(Boolean) ? (c as ArrayBuffer[]) : null;
    },
    async writeChunk(k: string, i: number, d: ArrayBuffer) {
      if (store.quotaAfter !== undefined && i >= store.quotaAfter) throw new DOMException('full', 'QuotaExceededError');
      map.set(`${k}#${i}`, d);
    },
    async writePartial(k: string, r: PartialRecord) {
      map.set(`${k}~partial`, r);
    },
    async commit(k: string, idx: IndexRecord) {
      const gone = Array.from({ length: idx.chunks }, (_, i) => `${k}#${i}`).filter((c) => !map.has(c));
      if (gone.length) throw new ChunksGoneError(`${gone.length} chunks removed`);
      map.set(k, idx);
      map.delete(`${k}~partial`);
    },
    async discard(k: string) {
      for (const key of [...map.keys()]) if (key === k || key.startsWith(`${k}#`) || key === `${k}~partial`) map.delete(key);
    },
  };
  return store;
}

/** A server for `file` that honours Range, can cut the body after `cutAfter` bytes, and logs requests. */
function fakeServer(file: Uint8Array, opts: { cutAfter?: number; ignoreRange?: boolean } = {}) {
  const log: { range: string | null; sent: number }[] = [];
  const fetchImpl = (async (_url: unknown, init?: RequestInit) => {
    const range = new Headers(init?.headers).get('range');
    let start = 0;
    if (range && !opts.ignoreRange) start = Number(/bytes=(\d+)-/.exec(range)![1]);
    const body = file.subarray(start);
    const entry = { range, sent: 0 };
    log.push(entry);
    const cut = opts.cutAfter;
    opts.cutAfter = undefined; // only the first request is cut
    let off = 0;
    // Pull-based, one piece per read, so a cut delivers everything sent before it.
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (cut !== undefined && entry.sent >= cut) return controller.error(new TypeError('network connection lost'));
        if (off >= body.length) return controller.close();
        const piece = body.slice(off, Math.min(off + 100, body.length));
        off += piece.length;
        entry.sent += piece.length;
        controller.enqueue(piece);
      },
    });
    const headers = new Headers({ 'content-length': String(body.length) });
    if (start > 0) headers.set('content-range', `bytes ${start}-${file.length - 1}/${file.length}`);
    return new Response(stream, { status: start > 0 ? 206 : 200, headers });
  }) as typeof fetch;
  return { fetchImpl, log };
}

async function fileOf(n: number) {
  const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
  return { bytes, sha256: await sha256Hex(bytes) };
}

const base = (store: ChunkStore, sha256: string, bytes: number, fetchImpl: typeof fetch) => ({
  url: new URL('https://example.invalid/m/unet.onnx'),
  file: 'unet',
  fileKey: 'm@1/unet',
  spec: { sha256, bytes },
  chunkBytes: 256,
  store,
  onProgress: () => undefined,
  fetchImpl,
});

describe('resumable download', () => {
  it('a cut-off download keeps its complete chunks, and the retry asks only for the rest', async () => {
    const f = await fileOf(1000);
    const store = memoryStore();
    const server = fakeServer(f.bytes, { cutAfter: 600 });
    await expect(downloadFile(base(store, f.sha256, 1000, server.fetchImpl))).rejects.toMatchObject({ name: 'DownloadError' });
    expect(store.map.has('m@1/unet')).toBe(false); // never visible half-written
    expect((store.map.get('m@1/unet~partial') as PartialRecord).chunksDone).toBe(2);

    const r = await downloadFile(base(store, f.sha256, 1000, server.fetchImpl));
    expect(r.resumedFrom).toBe(512);
    expect(server.log[1]).toEqual({ range: 'bytes=512-', sent: 488 });
    expect(r.bytes).toEqual(f.bytes);
    expect(r.stored).toBe(true);
    expect((store.map.get('m@1/unet') as IndexRecord).chunks).toBe(4);
    expect(store.map.has('m@1/unet~partial')).toBe(false);
  });

  it('a server that ignores Range restarts cleanly from byte 0', async () => {
    const f = await fileOf(1000);
    const store = memoryStore();
    await downloadFile(base(store, f.sha256, 1000, fakeServer(f.bytes, { cutAfter: 600 }).fetchImpl)).catch(() => undefined);
    const server = fakeServer(f.bytes, { ignoreRange: true });
    const r = await downloadFile(base(store, f.sha256, 1000, server.fetchImpl));
    expect(server.log[0].sent).toBe(1000);
    expect(r.resumedFrom).toBe(0);
    expect(r.bytes).toEqual(f.bytes);
  });

  it('a file with the wrong sha256 is rejected and nothing of it is kept', async () => {
    const f = await fileOf(1000);
    const store = memoryStore();
    const server = fakeServer(f.bytes);
    await expect(downloadFile(base(store, 'f'.repeat(64), 1000, server.fetchImpl))).rejects.toMatchObject({
      name: 'IntegrityError',
      file: 'unet',
    });
    expect(store.map.size).toBe(0);
  });

  it('when storage is full the file still arrives, in memory only, and nothing partial is left', async () => {
    const f = await fileOf(1000);
    const store = memoryStore();
    store.quotaAfter = 1;
    const r = await downloadFile(base(store, f.sha256, 1000, fakeServer(f.bytes).fetchImpl));
    expect(r.stored).toBe(false);
    expect(r.notStored).toBe('quota');
    expect(r.bytes).toEqual(f.bytes);
    expect(store.map.size).toBe(0);
  });

  it('storage cleared during the download (this tab or another): the file arrives in memory and nothing of it stays', async () => {
    const f = await fileOf(1000);
    const store = memoryStore();
    const write = store.writeChunk;
    store.writeChunk = async (k, i, d) => {
      await write(k, i, d);
      if (i === 2) store.map.clear(); // "clear downloaded models" between two chunks
    };
    const r = await downloadFile(base(store, f.sha256, 1000, fakeServer(f.bytes).fetchImpl));
    expect(r.stored).toBe(false);
    expect(r.notStored).toBe('cleared');
    expect(r.bytes).toEqual(f.bytes);
    expect([...store.map.keys()]).toEqual([]); // no index over missing chunks, no orphan chunks
  });

  it('aborting stops the download with LoadCancelledError and keeps complete chunks for later', async () => {
    const f = await fileOf(1000);
    const store = memoryStore();
    const abort = new AbortController();
    const req = { ...base(store, f.sha256, 1000, fakeServer(f.bytes).fetchImpl), signal: abort.signal, onProgress: () => abort.abort() };
    await expect(downloadFile(req)).rejects.toMatchObject({ name: 'LoadCancelledError' });
    expect(store.map.has('m@1/unet')).toBe(false);
  });
});
