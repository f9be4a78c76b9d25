// Before/after of the speed-ups: this checkout's build against another commit's build, both open
// in one browser, measured alternating within the run (npm run bench -- --tuning <commit>).
//   keystroke → pixels: a page of each build, the same prompts in turn;
//   cold start: a fresh context per side and rep; first visit, then the model-in-IndexedDB visit;
//   returning visitor: a fresh on-disk profile per side and rep, RETURN_VISITS visits, the last one counted.
import { FIRST_IMAGE_INIT, keystrokeToPixels, launchProfile, openApp, promptFor } from '../lib/browser.mjs';
import { alternate, pairRatios, summarize } from '../lib/stats.mjs';

async function firstImage(context, url) {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => window.__firstImageAt !== null, null, { timeout: 600_000, polling: 100 });
  const ms = await page.evaluate(() => window.__firstImageAt);
  await page.close();
  return ms;
}

/** Visits in one on-disk profile; the last visit is what a regular user's start looks like. */
export const RETURN_VISITS = 5;

async function returningVisitor(url) {
  const profile = await launchProfile('wasm');
  try {
    await profile.context.addInitScript(FIRST_IMAGE_INIT);
    const visits = [];
    for (let v = 0; v < RETURN_VISITS; v++) visits.push(await firstImage(profile.context, url));
    return visits;
  } finally {
    await profile.close();
  }
}

async function coldPair(browser, url) {
  const context = await browser.newContext();
  await context.addInitScript(FIRST_IMAGE_INIT);
  try {
    const first = await firstImage(context, url);
    const cached = await firstImage(context, url);
    return { first, cached };
  } finally {
    await context.close();
  }
}

export async function run({ browser, before, after, reps, coldReps, log }) {
  const rows = [];
  const context = await browser.newContext();
  try {
    const pages = {
      before: await openApp(context, before.url, { backend: 'wasm' }),
      after: await openApp(context, after.url, { backend: 'wasm' }),
    };
    // Each rep: a new prompt (the text encoder and everything after it run), then the same prompt
    // with a space typed after it (the tokens do not change).
    const typeBoth = async (page, i) => {
      // Both pages share one window: the one behind gets throttled animation frames, which the
      // measurement waits for. Each side is brought to the front before it is measured.
      await page.bringToFront();
      const prompt = promptFor(i, ' k');
      const fresh = await keystrokeToPixels(page, prompt);
      const space = await keystrokeToPixels(page, `${prompt} `);
      return { fresh, space };
    };
    const r = await alternate({ before: (i) => typeBoth(pages.before, i), after: (i) => typeBoth(pages.after, i) }, reps, (i, out) =>
      log(
        `  keystroke rep ${i + 1}/${reps}: before ${out.before[i].fresh.ms.toFixed(0)} / ${out.before[i].space.ms.toFixed(0)} ms, after ${out.after[i].fresh.ms.toFixed(0)} / ${out.after[i].space.ms.toFixed(0)} ms (new prompt / space)`,
      ),
    );
    const measures = [
      ['keystroke → pixels, new prompt', (s) => s.fresh.ms],
      ['worker time per image, new prompt', (s) => s.fresh.workerMs],
      ['keystroke → pixels, a space typed after the prompt (same tokens)', (s) => s.space.ms],
    ];
    for (const [change, pick] of measures) {
      const b = r.before.map(pick);
      const a = r.after.map(pick);
      rows.push({ change, before: summarize(b), after: summarize(a), ratio: summarize(pairRatios(a, b), 3) });
    }
  } finally {
    await context.close();
  }
  // Cold starts take minutes on a busy machine; keep the keystroke rows if one fails.
  const c = await alternate(
    {
      before: () => coldPair(browser, `${before.url}?backend=wasm#seed=3`),
      after: () => coldPair(browser, `${after.url}?backend=wasm#seed=3`),
    },
    coldReps,
    (i, out) =>
      log(
        `  cold rep ${i + 1}/${coldReps}: before ${out.before[i].first.toFixed(0)}/${out.before[i].cached.toFixed(0)} ms, after ${out.after[i].first.toFixed(0)}/${out.after[i].cached.toFixed(0)} ms`,
      ),
  ).catch((err) => {
    rows.push({ change: 'cold start', error: String(err.message ?? err) });
    return null;
  });
  for (const k of c ? ['first', 'cached'] : []) {
    const b = c.before.map((x) => x[k]);
    const a = c.after.map((x) => x[k]);
    rows.push({
      change: `cold start to the first image, ${k === 'first' ? 'first visit' : 'model in IndexedDB'}`,
      before: summarize(b, 0),
      after: summarize(a, 0),
      ratio: summarize(pairRatios(a, b), 3),
    });
  }
  const rv = await alternate(
    {
      before: () => returningVisitor(`${before.url}?backend=wasm#seed=3`),
      after: () => returningVisitor(`${after.url}?backend=wasm#seed=3`),
    },
    coldReps,
    (i, out) =>
      log(
        `  returning visitor rep ${i + 1}/${coldReps}: before ${out.before[i].map(Math.round).join(' → ')} ms, after ${out.after[i].map(Math.round).join(' → ')} ms`,
      ),
  ).catch((err) => {
    rows.push({ change: 'returning visitor', error: String(err.message ?? err) });
    return null;
  });
  if (rv) {
    const b = rv.before.map((v) => v.at(-1));
    const a = rv.after.map((v) => v.at(-1));
    rows.push({
      change: `cold start to the first image, visit ${RETURN_VISITS} of one on-disk browser profile (model in IndexedDB, V8's code cache in use)`,
      before: summarize(b, 0),
      after: summarize(a, 0),
      ratio: summarize(pairRatios(a, b), 3),
    });
  }
  return rows;
}
