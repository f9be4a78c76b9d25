/**
 * One download per file, however many loads want it.
 *  - In this worker: concurrent callers for the same key share one promise (singleFlight).
 *  - Across tabs (each has its own worker): a Web Lock per file, so a second tab waits for the
 *    first tab's download and then reads the stored file instead of fetching it again.
 */
import { LoadCancelledError } from '../../src/shared/errors';

export function singleFlight<T>(): (key: string, job: () => Promise<T>) => Promise<T> {
  const inFlight = new Map<string, Promise<T>>();
  return (key, job) => {
    const running = inFlight.get(key);
    if (running) return running;
    const p = job().finally(() => inFlight.delete(key));
    inFlight.set(key, p);
    return p;
  };
}

/** Runs `job` holding the lock `name` (exclusive across tabs of this origin); `waited` says if another held it. */
export async function withFileLock<T>(name: string, signal: AbortSignal | undefined, job: (waited: boolean) => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as { locks?: LockManager } | undefined)?.locks;
  if (!locks) return job(false);
  // Try without waiting first, so the common case (nobody else downloading) knows it did not wait.
  let ran = false;
  let result: T | undefined;
  await locks.request(name, { ifAvailable: true }, async (lock) => {
    if (!lock) return;
    ran = true;
    result = await job(false);
  });
  if (ran) return result as T;
  try {
    return (await locks.request(name, { signal }, () => job(true))) as T;
  } catch (err) {
    // Cancelled while waiting for the other tab: the same named error as a cancelled download.
    if (signal?.aborted) throw new LoadCancelledError('stopped while another tab was downloading the file');
    throw err;
  }
}
