// Profile: WASM thread count. Two pages of one browser, one per count (ORT's thread count is fixed
// per worker), keystroke→pixels alternating between them. Used to choose the default.
import { keystrokeToPixels, openApp, promptFor } from '../lib/browser.mjs';
import { alternate, pairRatios, summarize } from '../lib/stats.mjs';

export async function run({ browser, baseUrl, reps, log, counts = [1, 2] }) {
  const context = await browser.newContext();
  try {
    const pages = {};
    for (const n of counts) pages[`t${n}`] = await openApp(context, baseUrl, { backend: 'wasm', threads: n });
    const r = await alternate(
      Object.fromEntries(Object.entries(pages).map(([k, page]) => [k, (i) => keystrokeToPixels(page, promptFor(i, ` ${k}`))])),
      reps,
      (i, out) =>
        log(
          `  rep ${i + 1}/${reps}: ${Object.entries(out)
            .map(([k, v]) => `${k} ${v[i].workerMs} ms`)
            .join(', ')}`,
        ),
    );
    const keys = Object.keys(r);
    return {
      workerMs: Object.fromEntries(keys.map((k) => [k, summarize(r[k].map((s) => s.workerMs))])),
      keystrokeToPixelsMs: Object.fromEntries(keys.map((k) => [k, summarize(r[k].map((s) => s.ms))])),
      ratio:
        keys.length === 2
          ? {
              of: `${keys[0]}/${keys[1]}`,
              ...summarize(
                pairRatios(
                  r[keys[0]].map((s) => s.workerMs),
                  r[keys[1]].map((s) => s.workerMs),
                ),
                3,
              ),
            }
          : null,
    };
  } finally {
    await context.close();
  }
}
