// Keep and explore's video, on WASM in real Chromium on the built app: a kept image is listed with
// what made it; an explored one reopens bit-identically to the PNG that was kept; both survive a
// reload and an offline reload (service worker); "export all" gives a zip whose PNGs decode and whose
// index matches; deleting one or all removes exactly that and leaves the model files alone; a tiny
// storage quota refuses a keep with a clear message and loses no entry kept before; the morph
// saves as a WebM video that plays; nothing of it reaches another origin.
// (Over 300 lines: one feature's whole life, keep → reopen → offline → export → delete, on one
// page and its entries; the full-quota test has its own context.)
import { readFileSync } from 'node:fs';
import { strFromU8, unzipSync } from 'fflate';
import { chromium } from 'playwright-core';
import { assert, runAll, test } from '../harness.mjs';
import { SEED, baseArgs, canvasPixels, executablePath, setSlider, typeAndWait, waitReady } from '../lib/app-page.mjs';
import { galleryRecords, idbKeys } from '../lib/storage.mjs';

export const name = 'gallery';
export const envFlag = 'E2E_GALLERY';

/** Decodes PNG bytes in the page: its size and RGBA bytes. */
function decodePng(page, bytes) {
  return page.evaluate(async (bytes) => {
    const bmp = await createImageBitmap(new Blob([new Uint8Array(bytes)], { type: 'image/png' }));
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const ctx = c.getContext('2d');
    ctx.drawImage(bmp, 0, 0);
    return { width: bmp.width, height: bmp.height, px: Array.from(ctx.getImageData(0, 0, bmp.width, bmp.height).data) };
  }, bytes);
}

const count = async (page) => Number((await page.getAttribute('#gallery-summary', 'data-count')) ?? -1);
const rows = (page) => page.$$eval('#gallery-list li', (lis) => lis.map((li) => ({ ...li.dataset })));

/** Presses Keep and waits for its outcome: { state, error, text } of the gallery's status line. */
async function keep(page) {
  await page.evaluate(() => {
    const s = document.getElementById('gallery-status');
    s.textContent = '';
    delete s.dataset.state;
  });
  await page.click('#keep');
  await page.waitForFunction(() => document.getElementById('gallery-status').dataset.state !== undefined, null, { timeout: 60_000 });
  return {
    state: await page.getAttribute('#gallery-status', 'data-state'),
    error: await page.getAttribute('#gallery-status', 'data-error'),
    text: await page.textContent('#gallery-status'),
  };
}

/** Opens a <details> panel (a reload closes them). */
const openPanel = (page, id) => page.evaluate((id) => (document.getElementById(id).open = true), id);

const samePixels = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

