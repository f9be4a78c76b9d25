/**
 * Keeps a generator worker alive. A worker that dies (an uncaught error, out of memory, a test
 * hook) is terminated and replaced; every call still waiting on the dead one is rejected with a
 * WorkerCrashedError at once instead of hanging forever, and `onRestart` lets the page load the
 * model into the new worker (from IndexedDB: no network) and repaint.
 *
 * Methods mirror GeneratorApi, so the rest of the UI does not know a supervisor is in between.
 */
import * as Comlink from 'comlink';
import { WORKER_RESTART_LIMIT } from '../shared/config';
import { WorkerCrashedError } from '../shared/errors';
import { shouldRestart } from './restart-policy';
import type { GeneratorApi } from './worker-client';

type Remote = Comlink.Remote<GeneratorApi>;
type Args<K extends keyof GeneratorApi> = Parameters<GeneratorApi[K]>;
type Result<K extends keyof GeneratorApi> = Promise<Awaited<ReturnType<GeneratorApi[K]>>>;

interface Incarnation {
  worker: Worker;
  api: Remote;
  /** Rejects when this worker dies; raced against every call made on it. */
  died: Promise<never>;
  kill: (err: WorkerCrashedError) => void;
}

export interface SupervisorEvents {
  /** A new worker replaced a crashed one; the caller reloads the model. */
  onRestart(reason: string, restarts: number): void;
  /** Crashes came too fast: no new worker was started. */
  onGiveUp(reason: string): void;
}

export class SupervisedGenerator {
  private current: Incarnation | null;
  private readonly crashTimes: number[] = [];
  restarts = 0;

  constructor(
    private readonly spawn: () => Worker,
    private readonly events: SupervisorEvents,
  ) {
    this.current = this.start();
  }

  private start(): Incarnation {
    const worker = this.spawn();
    let kill!: (err: WorkerCrashedError) => void;
    const died = new Promise<never>((_, reject) => (kill = reject));
    died.catch(() => undefined); // only calls in flight care
    const inc: Incarnation = { worker, api: Comlink.wrap<GeneratorApi>(worker), died, kill };
    // An uncaught error inside the worker: its state can no longer be trusted.
    worker.addEventListener('error', (e) => {
      e.preventDefault();
      this.crashed(inc, e.message || 'uncaught error in the worker');
    });
    return inc;
  }

  private crashed(inc: Incarnation, reason: string): void {
    if (this.current !== inc) return; // already replaced
    // terminate() is enough: Comlink's releaseProxy would wait for a reply the dead worker never sends.
    inc.worker.terminate();
    inc.kill(new WorkerCrashedError(reason));
    const now = Date.now();
    this.crashTimes.push(now);
    if (!shouldRestart(this.crashTimes.slice(0, -1), now, WORKER_RESTART_LIMIT)) {
      this.current = null;
      this.events.onGiveUp(reason);
      return;
    }
    this.current = this.start();
    this.restarts += 1;
    this.events.onRestart(reason, this.restarts);
  }

  private call<T>(fn: (api: Remote) => Promise<T>): Promise<T> {
    const inc = this.current;
    if (!inc) return Promise.reject(new WorkerCrashedError('the image engine crashed repeatedly and was stopped; reload the page'));
    return Promise.race([fn(inc.api), inc.died]);
  }

  load = (...a: Args<'load'>): Result<'load'> => this.call((api) => api.load(...a));
  generate = (...a: Args<'generate'>): Result<'generate'> => this.call((api) => api.generate(...a));
  deferredFiles = (...a: Args<'deferredFiles'>): Result<'deferredFiles'> => this.call((api) => api.deferredFiles(...a));
  prefetchTeacher = (...a: Args<'prefetchTeacher'>): Result<'prefetchTeacher'> => this.call((api) => api.prefetchTeacher(...a));
  generateTeacher = (...a: Args<'generateTeacher'>): Result<'generateTeacher'> => this.call((api) => api.generateTeacher(...a));
  cacheInfo = (): Result<'cacheInfo'> => this.call((api) => api.cacheInfo());
  clearCache = (): Result<'clearCache'> => this.call((api) => api.clearCache());
  cancelLoad = (): Result<'cancelLoad'> => this.call((api) => api.cancelLoad());
  /** Add a model by URL: read its layout and check this device (no weights), then download + load it. */
  inspect = (...a: Args<'inspect'>): Result<'inspect'> => this.call((api) => api.inspect(...a));
  add = (...a: Args<'add'>): Result<'add'> => this.call((api) => api.add(...a));
  listAdded = (): Result<'listAdded'> => this.call((api) => api.listAdded());
  /** Bench only (bench/run.mjs through the page's ?bench=1 hook). */
  benchRawRuns = (...a: Args<'benchRawRuns'>): Result<'benchRawRuns'> => this.call((api) => api.benchRawRuns(...a));
  benchMatmul = (...a: Args<'benchMatmul'>): Result<'benchMatmul'> => this.call((api) => api.benchMatmul(...a));

  /** Test hook: make the worker throw an uncaught error, exactly the path a real crash takes. */
  async crashForTest(): Promise<void> {
    await this.current?.api.crashForTest();
  }

  /** Test hook: terminate the worker from outside (as the OS would), and handle it as a crash. */
  killForTest(): void {
    if (this.current) this.crashed(this.current, 'terminated by a test hook');
  }
}
