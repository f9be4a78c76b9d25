// Explore: frames per second while dragging the seed slider, and the variations grid as one batched
// generate() (count 4: one UNet and one decoder call on a batch of 4) against 4 single calls.
//
// The drag sends input events at 60 Hz for `seconds`, sweeping 0 → 1000 → 0, through the same
// newest-wins queue as a pointer; what is counted is frames painted on the canvas, and the
// interval between one painted frame and the next (median, p95).
import { timedCall } from '../lib/browser.mjs';
import { alternate, pairRatios, summarize } from '../lib/stats.mjs';

function drag(page, seconds) {
  return page.evaluate(
    (seconds) =>
      new Promise((resolve) => {
        const slider = document.getElementById('explore-seed-mix');
        const out = document.getElementById('output');
        document.getElementById('explore-panel').open = true;
        const paints = [];
        const obs = new MutationObserver(() => paints.push(performance.now()));
        obs.observe(out, { attributes: true, attributeFilter: ['data-generation'] });
        const t0 = performance.now();
        let events = 0;
        const timer = setInterval(() => {
          const t = (performance.now() - t0) / 1000;
          if (t >= seconds) {
            clearInterval(timer);
            // The last frame in flight is painted after the drag: wait for it, then stop counting.
            const settle = () => {
              if (document.getElementById('status').dataset.state !== 'ready') return setTimeout(settle, 20);
              obs.disconnect();
              const inDrag = paints.filter((p) => p - t0 <= seconds * 1000);
              resolve({ events, paints: inDrag.map((p) => p - t0), durationMs: seconds * 1000 });
            };
            return settle();
          }
          const phase = (t / seconds) * 2;
          slider.value = String(Math.round(1000 * (phase <= 1 ? phase : 2 - phase)));
          slider.dispatchEvent(new Event('input', { bubbles: true }));
          events += 1;
        }, 1000 / 60);
      }),
    seconds,
  );
}

export async function run({ page, reps, log, seconds = 6 }) {
  const drags = [];
  for (let i = 0; i < Math.max(1, Math.min(reps, 3)); i++) {
    const d = await drag(page, seconds);
    const fps = (d.paints.length * 1000) / d.durationMs;
    log(`  drag ${i + 1}: ${d.paints.length} frames in ${seconds} s (${fps.toFixed(1)}/s) from ${d.events} input events`);
    drags.push({ ...d, fps });
  }
  const intervals = drags.flatMap((d) => d.paints.slice(1).map((p, i) => p - d.paints[i]));
  const gridReps = Math.max(3, Math.min(reps, 9));
  const r = await alternate(
    {
      batched: (i) => timedCall(page, 'student', { prompt: `red apple ${i}`, seed: 900 + i, count: 4 }),
      sequential: async (i) => {
        let ms = 0;
        for (let k = 0; k < 4; k++) ms += (await timedCall(page, 'student', { prompt: `red apple ${i}`, seed: 900 + i + k, count: 1 })).ms;
        return { ms };
      },
    },
    gridReps,
    (i, out) =>
      log(`  grid rep ${i + 1}/${gridReps}: batch of 4 ${out.batched[i].ms.toFixed(0)} ms, 4 × 1 ${out.sequential[i].ms.toFixed(0)} ms`),
  );
  const batched = r.batched.map((x) => x.ms);
  const sequential = r.sequential.map((x) => x.ms);
  return {
    drag: {
      seconds,
      inputHz: 60,
      framesPerSecond: summarize(
        drags.map((d) => d.fps),
        1,
      ),
      frameIntervalMs: summarize(intervals, 0),
    },
    grid: {
      batchedMs: summarize(batched, 0),
      sequentialMs: summarize(sequential, 0),
      // > 1: the batch is faster. The app uses the batch (ui/output-actions.ts) while this holds.
      sequentialOverBatched: summarize(pairRatios(sequential, batched), 2),
    },
  };
}
