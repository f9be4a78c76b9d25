// Browser launch modes for the benchmarks and the page-side helpers they run.
//   wasm        no WebGPU adapter offered: the app's WASM path (threads, COOP/COEP)
//   swiftshader --enable-unsafe-webgpu on a machine without a GPU: WebGPU emulated on the CPU
//   gpu         real-hardware WebGPU through Chromium's Vulkan backend (bench/gpu.sh)
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { baseArgs, executablePath } from '../../tests/e2e/lib/app-page.mjs';

// Makes performance.measureUserAgentSpecificMemory() answer at once instead of at the next GC.
const memoryArgs = ['--enable-blink-features=ForceEagerMeasureMemory'];

export const MODES = {
  wasm: { args: [], backend: 'wasm', label: 'WASM (CPU)' },
  swiftshader: { args: ['--enable-unsafe-webgpu'], backend: 'webgpu', label: 'WebGPU on SwiftShader (CPU emulation, not a GPU)' },
  gpu: {
    args: [
      '--enable-unsafe-webgpu',
      '--enable-features=Vulkan',
      '--use-angle=vulkan',
      '--use-vulkan=native',
      '--ignore-gpu-blocklist',
      '--disable-vulkan-surface',
    ],
    backend: 'webgpu',
    label: 'WebGPU on the GPU (Vulkan)',
  },
};

// BENCH_CHROMIUM_ARGS: extra switches for a diagnostic run (e.g. V8 flags), space-separated.
const argsFor = (mode) => [
  ...baseArgs,
  ...memoryArgs,
  ...MODES[mode].args,
  ...(process.env.BENCH_CHROMIUM_ARGS ?? '').split(' ').filter(Boolean),
];

export async function launch(mode) {
  const browser = await chromium.launch({ executablePath, args: argsFor(mode) });
  return { browser, version: browser.version(), ...MODES[mode] };
}

/**
 * A browser with a profile on disk, as a returning visitor has one. launch()'s contexts are
 * incognito, where Chromium keeps no compiled-code cache, so only this measures what V8's cache of
 * ORT's compiled WebAssembly does for a return visit. { context, close } (close removes the profile).
 */
export async function launchProfile(mode = 'wasm') {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'onestep-bench-profile-'));
  const context = await chromium.launchPersistentContext(dir, { executablePath, args: argsFor(mode) });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Opens the app in bench mode and waits until the model is loaded, the first image painted, and the
 * teacher's file (fetched in the background after that image) settled, so no measurement shares
 * the CPU with that fetch. (Builds before the background fetch have no data-teacher: no wait.)
 */
export async function openApp(context, baseUrl, { backend, threads, seed = 12345, timeout = 600_000 } = {}) {
  const page = await context.newPage();
  const q = new URLSearchParams({ bench: '1', ...(backend ? { backend } : {}), ...(threads ? { threads: String(threads) } : {}) });
  await page.goto(`${baseUrl}?${q}#seed=${seed}`);
  await page.waitForFunction(
    () => {
      const s = document.getElementById('status');
      const c = document.getElementById('output');
      return (
        (s.dataset.loadMs !== undefined &&
          Number(c.dataset.generation ?? 0) >= 1 &&
          s.dataset.state === 'ready' &&
          s.dataset.teacher !== 'loading') ||
        s.dataset.state === 'error'
      );
    },
    null,
    { timeout, polling: 200 },
  );
  if ((await page.getAttribute('#status', 'data-state')) === 'error') throw new Error(`app failed: ${await page.textContent('#status')}`);
  return page;
}

/**
 * In the page: replaces the prompt as a keystroke would (an input event on #prompt) and resolves
 * when the canvas holds that prompt's image, then once more after the next animation frame (the
 * frame that shows it). Includes the app's debounce, the worker and the paint.
 */
