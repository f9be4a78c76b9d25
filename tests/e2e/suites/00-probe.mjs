// The environment probe, run before every other suite: what this machine's Chromium gives the
// tests (its version, whether traces carry thread CPU time, a WebGPU adapter, cross-origin
// isolation), printed as one line, so a platform difference shows in the log as itself and not as
// a cascade of failures further on. It fails only where a later suite could not run at all.
import { chromium } from 'playwright-core';
import { assert, runAll, test } from '../harness.mjs';
import { baseArgs, executablePath } from '../lib/app-page.mjs';
import { clockOf, traceUiThread } from '../lib/ui-thread.mjs';

export const name = 'environment probe';
export const envFlag = 'E2E_PROBE';

export async function run({ baseUrl, timings }) {
  // --enable-unsafe-webgpu as the WebGPU suite launches: does this build offer it an adapter?
  const browser = await chromium.launch({ executablePath, args: [...baseArgs, '--enable-unsafe-webgpu'] });
  const page = await browser.newPage();
  test(
    'the e2e environment probe: Chromium, trace clocks, WebGPU adapter, cross-origin isolation',
    async () => {
      // The app's own page: its headers decide crossOriginIsolated. The shell is enough (no model wait).
      await page.goto(`${baseUrl}?backend=wasm`);
      const ui = await traceUiThread(browser, page);
      await page.evaluate(() => {
        const end = performance.now() + 60;
        while (performance.now() < end);
      });
      const tasks = await ui.stop();
      const gpu = await page.evaluate(async () => {
        if (!('gpu' in navigator)) return 'no navigator.gpu';
        const adapter = await navigator.gpu.requestAdapter().catch(() => null);
        if (!adapter) return 'no adapter';
        const info = adapter.info ?? {};
        return (
          `${info.vendor || '?'} ${info.architecture || ''} ${info.description || ''}`.replace(/\s+/g, ' ').trim() +
          (adapter.features.has('shader-f16') ? ', shader-f16' : ', no shader-f16')
        );
      });
      const probe = {
        chromium: browser.version(),
        traceClock: clockOf(tasks),
        webgpuAdapter: gpu,
        crossOriginIsolated: await page.evaluate(() => crossOriginIsolated),
        cores: await page.evaluate(() => navigator.hardwareConcurrency),
      };
      timings.probe = probe;
      console.log(`e2e probe: ${JSON.stringify(probe)}`);
      // What every later suite relies on; the rest (thread CPU time, an adapter) only changes how they measure.
      assert(probe.crossOriginIsolated, 'the served app is cross-origin isolated (COOP/COEP), which WASM threads need');
    },
    { timeoutMs: 120_000 },
  );
  const result = await runAll();
  await browser.close();
  return result;
}
