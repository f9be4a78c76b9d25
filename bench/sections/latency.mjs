// 1. Keystroke to pixels: a prompt change → the canvas painted with that prompt's image (debounce,
//    worker, transfer, paint, next frame), median and p95; and images/s while someone types.
import { keystrokeToPixels, promptFor } from '../lib/browser.mjs';
import { summarize } from '../lib/stats.mjs';

// A person typing ~8 characters a second (fast, but common); the app shows what it can.
const TYPED = 'a smiling cat with a red hat';
const KEY_INTERVAL_MS = 120;

/** In the page: types TYPED one character per interval and counts the images painted meanwhile. */
function typeSentence(page) {
  return page.evaluate(
    ({ text, every }) =>
      new Promise((resolve) => {
        const input = document.getElementById('prompt');
        const out = document.getElementById('output');
        const status = document.getElementById('status');
        const paints = [];
        const obs = new MutationObserver(() => {
          // steps 0: the keystroke left the token ids as they were, the last image was handed back.
          paints.push({ t: performance.now(), reused: status.dataset.steps === '0' });
          if (out.dataset.prompt === text) {
            obs.disconnect();
            const t1 = performance.now();
            resolve({
              images: paints.length,
              reused: paints.filter((p) => p.reused).length,
              seconds: (t1 - t0) / 1000,
              lastKeyToPixelsMs: t1 - lastKey,
              keys: text.length,
            });
          }
        });
        obs.observe(out, { attributes: true, attributeFilter: ['data-generation'] });
        const t0 = performance.now();
        let lastKey = t0;
        let i = 0;
        const key = () => {
          i += 1;
          input.value = text.slice(0, i);
          lastKey = performance.now();
          input.dispatchEvent(new Event('input', { bubbles: true }));
          if (i < text.length) setTimeout(key, every);
        };
        key();
      }),
    { text: TYPED, every: KEY_INTERVAL_MS },
  );
}

export async function run({ page, reps, log, typing = true }) {
  const loadMs = Number(await page.getAttribute('#status', 'data-load-ms'));
  const samples = [];
  for (let i = 0; i < reps; i++) {
    const s = await keystrokeToPixels(page, promptFor(i, ' ·'));
    samples.push(s);
    log(`  keystroke→pixels ${i + 1}/${reps}: ${s.ms.toFixed(0)} ms (worker ${s.workerMs} ms ${JSON.stringify(s.stages)})`);
  }
  const result = {
    backend: await page.getAttribute('#status', 'data-backend'),
    loadMs,
    keystrokeToPixelsMs: summarize(samples.map((s) => s.ms)),
    keystrokeToCanvasMs: summarize(samples.map((s) => s.painted)),
    workerMs: summarize(samples.map((s) => s.workerMs)),
    stagesMs: Object.fromEntries(['encode', 'denoise', 'decode'].map((k) => [k, summarize(samples.map((s) => s.stages[k]))])),
  };
  if (typing) {
    const t = await typeSentence(page);
    result.asYouType = {
      keyIntervalMs: KEY_INTERVAL_MS,
      keys: t.keys,
      images: t.images,
      reused: t.reused,
      imagesPerSecond: Number((t.images / t.seconds).toFixed(2)),
      computedPerSecond: Number(((t.images - t.reused) / t.seconds).toFixed(2)),
      lastKeyToPixelsMs: Math.round(t.lastKeyToPixelsMs),
    };
    log(`  as you type: ${t.images} images (${t.reused} reused) for ${t.keys} keys in ${t.seconds.toFixed(1)} s`);
  }
  return result;
}
