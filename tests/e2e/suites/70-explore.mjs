// Explore, on WASM in real Chromium on the built app: dragging the seed slider paints a sequence of
// distinct images that change gradually (neighbours differ less than two seeds' images do), with
// the UI thread free; its far end is the target seed's own image, bit for bit; the arrow keys
// move it; a share link with an explore point repaints the same pixels in a new tab; the morph
// plays from one prompt to the other and ends on the other prompt's own image; a bad target seed
// is refused with the rule.
import { chromium } from 'playwright-core';
import { assert, runAll, test } from '../harness.mjs';
import {
  SEED,
  baseArgs,
  canvasStats,
  executablePath,
  generation,
  setSlider,
  typeAndWait,
  waitPainted,
  waitReady,
} from '../lib/app-page.mjs';
import { barText, summarize, traceUiThread } from '../lib/ui-thread.mjs';

export const name = 'explore';
export const envFlag = 'E2E_EXPLORE';

const TO_SEED = SEED + 777;

/** Records every painted frame in the page (pixels and explore point), from now on. */
function recordFrames(page) {
  return page.evaluate(() => {
    const c = document.getElementById('output');
    window.__frames = [];
    window.__frameObserver?.disconnect();
    window.__frameObserver = new MutationObserver(() => {
      const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data.slice();
      window.__frames.push({ explore: c.dataset.explore ?? null, px });
    });
    window.__frameObserver.observe(c, { attributes: true, attributeFilter: ['data-generation'] });
  });
}

/** The frames recorded: their explore points, and the mean |Δ| (0…255) between consecutive distinct frames. */
function framesSummary(page) {
  return page.evaluate(() => {
    const diff = (a, b) => {
      let s = 0;
      for (let i = 0; i < a.length; i++) if (i % 4 !== 3) s += Math.abs(a[i] - b[i]);
      return s / ((a.length / 4) * 3);
    };
    const frames = window.__frames;
    const distinct = frames.filter((f, i) => i === 0 || diff(f.px, frames[i - 1].px) > 0);
    const steps = distinct.slice(1).map((f, i) => diff(f.px, distinct[i].px));
    return { points: frames.map((f) => f.explore), distinct: distinct.length, steps };
  });
}

/** Mean |Δ| (0…255) between the canvas now and RGBA bytes taken before. */
function diffFromCanvas(page, px) {
  return page.evaluate((px) => {
    const c = document.getElementById('output');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let s = 0;
    for (let i = 0; i < d.length; i++) if (i % 4 !== 3) s += Math.abs(d[i] - px[i]);
    return s / ((d.length / 4) * 3);
  }, px);
}

const pixels = (page) =>
  page.evaluate(() => Array.from(document.getElementById('output').getContext('2d').getImageData(0, 0, 128, 128).data));

