/**
 * Where a model load spends its time: named spans in the order they ran (files read from
 * IndexedDB or the network, the runtime's start, each session's creation). The cold-start bench
 * prints them (bench/sections/cold-start.mjs), so a start-up change is judged by the phase it moves.
 */
export interface LoadPhase {
  name: string;
  ms: number;
}

export class LoadPhases {
  readonly list: LoadPhase[] = [];

  /** Runs `job` and records its wall time under `name` (also when it throws: the time was spent). */
  async time<T>(name: string, job: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await job();
    } finally {
      this.list.push({ name, ms: Math.round(performance.now() - t0) });
    }
  }
}
