// The app on WebGPU through SwiftShader (Chromium's CPU implementation of WebGPU): correct but
// ~1–2 min per image here, so this suite makes few images and checks what depends on the backend:
// painting, prompt effect, determinism, the UI thread staying free. Storage and input handling are
// backend-independent and live in the WASM suite.
import { chromium } from 'playwright-core';
import { assert, runAll, test } from '../harness.mjs';
import { LONGTASK_INIT, baseArgs, canvasPixels, canvasStats, executablePath, longTasksBetween, typeAndWait, waitReady } from '../lib/app-page.mjs';

export const name = 'WebGPU on SwiftShader';
export const envFlag = 'E2E_WEBGPU';

export async function run({ baseUrl, timings }) {
  const browser = await chromium.launch({ executablePath, args: [...baseArgs, '--enable-unsafe-webgpu'] });
  const context = await browser.newContext();
  await context.addInitScript(LONGTASK_INIT);
  const page = await context.newPage();
  const slow = { timeout: 420_000 };
  const shots = {};
  test('WebGPU (SwiftShader): status says WebGPU and a prompt paints an image, off the UI thread', async () => {
    await page.goto(`${baseUrl}?backend=webgpu#prompt=red%20apple&seed=7`);
    await waitReady(page);
    assert((await page.getAttribute('#status', 'data-backend')) === 'webgpu', 'backend is webgpu');
    assert(/WebGPU/.test(await page.textContent('#status')), 'status says WebGPU');
    const t0 = await page.evaluate(() => performance.now());
    await page.waitForFunction(() => document.getElementById('output').dataset.prompt === 'red apple'
      && document.getElementById('status').dataset.state === 'ready', null, { ...slow, polling: 200 });
    const t1 = await page.evaluate(() => performance.now());
    shots.apple = await canvasStats(page);
    shots.applePixels = await canvasPixels(page);
    assert(shots.apple.std > 8, `WebGPU image not blank (std ${shots.apple.std.toFixed(1)})`);
    const long = await longTasksBetween(page, t0, t1);
    assert(long.length === 0, `no long tasks on the UI thread while generating on WebGPU (${JSON.stringify(long)})`);
    timings.webgpuMsPerImage = Number(await page.getAttribute('#status', 'data-ms'));
  }, { timeoutMs: 600_000 });
  test('WebGPU: another prompt gives another image', async () => {
    shots.rocket = await typeAndWait(page, 'rocket', slow);
    assert(shots.rocket.hash !== shots.apple.hash, 'different prompts, different images');
  }, { timeoutMs: 480_000 });
  // KNOWN BUG (open, issue 3): on WebGPU (SwiftShader) the same prompt + seed does not give the
  // same pixels from one run to the next: two outcomes alternate (hashes 914bd202 / 333e1b5a for
  // "red apple", seed 7), whether or not the text embedding is recomputed. Against WASM one run
  // differed by mean 3.0/255 (max 138), another by mean 12.0 (max 230); WASM is bit-identical run
  // to run. Suspects: order-dependent reductions in ORT's WebGPU kernels amplified ×14.6 by the
  // one-step x0 rule at t = 999, or a buffer-reuse race. Run with E2E_KNOWN_BUGS=1.
  if (process.env.E2E_KNOWN_BUGS === '1') {
    test('WebGPU: the same prompt and seed give the same pixels again', async () => {
      const again = await typeAndWait(page, 'red apple', slow);
      const pixels = await canvasPixels(page);
      let maxDiff = 0;
      let nDiff = 0;
      for (let i = 0; i < pixels.length; i++) {
        const d = Math.abs(pixels[i] - shots.applePixels[i]);
        if (d > 0) nDiff++;
        maxDiff = Math.max(maxDiff, d);
      }
      assert(again.hash === shots.apple.hash, `same prompt and seed, same pixels (${again.hash} vs ${shots.apple.hash}; ${nDiff} bytes differ, max ${maxDiff})`);
    }, { timeoutMs: 480_000 });
  }
  const result = await runAll();
  await browser.close();
  return result;
}
