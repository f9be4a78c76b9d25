/**
 * When a crashed worker is restarted (pure, unit-tested): always, unless it already crashed
 * `limit.crashes` times within `limit.withinMs` — then something is wrong that a restart will not
 * fix (a model that always runs out of memory), and looping would only burn the battery.
 */
export function shouldRestart(crashTimes: readonly number[], now: number, limit: { crashes: number; withinMs: number }): boolean {
  return crashTimes.filter((t) => now - t < limit.withinMs).length < limit.crashes;
}
