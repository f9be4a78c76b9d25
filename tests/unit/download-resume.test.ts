import { afterEach, describe, expect, it, vi } from 'vitest';
import { downloadFile } from '../../workers/model-store/download';

const file = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);

/** A body that sends `bytes` and then, if `dropAfter` is set, fails like a dropped connection. */
function body(bytes: Uint8Array, dropAfter?: number): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    // pull, not start: an error raised with chunks still queued would discard them.
    pull(c) {
      if (!sent) {
        sent = true;
        c.enqueue(bytes.slice(0, dropAfter ?? bytes.length));
      } else if (dropAfter !== undefined) c.error(new TypeError('network connection was lost'));
      else c.close();
    },
  });
}

afterEach(() => vi.unstubAllGlobals());

describe('downloadFile', () => {
  it('resumes a dropped download with an HTTP Range request and returns the whole file', async () => {
    const ranges: (string | null)[] = [];
    vi.stubGlobal('fetch', async (_url: URL, init: RequestInit) => {
      const range = new Headers(init.headers).get('range');
      ranges.push(range);
      if (!range) return new Response(body(file, 400), { status: 200, headers: { 'content-length': '1000' } });
      const from = Number(/bytes=(\d+)-/.exec(range)![1]);
      return new Response(body(file.slice(from)), { status: 206, headers: { 'content-range': `bytes ${from}-999/1000` } });
    });
    const out = await downloadFile(new URL('https://hub.example/f'), 1000, () => undefined);
    expect(ranges).toEqual([null, 'bytes=400-']);
    expect(Array.from(out)).toEqual(Array.from(file));
  });

  it('starts again from byte 0 when the server ignores Range', async () => {
    let calls = 0;
    vi.stubGlobal('fetch', async () => new Response(body(file, calls++ === 0 ? 300 : undefined), { status: 200 }));
    const out = await downloadFile(new URL('https://hub.example/f'), 1000, () => undefined);
    expect(Array.from(out)).toEqual(Array.from(file));
  });

  it('gives up with a DownloadError after the resumption attempts', async () => {
    vi.stubGlobal('fetch', async () => new Response(body(file, 10), { status: 200 }));
    await expect(downloadFile(new URL('https://hub.example/f'), 1000, () => undefined)).rejects.toMatchObject({ name: 'DownloadError', message: expect.stringMatching(/gave up/) });
  });
});
