/** Streamed fetch of one model file with byte progress (loaded, total, speed). */
import { DownloadError, ModelFileMissingError } from '../../src/shared/errors';

export interface DownloadProgress {
  loaded: number;
  total: number;
  bytesPerSecond: number;
}

/**
 * Downloads `url` into one buffer. `expectedBytes` (from the manifest) sizes the buffer up front,
 * so a 45 MB file is not re-copied as it grows, and is the fallback total when the server sends
 * no Content-Length. Progress is throttled to ~10 Hz so the UI thread is not flooded.
 */
export async function downloadFile(
  url: URL,
  expectedBytes: number,
  onProgress: (p: DownloadProgress) => void,
  signal?: AbortSignal,
): Promise<Uint8Array<ArrayBuffer>> {
  let res: Response;
  try {
    // no-store: the bytes go to IndexedDB; a second copy in the HTTP cache only wastes quota.
    res = await fetch(url, { signal, cache: 'no-store' });
  } catch (err) {
    throw new DownloadError(`${url.pathname}: network error (${(err as Error).message})`);
  }
  if (res.status === 404) throw new ModelFileMissingError(`${url.pathname} is listed in the manifest but the server has no such file (404)`);
  if (!res.ok || !res.body) throw new DownloadError(`${url.pathname}: HTTP ${res.status}`);

  const header = Number(res.headers.get('content-length'));
  const total = Number.isFinite(header) && header > 0 ? header : expectedBytes;
  let buf = new Uint8Array(Math.max(total, expectedBytes));
  let loaded = 0;
  const started = performance.now();
  let lastReport = 0;
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
    throw new DownloadError(`${url.pathname}: download interrupted after ${loaded} of ${total} bytes (${(err as Error).message})`);
  }
  const now = performance.now();
  onProgress({ loaded, total: Math.max(total, loaded), bytesPerSecond: (loaded / Math.max(now - started, 1)) * 1000 });
  if (loaded < expectedBytes) throw new DownloadError(`${url.pathname}: download stopped at ${loaded} of ${expectedBytes} bytes`);
  return loaded === buf.byteLength ? buf : buf.slice(0, loaded);
}