export async function run({ baseUrl, timings }) {
  const browser = await chromium.launch({ executablePath, args: baseArgs }); // WASM
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const LOADED = 'the app loads with the explore panel, the target seed defaulting to the next seed';

  test(
    LOADED,
    async () => {
      await page.goto(`${baseUrl}#prompt=${encodeURIComponent('red apple')}&seed=${SEED}`);
      await waitReady(page, { teacher: false });
      await page.waitForFunction(() => Number(document.getElementById('output').dataset.generation ?? 0) > 0, null, { timeout: 120_000 });
      assert((await page.inputValue('#explore-to-seed')) === String(SEED + 1), `target seed ${await page.inputValue('#explore-to-seed')}`);
      await page.click('#explore-panel summary');
      await page.fill('#explore-to-seed', String(TO_SEED));
    },
    { timeoutMs: 320_000 },
  );

  test(
    'the seed slider ends on the target seed’s own image, bit for bit',
    async () => {
      const start = await pixels(page);
      await setSlider(page, 'explore-seed-mix', 1000);
      const end = await pixels(page);
      await setSlider(page, 'explore-seed-mix', 0);
      assert((await diffFromCanvas(page, start)) === 0, 'back at 0 is the start image');
      const before = await generation(page);
      await page.fill('#seed', String(TO_SEED));
      await waitPainted(page, before);
      const d = await diffFromCanvas(page, end);
      assert(d === 0, `position 1 equals seed ${TO_SEED}'s image (mean |Δ| ${d})`);
      const back = await generation(page);
      await page.fill('#seed', String(SEED));
      await waitPainted(page, back);
    },
    { needs: [LOADED] },
  );

  test(
    'dragging the seed slider paints distinct images, each close to the last, with the UI thread free',
    async () => {
      await page.locator('#explore-seed-mix').scrollIntoViewIfNeeded();
      const box = await page.locator('#explore-seed-mix').boundingBox();
      const y = box.y + box.height / 2;
      // The baseline: how much two seeds' images differ (the two ends of this slider).
      await setSlider(page, 'explore-seed-mix', 0);
      const start = await pixels(page);
      await setSlider(page, 'explore-seed-mix', 1000);
      const randomPair = await diffFromCanvas(page, start);
      await setSlider(page, 'explore-seed-mix', 0);
      await recordFrames(page);
      const ui = await traceUiThread(browser, page);
      const t0 = Date.now();
      await page.mouse.move(box.x + 2, y);
      await page.mouse.down();
      for (let i = 1; i <= 40; i++) {
        await page.mouse.move(box.x + 2 + ((box.width - 4) * i) / 40, y);
        await page.waitForTimeout(40);
      }
      await page.mouse.up();
      await page.waitForFunction(() => document.getElementById('status').dataset.state === 'ready', null, { timeout: 60_000 });
      const dragMs = Date.now() - t0;
      const tasks = summarize(await ui.stop());
      const f = await framesSummary(page);
      const sorted = [...f.steps].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)];
      const fps = (f.points.length * 1000) / dragMs;
      timings.exploreDrag = { frames: f.points.length, distinct: f.distinct, fps: Number(fps.toFixed(1)), medianStep: median, randomPair };
      console.log(
        `    ${f.points.length} frames in ${dragMs} ms (${fps.toFixed(1)}/s), ${f.distinct} distinct; neighbour mean |Δ| median ${median?.toFixed(2)}, two seeds ${randomPair.toFixed(2)}`,
      );
      assert(f.distinct >= 4, `at least 4 distinct images while dragging (${f.distinct})`);
      assert(median < randomPair, `neighbours differ less (${median?.toFixed(2)}) than two seeds' images do (${randomPair.toFixed(2)})`);
      const last = JSON.parse(f.points.at(-1) ?? '{}');
      assert(last.seedMix === 1 && last.toSeed === TO_SEED, `the drag ended at the far end: ${f.points.at(-1)}`);
      assert(
        tasks.long.length === 0,
        `no task over ${barText(tasks.clock)} on the UI thread while dragging: ${JSON.stringify(tasks.long)}`,
      );
    },
    { needs: [LOADED], timeoutMs: 180_000 },
  );

  test(
    'the arrow keys move the slider by 1 % and paint',
    async () => {
      await setSlider(page, 'explore-seed-mix', 500);
      const before = await generation(page);
      await page.focus('#explore-seed-mix');
      await page.keyboard.press('ArrowRight');
      await waitPainted(page, before);
      const point = JSON.parse((await page.getAttribute('#output', 'data-explore')) ?? '{}');
      assert(point.seedMix === 0.51, `ArrowRight from 0.5 paints 0.51: ${JSON.stringify(point)}`);
    },
    { needs: [LOADED] },
  );

  test(
    'a share link with an explore point repaints the same pixels in a new tab',
    async () => {
      await setSlider(page, 'explore-seed-mix', 300);
      await page.fill('#explore-to-prompt', 'rocket');
      await setSlider(page, 'explore-prompt-mix', 500);
      const url = page.url();
      assert(/toseed=/.test(url) && /seedmix=0.3/.test(url) && /toprompt=rocket/.test(url) && /promptmix=0.5/.test(url), `link: ${url}`);
      const here = await canvasStats(page);
      const other = await context.newPage();
      try {
        await other.goto(url);
        await waitReady(other, { teacher: false });
        await other.waitForFunction(() => document.getElementById('output').dataset.explore !== undefined, null, { timeout: 120_000 });
        await other.waitForFunction(() => document.getElementById('status').dataset.state === 'ready', null, { timeout: 60_000 });
        const there = await canvasStats(other);
        assert(there.hash === here.hash, `same pixels from the link (${here.hash} vs ${there.hash})`);
        assert(await other.evaluate(() => document.getElementById('explore-panel').open), 'the panel opens on a link with a point');
        assert((await other.inputValue('#explore-prompt-mix')) === '500', 'the slider shows the link position');
      } finally {
        await other.close();
      }
    },
    { needs: [LOADED], timeoutMs: 240_000 },
  );

  test(
    'morph plays from the prompt to the target prompt and ends on that prompt’s own image',
    async () => {
      await page.click('#explore-reset');
      await page.waitForFunction(() => document.getElementById('output').dataset.explore === undefined, null, { timeout: 60_000 });
      await recordFrames(page);
      await page.click('#explore-morph');
      await page.waitForFunction(() => !document.getElementById('explore-morph').disabled, null, { timeout: 120_000 });
      await page.waitForFunction(() => document.getElementById('status').dataset.state === 'ready', null, { timeout: 60_000 });
      const f = await framesSummary(page);
      const mixes = f.points.map((p) => (p ? JSON.parse(p).promptMix : 0));
      assert(f.points.length >= 21, `21 frames painted (${f.points.length})`);
      assert(mixes.at(-1) === 1 && mixes.every((m, i) => i === 0 || m >= mixes[i - 1]), `positions rise to 1: ${mixes.join(' ')}`);
      const morphEnd = await canvasStats(page);
      await page.click('#explore-reset');
      await page.waitForFunction(() => document.getElementById('output').dataset.explore === undefined, null, { timeout: 60_000 });
      const rocket = await typeAndWait(page, 'rocket');
      assert(rocket.hash === morphEnd.hash, `the morph's last frame is the target prompt's image (${morphEnd.hash} vs ${rocket.hash})`);
    },
    { needs: [LOADED], timeoutMs: 240_000 },
  );

  test(
    'a target seed that breaks the seed rule is refused with the rule',
    async () => {
      await page.fill('#explore-to-seed', '-5');
      const hint = await page.textContent('#explore-hint');
      assert(!(await page.isHidden('#explore-hint')) && /whole number/.test(hint ?? ''), `hint: "${hint}"`);
      assert((await page.getAttribute('#explore-to-seed', 'aria-invalid')) === 'true', 'the box is marked invalid');
    },
    { needs: [LOADED] },
  );

  test('the page has no console errors', async () => {
    const real = consoleErrors.filter((e) => !/favicon/.test(e));
    assert(real.length === 0, `console errors: ${real.join(' | ')}`);
  });

  const result = await runAll();
  await browser.close();
  return result;
}
