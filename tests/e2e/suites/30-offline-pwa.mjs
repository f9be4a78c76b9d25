// The installable, offline-first app: manifest and icons, the service worker's "ready to work
// offline", an offline reload that still paints (cross-origin isolated, CSP in force), and a new
// build that shows "update available — reload" and cleans old caches when it takes over.
// Served by its own small server (same headers as vite preview) so the test can swap in a second
// build at the same origin.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { assert, runAll, test } from '../harness.mjs';
import { baseArgs, executablePath, fileSources, isModelFile, typeAndWait, waitReady } from '../lib/app-page.mjs';
import { cacheContents } from '../lib/storage.mjs';
import { headersOf, startTestServer } from '../lib/test-server.mjs';

export const name = 'offline PWA';
export const envFlag = 'E2E_PWA';

const appState = (page) =>
  page.evaluate(() => ({
    state: document.getElementById('app-state').dataset.state ?? null,
    text: document.getElementById('app-state').textContent.trim(),
  }));

export async function run({ baseUrl, root }) {
  const server = await startTestServer({ root: path.join(root, 'dist'), headers: await headersOf(baseUrl) });
  // A persistent profile: Chromium never offers to install an app from an incognito context.
  const profile = mkdtempSync(path.join(os.tmpdir(), 'onestep-pwa-profile-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath, args: baseArgs });
  const page = context.pages()[0] ?? (await context.newPage());
  const url = `${server.url}?backend=wasm`;
  const nextDir = mkdtempSync(path.join(os.tmpdir(), 'onestep-next-build-'));
  let firstBuild = null;

  test(
    'the app is installable: manifest, icons, no installability errors',
    async () => {
      await page.goto(url);
      firstBuild = await page.getAttribute('html', 'data-build');
      const href = await page.getAttribute('link[rel="manifest"]', 'href');
      assert(href, 'a <link rel="manifest">');
      const manifest = await page.evaluate(async (href) => (await fetch(href)).json(), href);
      assert(
        manifest.name === 'Onestep' && manifest.display === 'standalone' && manifest.start_url,
        `manifest fields: ${JSON.stringify(manifest)}`,
      );
      const sizes = manifest.icons.map((i) => i.sizes);
      assert(
        sizes.includes('192x192') && sizes.includes('512x512') && manifest.icons.some((i) => i.purpose === 'maskable'),
        `icons: ${JSON.stringify(manifest.icons)}`,
      );
      for (const icon of manifest.icons) {
        const png = await page.evaluate(async (src) => {
          const b = await (await fetch(src)).blob();
          const bmp = await createImageBitmap(b);
          return { type: b.type, w: bmp.width, h: bmp.height };
        }, icon.src);
        assert(
          png.type === 'image/png' && `${png.w}x${png.h}` === icon.sizes,
          `${icon.src} is a ${icon.sizes} PNG (${JSON.stringify(png)})`,
        );
      }
      await waitReady(page);
      const cdp = await context.newCDPSession(page);
      const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
      console.log(`    installability errors reported by Chromium: ${JSON.stringify(installabilityErrors)}`);
      assert(installabilityErrors.length === 0, `installable: ${JSON.stringify(installabilityErrors)}`);
    },
    { timeoutMs: 320_000 },
  );

  test(
    '"ready to work offline": the shell and ORT wasm are precached, model weights are not',
    async () => {
      await page.waitForFunction(() => document.getElementById('app-state').dataset.state === 'offline-ready', null, { timeout: 120_000 });
      const s = await appState(page);
      assert(/offline/i.test(s.text), `message says offline: "${s.text}"`);
      const caches = await cacheContents(page);
      const all = Object.values(caches).flat();
      assert(
        all.some((p) => p.endsWith('.wasm')),
        `ORT wasm precached: ${JSON.stringify(caches)}`,
      );
      assert(
        all.some((p) => p === '/index.html'),
        'index.html precached',
      );
      assert(
        !all.some((p) => /\.onnx(\.pack)?$/.test(p) || p.includes('/tokenizer/')),
        `no model bytes in Cache Storage: ${JSON.stringify(all)}`,
      );
      assert(await page.evaluate(() => navigator.serviceWorker.controller !== null), 'the page is controlled by the service worker');
    },
    { timeoutMs: 150_000 },
  );

  test(
    'offline reload: page from the service worker, cross-origin isolated, CSP on, paints an image',
    async () => {
      await typeAndWait(page, 'red apple');
      const failed = [];
      page.on('requestfailed', (r) => failed.push(r.url()));
      await context.setOffline(true);
      try {
        assert(await page.evaluate(() => !navigator.onLine), 'navigator.onLine is false');
        const res = await page.reload();
        assert(
          res && res.status() === 200 && res.fromServiceWorker(),
          `navigation answered by the service worker (status ${res?.status()}, fromServiceWorker ${res?.fromServiceWorker()})`,
        );
        const headers = res.headers();
        assert(
          /script-src 'self' 'wasm-unsafe-eval'/.test(headers['content-security-policy'] ?? ''),
          `CSP header on the offline page: ${headers['content-security-policy']}`,
        );
        await waitReady(page);
        assert(await page.evaluate(() => crossOriginIsolated), 'crossOriginIsolated offline');
        const sources = await fileSources(page);
        assert(
          Object.values(sources).every((s) => s === 'cache'),
          `model from IndexedDB: ${JSON.stringify(sources)}`,
        );
        const s = await typeAndWait(page, 'rocket');
        assert(s.std > 8, `offline image has structure (std ${s.std.toFixed(1)})`);
        assert(/WASM \(\d threads?\)/.test(await page.textContent('#status')), 'status names the backend');
        const threads = Number(/WASM \((\d) thread/.exec(await page.textContent('#status'))?.[1]);
        assert(threads > 1, `multi-threaded WASM offline (${threads} threads)`);
        assert(!failed.some((u) => isModelFile(u)), `no model request failed offline: ${failed.join(', ')}`);
      } finally {
        await context.setOffline(false);
      }
    },
    { timeoutMs: 300_000 },
  );

  test(
    'a new build shows "update available — reload"; reloading switches build and cleans old caches',
    async () => {
      const build = spawnSync(
        process.execPath,
        [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn', '--outDir', nextDir, '--emptyOutDir'],
        {
          cwd: root,
          env: { ...process.env, ONESTEP_BUILD_ID: `next-${Date.now()}` },
          stdio: 'inherit',
        },
      );
      assert(build.status === 0, 'second build succeeded');
      // Leftover from an older version, which the new worker must delete when it activates.
      await page.evaluate(async () => (await caches.open('onestep-leftover-v0')).put('/leftover', new Response('x')));
      const before = await cacheContents(page);
      server.setRoot(nextDir);
      await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.update());
      await page.waitForFunction(() => document.getElementById('app-state').dataset.state === 'update-available', null, {
        timeout: 120_000,
      });
      const s = await appState(page);
      assert(/update/i.test(s.text) && (await page.isVisible('#app-reload')), `update message with a reload button: "${s.text}"`);
      assert((await page.getAttribute('html', 'data-build')) === firstBuild, 'the old build keeps running until the user reloads');
      await Promise.all([page.waitForEvent('load', { timeout: 60_000 }), page.click('#app-reload')]);
      await page.waitForFunction((old) => document.documentElement.dataset.build !== old, firstBuild, { timeout: 60_000 });
      const after = await cacheContents(page);
      assert(!('onestep-leftover-v0' in after), `old cache deleted on activate: ${Object.keys(after)}`);
      const oldJs = Object.values(before)
        .flat()
        .filter((p) => /\/assets\/index-.*\.js$/.test(p));
      const newAll = Object.values(after).flat();
      assert(oldJs.length > 0 && oldJs.every((p) => !newAll.includes(p)), `old build's files left the precache: ${oldJs}`);
      await waitReady(page);
      const img = await typeAndWait(page, 'green tree');
      assert(img.std > 8, 'the new build paints');
    },
    { timeoutMs: 300_000, needs: ['the app is installable: manifest, icons, no installability errors'] },
  );

  try {
    return await runAll();
  } finally {
    await context.close();
    await server.stop();
    rmSync(nextDir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
}
