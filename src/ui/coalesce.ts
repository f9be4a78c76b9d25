/**
 * "Newest prompt wins" scheduling for generate-as-you-type.
 *
 * At most one job runs and at most one waits. A submit while busy replaces the waiting job, so
 * fast typing never builds a backlog of stale prompts: when the running job finishes, only the
 * newest request runs next. Results of the running job are still delivered (they are at most one
 * keystroke old and give feedback while typing).
 */
export interface Coalescer<T> {
  submit(request: T): void;
  /** Resolves when nothing is running or waiting (for tests and for "done" states). */
  idle(): Promise<void>;
  readonly busy: boolean;
}

export function createCoalescer<T, R>(
  run: (request: T) => Promise<R>,
  onResult: (request: T, result: R) => void,
  onError: (request: T, error: unknown) => void,
): Coalescer<T> {
  let pumping = false; // the loop below is active (guards against a second loop)
  let inFlight = false; // a job is running right now
  let pending: { request: T } | null = null;
  let waiters: (() => void)[] = [];

  const pump = async () => {
    pumping = true;
    while (pending) {
      const { request } = pending;
      pending = null;
      inFlight = true;
      let outcome: { ok: true; value: R } | { ok: false; error: unknown };
      try {
        outcome = { ok: true, value: await run(request) };
      } catch (error) {
        outcome = { ok: false, error };
      }
      // Not busy while delivering unless newer work waits, so onResult can show "ready".
      inFlight = false;
      if (outcome.ok) onResult(request, outcome.value);
      else onError(request, outcome.error);
    }
    pumping = false;
    const w = waiters;
    waiters = [];
    w.forEach((resolve) => resolve());
  };

  return {
    submit(request: T) {
      pending = { request };
      if (!pumping) void pump();
    },
    idle() {
      if (!pumping && !pending) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    get busy() {
      return inFlight || pending !== null;
    },
  };
}