export function keystrokeToPixels(page, prompt) {
  return page.evaluate(
    (prompt) =>
      new Promise((resolve) => {
        const input = document.getElementById('prompt');
        const out = document.getElementById('output');
        const status = document.getElementById('status');
        const before = Number(out.dataset.generation ?? 0);
        let t0 = 0;
        const obs = new MutationObserver(() => {
          if (out.dataset.prompt !== prompt || Number(out.dataset.generation) <= before) return;
          obs.disconnect();
          const painted = performance.now() - t0;
          requestAnimationFrame(() =>
            resolve({
              ms: performance.now() - t0,
              painted,
              workerMs: Number(status.dataset.ms),
              stages: JSON.parse(status.dataset.stages ?? '{}'),
            }),
          );
        });
        obs.observe(out, { attributes: true, attributeFilter: ['data-generation'] });
        input.value = prompt;
        t0 = performance.now();
        input.dispatchEvent(new Event('input', { bubbles: true }));
      }),
    prompt,
  );
}

/** In the page: one generate()/generateTeacher() through the worker, painted to `canvasId`; UI-thread wall time. */
export function timedCall(page, kind, req, canvasId = 'output') {
  return page.evaluate(
    async ({ kind, req, canvasId }) => {
      const { generator, paint, modelId } = window.__onestepBench;
      const t0 = performance.now();
      const r = kind === 'teacher' ? await generator.generateTeacher({ modelId: modelId(), ...req }) : await generator.generate(req);
      paint(document.getElementById(canvasId), r.images[0]);
      return { ms: performance.now() - t0, workerMs: r.ms, stages: r.stages, images: r.images.length };
    },
    { kind, req, canvasId },
  );
}

export const rawRuns = (page, prompt, seed) =>
  page.evaluate(({ prompt, seed }) => window.__onestepBench.generator.benchRawRuns(prompt, seed), { prompt, seed });

/** JS heap of the page's main thread plus, where the browser supports it, every worker and WASM memory. */
export function pageMemory(page) {
  return page.evaluate(async () => {
    const heap = performance.memory
      ? { usedMiB: performance.memory.usedJSHeapSize / 2 ** 20, totalMiB: performance.memory.totalJSHeapSize / 2 ** 20 }
      : null;
    let uaMiB = null;
    let breakdown = null;
    if (crossOriginIsolated && performance.measureUserAgentSpecificMemory) {
      const m = await performance.measureUserAgentSpecificMemory();
      uaMiB = m.bytes / 2 ** 20;
      const by = {};
      for (const b of m.breakdown) {
        const where = b.attribution.map((a) => a.scope).join('+') || 'shared';
        const kind = b.types.join('+') || 'other';
        by[`${where}:${kind}`] = (by[`${where}:${kind}`] ?? 0) + b.bytes / 2 ** 20;
      }
      breakdown = Object.fromEntries(Object.entries(by).map(([k, v]) => [k, Number(v.toFixed(1))]));
    }
    return {
      mainHeap: heap && { usedMiB: Number(heap.usedMiB.toFixed(1)), totalMiB: Number(heap.totalMiB.toFixed(1)) },
      userAgentMiB: uaMiB && Number(uaMiB.toFixed(1)),
      breakdown,
    };
  });
}

/** A prompt per repetition, so the text encoder runs each time (as it does on every keystroke). */
const WORDS = [
  'red apple',
  'rocket',
  'smiling cat',
  'blue heart',
  'pizza slice',
  'green tree',
  'sun with face',
  'yellow star',
  'dog face',
  'birthday cake',
];
export const promptFor = (i, salt = '') =>
  `${WORDS[i % WORDS.length]}${salt}${i >= WORDS.length ? ` ${Math.floor(i / WORDS.length)}` : ''}`;

// Runs before any page script: notes the time (ms since navigation start) of the first image.
export const FIRST_IMAGE_INIT = () => {
  window.__firstImageAt = null;
  new MutationObserver((_, obs) => {
    const c = document.getElementById('output');
    if (c && Number(c.dataset.generation ?? 0) >= 1) {
      window.__firstImageAt = performance.now();
      obs.disconnect();
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-generation'] });
};
