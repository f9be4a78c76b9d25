// 4. Overhead: the app's time per image (UI-thread call → worker → pixels painted) against the sum
//    of the raw session.run times for the same prompt and seed (workers/bench-hooks.ts), pairs
//    alternating. Also returns the raw per-stage medians for the "against the limit" section.
import { promptFor, rawRuns, timedCall } from '../lib/browser.mjs';
import { alternate, pairRatios, summarize } from '../lib/stats.mjs';

export async function run({ page, reps, log }) {
  const r = await alternate(
    {
      app: (i) => timedCall(page, 'student', { prompt: promptFor(i, ' o'), seed: 500 + i, count: 1 }),
      raw: (i) => rawRuns(page, promptFor(i, ' o'), 500 + i),
    },
    reps,
    (i, out) => log(`  rep ${i + 1}/${reps}: app ${out.app[i].ms.toFixed(0)} ms, raw runs ${out.raw[i].total.toFixed(0)} ms`),
  );
  const app = r.app.map((x) => x.ms);
  const raw = r.raw.map((x) => x.total);
  return {
    appMs: summarize(app),
    appWorkerMs: summarize(r.app.map((x) => x.workerMs)),
    rawRunsMs: summarize(raw),
    rawStagesMs: Object.fromEntries(['encode', 'denoise', 'decode'].map((k) => [k, summarize(r.raw.map((x) => x[k]))])),
    ratio: summarize(pairRatios(app, raw), 3),
    workerRatio: summarize(
      pairRatios(
        r.app.map((x) => x.workerMs),
        raw,
      ),
      3,
    ),
  };
}
