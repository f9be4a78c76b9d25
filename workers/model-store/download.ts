/** Streamed fetch of one model file with byte progress (loaded, total, speed), resumed after drops. */
import { DownloadError, ModelFileMissingError } from '../../src/shared/errors';

export interface DownloadProgress {
  loaded: number;
  total: number;
  bytesPerSecond: number;
}

/** Times a dropped connection is resumed (HTTP Range) before the download fails. */
export const RESUME_ATTEMPTS = 3;

/**
 * Downloads `url` into one buffer. `expectedBytes` (from the manifest) sizes the buffer up front,
 * so a 45 MB file is not re-copied as it grows, and is the fallback total when the server sends
 * no Content-Length. Progress is throttled to ~10 Hz so the UI thread is not flooded.
 *
 * A connection that drops part-way (common over a 1.7 GB UNet on mobile networks) is resumed with
 * `Range: bytes=<loaded>-` up to RESUME_ATTEMPTS times; a server that ignores Range (200) sends the
 * whole file again, which is accepted from byte 0. The caller's sha256 check covers the joined bytes.
 */
export async function downloadFile(
  url: URL,
  expectedBytes: number,
  onProgress: (p: DownloadProgress) => void,
  signal?: AbortSignal,
): Promise<Uint8Array<ArrayBuffer>> {
  let buf = new Uint8Array(expectedBytes);
  let loaded = 0;
  let total = expectedBytes;
  const started = performance.now();
  let lastReport = 0;
  let lastError = '';

  for (let attempt = 0; attempt <= RESUME_ATTEMPTS; attempt++) {
    let res: Response;
    const resume = loaded > 0;
    try {
      // no-store: the bytes go to IndexedDB; a second copy in the HTTP cache only wastes quota.
      res = await fetch(url, { signal, cache: 'no-store', ...(resume ? { headers: { Range: `bytes=${loaded}-` } } : {}) });
    } catch (err) {
      if (signal?.aborted) throw new DownloadError(`${url.pathname}: cancelled`);
      lastError = `network error (${(err as Error).message})`;
      if (!resume) throw new DownloadError(`${url.pathname}: ${lastError}`);
      continue;
    }
    if (res.status === 404) throw new ModelFileMissingError(`${url.pathname} is listed in the manifest but the server has no such file (404)`);
    if (!res.ok || !res.body) throw new DownloadError(`${url.pathname}: HTTP ${res.status}`);
    if (resume && res.status !== 206) loaded = 0; // Range ignored: the whole file again
    if (res.status === 206 && !(res.headers.get('content-range') ?? `bytes ${loaded}-`).startsWith(`bytes ${loaded}-`)) {
      throw new DownloadError(`${url.pathname}: the server resumed at the wrong offset`);
    }
    if (loaded === 0) {
      const header = Number(res.headers.get('content-length'));
      total = Number.isFinite(header) && header > 0 ? header : expectedBytes;
      if (total > buf.byteLength) buf = new Uint8Array(total);
    }

    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (loaded + value.byteLength > buf.byteLength) {
          const grown = new Uint8Array(Math.max(buf.byteLength * 2, loaded + value.byteLength));
          grown.set(buf.subarray(0, loaded));
          buf = grown;
        }
        buf.set(value, loaded);
        loaded += value.byteLength;
        const now = performance.now();
        if (now - lastReport > 100) {
          lastReport = now;
          onProgress({ loaded, total, bytesPerSecond: (loaded / Math.max(now - started, 1)) * 1000 });
        }
      }
    } catch (err) {
      if (signal?.aborted) throw new DownloadError(`${url.pathname}: cancelled`);
      lastError = `interrupted after ${loaded} of ${total} bytes (${(err as Error).message})`;
      continue;
    }
    if (loaded < expectedBytes) {
      lastError = `stopped at ${loaded} of ${expectedBytes} bytes`;
      continue;
    }
    const now = performance.now();
    onProgress({ loaded, total: Math.max(total, loaded), bytesPerSecond: (loaded / Math.max(now - started, 1)) * 1000 });
    return loaded === buf.byteLength ? buf : buf.slice(0, loaded);
  }
  throw new DownloadError(`${url.pathname}: download ${lastError}; gave up after ${RESUME_ATTEMPTS} resumptions`);
}
