// What every e2e suite uses to drive the app: the browser binary and flags, pixel statistics of a
// canvas, "type and wait for the image", "wait until the model is loaded".
import { assert } from '../harness.mjs';

export const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const baseArgs = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const MODEL_FILE = /\/models\/[^/]+\/.+\.(onnx|pack|json)$/;
export const isModelFile = (url) => MODEL_FILE.test(new URL(url).pathname) && !/manifest\.json$|index\.json$/.test(url);
export const SEED = 12345;

/** Pixel statistics of a canvas, computed in the page (exact bytes, no PNG round trip). */
export function canvasStats(page, id = 'output') {
  return page.evaluate((id) => {
    const c = document.getElementById(id);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let h = 0x811c9dc5;
    let sum = 0;
    let sq = 0;
    const n = d.length / 4;
    for (let i = 0; i < d.length; i++) {
      h = Math.imul(h ^ d[i], 16777619) >>> 0;
      if (i % 4 !== 3) {
        sum += d[i];
        sq += d[i] * d[i];
      }
    }
    const mean = sum / (3 * n);
    return { hash: h.toString(16), mean, std: Math.sqrt(sq / (3 * n) - mean * mean), width: c.width, height: c.height };
  }, id);
}

/** Types `prompt` (replacing the field) and waits until the canvas shows an image for it. */
export async function typeAndWait(page, prompt, { timeout = 120_000 } = {}) {
  const before = Number((await page.getAttribute('#output', 'data-generation')) ?? 0);
  await page.fill('#prompt', prompt);
  await page.waitForFunction(
    ({ prompt, before }) => {
      const c = document.getElementById('output');
      const s = document.getElementById('status');
      return (
        (c.dataset.prompt === prompt && Number(c.dataset.generation ?? 0) > before && s.dataset.state === 'ready') ||
        s.dataset.state === 'error'
      );
    },
    { prompt, before },
    { timeout, polling: 100 },
  );
  const state = await page.getAttribute('#status', 'data-state');
  assert(state !== 'error', `status is an error: ${await page.textContent('#status')}`);
  return canvasStats(page);
}

/**
 * Waits until load() resolved (data-load-ms; the first image may still be on its way). With
 * `teacher` (the default) also until the teacher's file, fetched in the background after the first
 * image, has settled (data-teacher none | ready | failed): tests that count requests across
 * reloads or go offline need that. `teacher: false` returns as soon as the model is loaded.
 */
export async function waitReady(page, { timeout = 300_000, teacher = true } = {}) {
  await page.waitForFunction(
    (teacher) => {
      const s = document.getElementById('status');
      if (s.dataset.state === 'error') return true;
      return s.dataset.loadMs !== undefined && (!teacher || (s.dataset.teacher !== undefined && s.dataset.teacher !== 'loading'));
    },
    teacher,
    { timeout, polling: 200 },
  );
  const state = await page.getAttribute('#status', 'data-state');
  assert(state !== 'error', `app did not load: ${await page.textContent('#status')}`);
}

export async function fileSources(page) {
  return page.$$eval('#files li', (lis) => Object.fromEntries(lis.map((li) => [li.dataset.file, li.dataset.source])));
}

/** The exact RGBA bytes of a canvas, for pixel-level comparisons. */
export function canvasPixels(page, id = 'output') {
  return page.evaluate((id) => {
    const c = document.getElementById(id);
    return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
  }, id);
}

export const generation = async (page) => Number((await page.getAttribute('#output', 'data-generation')) ?? 0);

/** Waits until the canvas shows an image newer than generation `before` and the page is ready again. */
export async function waitPainted(page, before) {
  await page.waitForFunction(
    (before) =>
      Number(document.getElementById('output').dataset.generation ?? 0) > before &&
      document.getElementById('status').dataset.state === 'ready',
    before,
    { timeout: 120_000, polling: 100 },
  );
}

/** Sets a slider as a drag would end on it (value, then the input event), and waits for its image. */
export async function setSlider(page, id, value) {
  const before = await generation(page);
  await page.evaluate(
    ({ id, value }) => {
      const s = document.getElementById(id);
      s.value = String(value);
      s.dispatchEvent(new Event('input', { bubbles: true }));
    },
    { id, value },
  );
  await waitPainted(page, before);
}