export async function run({ baseUrl }) {
  const browser = await chromium.launch({ executablePath, args: baseArgs }); // WASM
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const origin = new URL(baseUrl).origin;
  const offOrigin = [];
  context.on('request', (r) => {
    const u = new URL(r.url());
    if (!['blob:', 'data:'].includes(u.protocol) && u.origin !== origin) offOrigin.push(r.url());
  });
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const KEPT = 'Keep puts the image in the gallery with its prompt, seed and model, and leaves the model files alone';
  const EXPLORED = 'an explored image is kept with its point and reopens bit-identically to the PNG kept';
  const RELOADED = 'kept images survive a reload and an offline reload';

  test(
    KEPT,
    async () => {
      await page.goto(`${baseUrl}#prompt=${encodeURIComponent('red apple')}&seed=${SEED}`);
      await waitReady(page);
      await page.waitForFunction(() => !document.getElementById('keep').disabled, null, { timeout: 120_000 });
      assert((await count(page)) === 0, 'the gallery starts empty');
      const models = await idbKeys(page);
      const r = await keep(page);
      assert(r.state === 'ready' && /Kept/.test(r.text), `kept: ${JSON.stringify(r)}`);
      assert((await count(page)) === 1, `one entry listed (${await count(page)})`);
      const [row] = await rows(page);
      assert(row.prompt === 'red apple' && row.seed === String(SEED) && row.model === 'onestep-emoji', `row: ${JSON.stringify(row)}`);
      const [rec] = await galleryRecords(page);
      assert(
        rec.modelVersion && rec.backend === 'wasm' && rec.width === 128 && Math.abs(rec.time - Date.now()) < 120_000,
        `record: ${JSON.stringify({ ...rec, png: rec.png.length })}`,
      );
      const png = await decodePng(page, rec.png);
      assert(samePixels(png.px, await canvasPixels(page)), 'the kept PNG holds the canvas pixels exactly');
      assert(JSON.stringify(await idbKeys(page)) === JSON.stringify(models), 'the model store is unchanged by keeping');
      assert(
        /1 image, \d+ KB on this device/.test((await page.textContent('#gallery-summary')) ?? ''),
        `summary: ${await page.textContent('#gallery-summary')}`,
      );
    },
    { timeoutMs: 320_000 },
  );

  test(
    EXPLORED,
    async () => {
      await page.click('#explore-panel summary');
      await page.fill('#explore-to-prompt', 'rocket');
      await setSlider(page, 'explore-prompt-mix', 400);
      await setSlider(page, 'explore-seed-mix', 250);
      const r = await keep(page);
      assert(r.state === 'ready', `kept: ${JSON.stringify(r)}`);
      const rec = (await galleryRecords(page)).find((e) => e.explore);
      assert(
        rec?.explore?.promptMix === 0.4 && rec.explore.seedMix === 0.25 && rec.explore.toPrompt === 'rocket',
        `point kept: ${JSON.stringify(rec?.explore)}`,
      );
      // Move away: another prompt, back to the start of the sliders.
      await page.click('#explore-reset');
      await typeAndWait(page, 'blue whale');
      const before = Number(await page.getAttribute('#output', 'data-generation'));
      await openPanel(page, 'gallery-panel');
      await page.click(`#gallery-list li[data-id="${rec.id}"] button[data-action="open"]`);
      await page.waitForFunction(
        (before) => {
          const o = document.getElementById('output');
          return (
            Number(o.dataset.generation) > before &&
            o.dataset.explore !== undefined &&
            document.getElementById('status').dataset.state === 'ready'
          );
        },
        before,
        { timeout: 120_000 },
      );
      assert(
        (await page.inputValue('#prompt')) === 'red apple' && (await page.inputValue('#seed')) === String(SEED),
        'prompt and seed restored',
      );
      assert(
        (await page.inputValue('#explore-prompt-mix')) === '400' && (await page.inputValue('#explore-to-prompt')) === 'rocket',
        'sliders restored',
      );
      const png = await decodePng(page, rec.png);
      assert(samePixels(png.px, await canvasPixels(page)), 'the reopened image equals the kept PNG, bit for bit');
    },
    { needs: [KEPT], timeoutMs: 300_000 },
  );

  test(
    RELOADED,
    async () => {
      await page.waitForFunction(() => document.getElementById('app-state').dataset.state === 'offline-ready', null, { timeout: 120_000 });
      await page.reload();
      await waitReady(page, { teacher: false });
      await page.waitForFunction(() => Number(document.getElementById('gallery-summary').dataset.count) === 2, null, { timeout: 30_000 });
      await context.setOffline(true);
      try {
        const res = await page.reload();
        assert(res?.fromServiceWorker(), 'the offline page comes from the service worker');
        await waitReady(page, { teacher: false });
        await page.waitForFunction(() => Number(document.getElementById('gallery-summary').dataset.count) === 2, null, { timeout: 30_000 });
        const listed = await rows(page);
        assert(
          listed.length === 2 && listed.every((r) => r.prompt === 'red apple'),
          `both entries listed offline: ${JSON.stringify(listed)}`,
        );
        const thumbs = await page.$$eval('#gallery-list img', (imgs) => imgs.map((i) => i.complete && i.naturalWidth));
        assert(
          thumbs.every((w) => w === 128),
          `thumbnails decode offline: ${thumbs}`,
        );
      } finally {
        await context.setOffline(false);
      }
    },
    { needs: [EXPLORED], timeoutMs: 300_000 },
  );

  test(
    'export all writes one zip whose PNGs decode to the kept pixels and whose index matches',
    async () => {
      await openPanel(page, 'gallery-panel');
      const records = await galleryRecords(page);
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.click('#gallery-export')]);
      assert(download.suggestedFilename() === 'onestep-gallery.zip', `file name ${download.suggestedFilename()}`);
      const files = unzipSync(new Uint8Array(readFileSync(await download.path())));
      const index = JSON.parse(strFromU8(files['index.json']));
      assert(index.images.length === records.length, `index rows ${index.images.length} for ${records.length} entries`);
      for (const row of index.images) {
        const rec = records.find((r) => r.seed === row.seed && JSON.stringify(r.explore ?? null) === JSON.stringify(row.explore));
        assert(
          rec && row.prompt === rec.prompt && row.model.id === rec.modelId && row.model.version === rec.modelVersion,
          `row matches an entry: ${JSON.stringify(row)}`,
        );
        const bytes = files[row.file];
        assert(bytes && samePixels(Array.from(bytes), rec.png), `${row.file} holds the kept PNG`);
        const png = await decodePng(page, Array.from(bytes));
        assert(png.width === 128 && png.height === 128, `${row.file} decodes (${png.width}×${png.height})`);
      }
    },
    { needs: [RELOADED], timeoutMs: 120_000 },
  );

  test(
    'Save video plays the morph and saves a WebM that plays',
    async () => {
      await openPanel(page, 'explore-panel');
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 240_000 }), page.click('#explore-save')]);
      assert(/-morph\.webm$/.test(download.suggestedFilename()), `file name ${download.suggestedFilename()}`);
      const bytes = readFileSync(await download.path());
      assert(bytes.length > 1000 && bytes.readUInt32BE(0) === 0x1a45dfa3, `an EBML (WebM) file of ${bytes.length} bytes`);
      await page.waitForFunction(() => document.getElementById('explore-status').dataset.state !== undefined, null, { timeout: 30_000 });
      assert(
        (await page.getAttribute('#explore-status', 'data-state')) === 'ready',
        `status: ${await page.textContent('#explore-status')}`,
      );
      // Played in a blank page (no app CSP there): the browser's own decoder reads the file.
      const player = await context.newPage();
      try {
        const v = await player.evaluate(async (b64) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const video = document.createElement('video');
          video.muted = true;
          video.src = URL.createObjectURL(new Blob([bytes], { type: 'video/webm' }));
          await new Promise((res, rej) => {
            video.onloadeddata = res;
            video.onerror = () => rej(new Error(`video error ${video.error?.code}`));
          });
          // A WebM written frame by frame may not state its length up front: seek to the end to learn it.
          if (!Number.isFinite(video.duration)) {
            video.currentTime = 1e6;
            await new Promise((res) => (video.onseeked = res));
          }
          return { width: video.videoWidth, height: video.videoHeight, duration: video.duration };
        }, bytes.toString('base64'));
        console.log(`    morph video: ${bytes.length} bytes, ${v.width}×${v.height}, ${v.duration.toFixed(2)} s`);
        assert(v.width === 128 && v.height === 128 && v.duration > 1.5, `plays as 128×128 for ~2 s: ${JSON.stringify(v)}`);
      } finally {
        await player.close();
      }
    },
    { needs: [KEPT], timeoutMs: 300_000 },
  );

  test(
    'Delete removes one entry, Delete all (confirmed) the rest; the model files stay',
    async () => {
      await openPanel(page, 'gallery-panel');
      if ((await count(page)) < 2) {
        // Run alone: keep a second image, so that deleting one leaves one.
        await typeAndWait(page, 'rocket');
        assert((await keep(page)).state === 'ready', 'a second image kept');
      }
      const models = await idbKeys(page);
      const [first] = await rows(page);
      await page.click(`#gallery-list li[data-id="${first.id}"] button[data-action="delete"]`);
      await page.waitForFunction(() => Number(document.getElementById('gallery-summary').dataset.count) === 1, null, { timeout: 30_000 });
      const left = await galleryRecords(page);
      assert(left.length === 1 && left[0].id !== first.id, `exactly that one deleted: ${left.map((e) => e.id)}`);
      page.once('dialog', (d) => void d.dismiss());
      await page.click('#gallery-clear');
      await page.waitForTimeout(300);
      assert((await galleryRecords(page)).length === 1, 'a dismissed confirmation deletes nothing');
      page.once('dialog', (d) => void d.accept());
      await page.click('#gallery-clear');
      await page.waitForFunction(() => Number(document.getElementById('gallery-summary').dataset.count) === 0, null, { timeout: 30_000 });
      assert((await galleryRecords(page)).length === 0, 'the gallery store is empty');
      assert(JSON.stringify(await idbKeys(page)) === JSON.stringify(models), 'the model files are untouched');
    },
    { needs: [KEPT] },
  );

  test(
    'a tiny storage quota refuses a keep with a clear message and loses no entry kept before',
    async () => {
      const tiny = await browser.newContext();
      try {
        const p = await tiny.newPage();
        const cdp = await tiny.newCDPSession(p);
        // Set before the first visit: the model cannot be stored and runs from memory; the gallery
        // then has the few hundred KB left, and keeping fills them.
        await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 1024 * 1024 });
        await p.goto(`${baseUrl}#prompt=${encodeURIComponent('red apple')}&seed=${SEED}`);
        await waitReady(p, { teacher: false });
        await p.waitForFunction(() => !document.getElementById('keep').disabled, null, { timeout: 120_000 });
        let kept = 0;
        let refused = null;
        for (let i = 0; i < 60 && !refused; i++) {
          if (i > 0) {
            const before = Number(await p.getAttribute('#output', 'data-generation'));
            await p.fill('#seed', String(SEED + i));
            await p.waitForFunction(
              (b) => Number(document.getElementById('output').dataset.generation) > b && !document.getElementById('keep').disabled,
              before,
              { timeout: 60_000 },
            );
          }
          const r = await keep(p);
          if (r.state === 'error') refused = r;
          else kept += 1;
        }
        console.log(`    ${kept} kept under a 1 MiB quota, then: ${refused?.error}`);
        assert(refused, `a keep was refused within 60 tries (${kept} kept)`);
        assert(
          refused.error === 'GalleryFullError' && /gallery is full/i.test(refused.text) && /Nothing was deleted/.test(refused.text),
          `clear message: ${JSON.stringify(refused)}`,
        );
        const records = await galleryRecords(p);
        assert(
          records.length === kept && (await count(p)) === kept,
          `every entry kept before is still there (${records.length} of ${kept})`,
        );
        for (const rec of records) assert((await decodePng(p, rec.png)).width === 128, `entry ${rec.id} still decodes`);
      } finally {
        await tiny.close();
      }
    },
    { timeoutMs: 600_000 },
  );

  test('nothing went to another origin, and the page logged no errors', async () => {
    assert(offOrigin.length === 0, `off-origin requests: ${offOrigin.join(', ')}`);
    const real = consoleErrors.filter((e) => !/favicon/.test(e));
    assert(real.length === 0, `console errors: ${real.join(' | ')}`);
  });

  const result = await runAll();
  await browser.close();
  return result;
}
