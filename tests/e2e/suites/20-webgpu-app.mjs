// The app on WebGPU through SwiftShader (Chromium's CPU implementation of WebGPU): correct but
// ~1–2 min per image here, so this suite makes few images and checks what depends on the backend:
// painting, prompt effect, determinism (issue 3), agreement with WASM, the UI thread staying free. Storage and input handling are
// backend-independent and live in the WASM suite.
import { chromium } from 'playwright-core';
import { assert, runAll, test } from '../harness.mjs';
import { baseArgs, canvasPixels, canvasStats, executablePath, typeAndWait, waitReady } from '../lib/app-page.mjs';
import { barText, summarize, traceUiThread } from '../lib/ui-thread.mjs';

export const name = 'WebGPU on SwiftShader';
export const envFlag = 'E2E_WEBGPU';

function pixelDiff(a, b) {
  let max = 0;
  let nDiff = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    if (i % 4 === 3) continue;
    const d = Math.abs(a[i] - b[i]);
    if (d > 0) nDiff++;
    sum += d;
    max = Math.max(max, d);
  }
  return { max, nDiff, mean: sum / (a.length * 0.75) };
}

export async function run({ baseUrl, timings }) {
  const browser = await chromium.launch({ executablePath, args: [...baseArgs, '--enable-unsafe-webgpu'] });
  const context = await browser.newContext();
  const page = await context.newPage();
  const slow = { timeout: 420_000 };
  const shots = {};
  const FIRST = 'WebGPU (SwiftShader): status says WebGPU and a prompt paints an image';
  let uiWhilePainting = null; // judged in the next test: a slow task fails that check alone
  test(
    FIRST,
    async () => {
      await page.goto(`${baseUrl}?backend=webgpu#prompt=red%20apple&seed=7`);
      // Not waiting for the teacher (fetched after the first image): the traced window below must cover that image.
      await waitReady(page, { teacher: false });
      assert((await page.getAttribute('#status', 'data-backend')) === 'webgpu', 'backend is webgpu');
      assert(/WebGPU/.test(await page.textContent('#status')), 'status says WebGPU');
      const ui = await traceUiThread(browser, page);
      await page.waitForFunction(
        () =>
          document.getElementById('output').dataset.prompt === 'red apple' && document.getElementById('status').dataset.state === 'ready',
        null,
        { ...slow, polling: 200 },
      );
      // Stopped before the pixels are read: that read is this test's own work on the UI thread
      // (64 K numbers serialised for the driver), which the trace counted as the app's (42–56 ms).
      uiWhilePainting = summarize(await ui.stop());
      shots.apple = await canvasStats(page);
      shots.applePixels = await canvasPixels(page);
      assert(shots.apple.std > 8, `WebGPU image not blank (std ${shots.apple.std.toFixed(1)})`);
      timings.webgpuMsPerImage = Number(await page.getAttribute('#status', 'data-ms'));
    },
    { timeoutMs: 600_000 },
  );
  test(
    'WebGPU: painting that image left the UI thread free',
    async () => {
      const { long, longestByClock, clock } = uiWhilePainting;
      console.log(`    UI thread judged by ${clock}`);
      timings.webgpuUiLongestTask = longestByClock;
      assert(long.length === 0, `no task over ${barText(clock)} on the UI thread while generating on WebGPU: ${JSON.stringify(long)}`);
    },
    { needs: [FIRST] },
  );
  test(
    'WebGPU: another prompt gives another image',
    async () => {
      shots.rocket = await typeAndWait(page, 'rocket', slow);
      assert(shots.rocket.hash !== shots.apple.hash, 'different prompts, different images');
    },
    { timeoutMs: 480_000, needs: [FIRST] },
  );
  // Issue 3: the same prompt + seed must give the same pixels, bit for bit, on WebGPU too. With
  // ORT's default channels-last (NHWC) WebGPU kernels two outcomes alternated on SwiftShader
  // (hashes 914bd202 / 333e1b5a, mean |Δ| vs WASM 3.0 and 12.0 /255); the sessions now ask for
  // preferredLayout NCHW (workers/runtime/session.ts). "rocket" in between forces the text
  // encoder to run again; the seed 8 → 7 round trip reuses the cached embedding.
  const seedAndWait = async (seed) => {
    const before = Number((await page.getAttribute('#output', 'data-generation')) ?? 0);
    await page.fill('#seed', String(seed));
    await page.waitForFunction(
      ({ seed, before }) => {
        const c = document.getElementById('output');
        const s = document.getElementById('status');
        return (
          (c.dataset.seed === String(seed) && Number(c.dataset.generation ?? 0) > before && s.dataset.state === 'ready') ||
          s.dataset.state === 'error'
        );
      },
      { seed, before },
      { ...slow, polling: 200 },
    );
    assert((await page.getAttribute('#status', 'data-state')) !== 'error', `status is an error: ${await page.textContent('#status')}`);
    return canvasStats(page);
  };
  const assertSameAsFirst = async (again) => {
    const d = pixelDiff(await canvasPixels(page), shots.applePixels);
    assert(
      again.hash === shots.apple.hash,
      `same prompt and seed, same pixels (${again.hash} vs ${shots.apple.hash}; ${d.nDiff} bytes differ, max ${d.max}, mean ${d.mean.toFixed(2)})`,
    );
  };
  test(
    'WebGPU: the same prompt and seed give the same pixels again (text encoder rerun)',
    async () => {
      await assertSameAsFirst(await typeAndWait(page, 'red apple', slow));
    },
    { timeoutMs: 480_000, needs: [FIRST] },
  );
  test(
    'WebGPU: and again after another seed (cached embedding, fourth image)',
    async () => {
      const other = await seedAndWait(8);
      assert(other.hash !== shots.apple.hash, 'seed 8 differs from seed 7');
      await assertSameAsFirst(await seedAndWait(7));
    },
    { timeoutMs: 900_000, needs: [FIRST] },
  );
  test(
    'WebGPU: the image matches WASM within rounding (mean |Δ| < 1/255)',
    async () => {
      const wasmPage = await context.newPage();
      await wasmPage.goto(`${baseUrl}?backend=wasm#prompt=red%20apple&seed=7`);
      await waitReady(wasmPage);
      await wasmPage.waitForFunction(
        () =>
          document.getElementById('output').dataset.prompt === 'red apple' && document.getElementById('status').dataset.state === 'ready',
        null,
        { timeout: 120_000, polling: 200 },
      );
      const d = pixelDiff(await canvasPixels(wasmPage), shots.applePixels);
      await wasmPage.close();
      timings.webgpuVsWasm = { meanAbs: Number(d.mean.toFixed(3)), max: d.max, bytesDiffer: d.nDiff, webgpuHash: shots.apple.hash };
      assert(d.mean < 1, `WebGPU vs WASM mean |Δ| ${d.mean.toFixed(3)} (max ${d.max}) below 1/255`);
    },
    { timeoutMs: 300_000, needs: [FIRST] },
  );
  const result = await runAll();
  await browser.close();
  return result;
}
