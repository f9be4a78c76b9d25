/**
 * Where a model load spends its time: named spans, listed as they end (they may overlap: files
 * are read while the runtime starts and while sessions are created). The cold-start bench
 * prints them (bench/sections/cold-start.mjs), so a start-up change is judged by the phase it moves.
 */
import type { LoadPhase } from '../../src/shared/types';

export class LoadPhases {
  readonly list: LoadPhase[] = [];
  /** When the load began: each phase's `at` counts from here, so overlaps can be read off. */
  private readonly origin = performance.now();

  /** Runs `job` and records its wall time under `name` (also when it throws: the time was spent). */
  async time<T>(name: string, job: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await job();
    } finally {
      this.list.push({ name, ms: Math.round(performance.now() - t0), at: Math.round(t0 - this.origin) });
    }
  }
}
