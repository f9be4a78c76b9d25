// 6. Memory after load and after N generations (default 1,000): the page's JS heap, what
//    measureUserAgentSpecificMemory attributes to the page and its workers (JS + WASM memory), and
//    PSS/RSS of every Chromium process (/proc). Generations alternate new prompts and new seeds.
import { openApp, pageMemory } from '../lib/browser.mjs';
import { browserMemory } from '../lib/process-memory.mjs';

export async function run({ browser, baseUrl, backend, gens, log }) {
  const context = await browser.newContext();
  try {
    const page = await openApp(context, baseUrl, { backend });
    const afterLoad = { page: await pageMemory(page), processes: browserMemory() };
    log(`  after load: ${JSON.stringify(afterLoad.page.userAgentMiB)} MiB (page+workers), PSS ${afterLoad.processes.pssMiB} MiB`);
    const started = Date.now();
    const done = await page.evaluate(async (gens) => {
      const { generator } = window.__onestepBench;
      for (let i = 0; i < gens; i++) {
        // Every 4th image a new prompt (the encoder runs), otherwise a new seed (it is skipped).
        const r = await generator.generate({ prompt: `memory test ${Math.floor(i / 4)}`, seed: i, count: 1 });
        if (r.images.length !== 1) throw new Error('no image');
      }
      return gens;
    }, gens);
    const afterGens = { page: await pageMemory(page), processes: browserMemory() };
    log(
      `  after ${done} generations (${((Date.now() - started) / 1000).toFixed(0)} s): ${afterGens.page.userAgentMiB} MiB, PSS ${afterGens.processes.pssMiB} MiB`,
    );
    return { generations: done, seconds: Math.round((Date.now() - started) / 1000), afterLoad, afterGens };
  } finally {
    await context.close();
  }
}
