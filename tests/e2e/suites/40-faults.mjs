// Downloads that survive faults, on a server that misbehaves on purpose: a connection cut half way
// through a model file resumes with a Range request for only the missing part; a file with the
// wrong bytes is rejected with a clear message and nothing of it stays in IndexedDB; two tabs
// loading at once download each file once; a tiny storage quota runs the model from memory;
// "clear downloaded models" during a download, and in one tab while another generates.
// Each case uses a fresh browser context (empty storage). Service workers are blocked here so the
// server log shows exactly what the page fetched (the offline suite covers the service worker).
// Why one file of ~300 lines: every case uses the same misbehaving server and its request log.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { assert, runAll, test } from '../harness.mjs';
import { baseArgs, executablePath, fileSources, typeAndWait } from '../lib/app-page.mjs';
import { idbKeys, idbRecord } from '../lib/storage.mjs';
import { headersOf, startTestServer } from '../lib/test-server.mjs';

export const name = 'download faults and quota';
export const envFlag = 'E2E_FAULTS';

const MODEL = '/models/onestep-emoji/';
const MiB = 1024 * 1024;

/** Waits until the load (and the background teacher fetch) finished, or failed (error), and returns the state. */
async function loadOutcome(page) {
  await page.waitForFunction(
    () => {
      const s = document.getElementById('status');
      return (
        (s.dataset.loadMs !== undefined && s.dataset.teacher !== undefined && s.dataset.teacher !== 'loading') ||
        s.dataset.state === 'error'
      );
    },
    null,
    { timeout: 300_000, polling: 200 },
  );
  return { state: await page.getAttribute('#status', 'data-state'), text: await page.textContent('#status') };
}

export async function run({ baseUrl, root }) {
  const dist = path.join(root, 'dist');
  const manifest = JSON.parse(readFileSync(path.join(dist, 'models/onestep-emoji/manifest.json'), 'utf8'));
  const server = await startTestServer({ root: dist, headers: await headersOf(baseUrl) });
  const browser = await chromium.launch({ executablePath, args: baseArgs });
  const url = `${server.url}?backend=wasm`;
  const fresh = () => browser.newContext({ serviceWorkers: 'block' });

  test(
    'a download cut off half way resumes with a Range request and the model runs',
    async () => {
      const file = manifest.files.unet;
      const filePath = `${MODEL}${file.path}`;
      const context = await fresh();
      const page = await context.newPage();
      server.faults.cut = { path: filePath, afterBytes: Math.floor(file.bytes / 2) };
      await page.goto(url);
      const first = await loadOutcome(page);
      assert(
        first.state === 'error' && /interrupted/.test(first.text) && /resumes/.test(first.text),
        `clear message on the cut: "${first.text}"`,
      );
      const keys = await idbKeys(page);
      const partial = await idbRecord(page, 'onestep-emoji@1/unet~partial');
      assert(partial && partial.chunksDone >= 1, `complete chunks recorded: ${JSON.stringify(partial)}`);
      assert(!keys.includes('onestep-emoji@1/unet'), 'no index record: the half-written file is never used');
      const stored = partial.chunksDone * partial.chunkBytes;

      await page.reload();
      const second = await loadOutcome(page);
      assert(second.state !== 'error', `second load works: "${second.text}"`);
      const reqs = server.requestsFor(filePath);
      console.log(
        `    ${filePath}: ${reqs.map((r) => `${r.status} range=${r.range ?? '-'} sent=${r.sent}${r.cut ? ' (cut)' : ''}`).join(' | ')}`,
      );
      assert(reqs.length === 2, `two requests for the file (${reqs.length})`);
      assert(reqs[0].cut && reqs[0].range === null, 'the first was a full GET, cut');
      assert(
        reqs[1].range === `bytes=${stored}-` && reqs[1].status === 206,
        `the retry asked for bytes=${stored}- and got 206 (${reqs[1].range}, ${reqs[1].status})`,
      );
      assert(reqs[1].sent === file.bytes - stored, `the retry sent only the missing ${file.bytes - stored} bytes (${reqs[1].sent})`);
      // What arrived before the cut is kept up to the last whole chunk (the browser may also drop
      // data still in flight when the connection breaks): at most ~2 chunks are fetched twice.
      const total = reqs.reduce((s, r) => s + r.sent, 0);
      console.log(
        `    stored before the cut: ${stored} of ${reqs[0].sent} bytes received; served in all ${total} for a ${file.bytes}-byte file`,
      );
      assert(stored >= reqs[0].sent - 2 * 4 * MiB, `kept what had arrived (${stored} of ${reqs[0].sent})`);
      assert(total < file.bytes + 2 * 4 * MiB, `bytes served for the file ${total} < size ${file.bytes} + two chunks`);
      assert((await page.getAttribute('#files li[data-file="unet"]', 'data-resumed')) === String(stored), 'the file list says it resumed');
      const keysAfter = await idbKeys(page);
      assert(
        keysAfter.includes('onestep-emoji@1/unet') && !keysAfter.some((k) => k.endsWith('~partial')),
        'stored completely, partial record gone',
      );
      const img = await typeAndWait(page, 'red apple');
      assert(img.std > 8, 'the resumed model paints');
      await context.close();
    },
    { timeoutMs: 600_000 },
  );

  test(
    'a cut in the text encoder, fetched after the first image, resumes when a prompt needs it',
    async () => {
      // A first visit's first image (the empty prompt, whose embedding ships) needs no encoder: its
      // file comes after that image, and here its connection breaks half way.
      const file = manifest.files.text_encoder;
      const filePath = `${MODEL}${file.path}`;
      const context = await fresh();
      const page = await context.newPage();
      const earlier = server.requestsFor(filePath).length; // other cases' requests
      const mine = () => server.requestsFor(filePath).slice(earlier);
      server.faults.cut = { path: filePath, afterBytes: Math.floor(file.bytes / 2) };
      await page.goto(url);
      const first = await loadOutcome(page);
      assert(first.state !== 'error', `the first image needs no encoder: "${first.text}"`);
      for (let i = 0; i < 600 && !mine().some((r) => r.cut); i++) await new Promise((r) => setTimeout(r, 100));
      assert(mine()[0]?.cut, 'the encoder file was cut after the first image');
      const s = await typeAndWait(page, 'red apple');
      assert(s.std > 8, 'the first typed prompt paints: the encoder file resumed');
      const reqs = mine();
      assert(
        reqs.length === 2 && reqs[1].status === 206 && reqs[1].sent < file.bytes,
        `one cut request, then a Range request for the rest: ${reqs.map((r) => `${r.status} sent=${r.sent}${r.cut ? ' (cut)' : ''}`).join(' | ')}`,
      );
      await context.close();
    },
    { timeoutMs: 300_000 },
  );

  test(
    'a file with the wrong sha256 is rejected with a clear message and nothing of it is kept',
    async () => {
      const filePath = `${MODEL}${manifest.files.vae_decoder.path}`;
      const context = await fresh();
      const page = await context.newPage();
      server.faults.corrupt = { path: filePath };
      try {
        await page.goto(url);
        const r = await loadOutcome(page);
        assert(r.state === 'error' && /checksum/.test(r.text) && /vae_decoder/.test(r.text), `clear message: "${r.text}"`);
        assert((await page.getAttribute('#status', 'data-error')) === 'IntegrityError', 'named IntegrityError');
        const keys = await idbKeys(page);
        const kept = keys.filter((k) => k.startsWith('onestep-emoji@1/vae_decoder'));
        assert(kept.length === 0, `nothing of the bad file in IndexedDB: ${JSON.stringify(kept)}`);
        assert(keys.includes('onestep-emoji@1/unet'), 'good files before it were kept');
      } finally {
        server.faults.corrupt = undefined;
      }
      await page.reload();
      const again = await loadOutcome(page);
      assert(again.state !== 'error', `with the right file served it loads: "${again.text}"`);
      await context.close();
    },
    { timeoutMs: 600_000 },
  );

  test(
    'two tabs loading at once download each model file once',
    async () => {
      const context = await fresh();
      const [a, b] = await Promise.all([context.newPage(), context.newPage()]);
      const from = server.log.length;
      await Promise.all([a.goto(url), b.goto(url)]);
      const [ra, rb] = await Promise.all([loadOutcome(a), loadOutcome(b)]);
      assert(ra.state !== 'error' && rb.state !== 'error', `both tabs loaded: "${ra.text}" / "${rb.text}"`);
      const gets = server.log.slice(from).filter((e) => /\.onnx(\.pack)?$|tokenizer\.json$/.test(e.path));
      const perFile = {};
      for (const e of gets) perFile[e.path] = (perFile[e.path] ?? 0) + 1;
      console.log(`    model file requests from two tabs: ${JSON.stringify(perFile)}`);
      assert(
        Object.values(perFile).every((n) => n === 1),
        `each file fetched once: ${JSON.stringify(perFile)}`,
      );
      const sa = await fileSources(a);
      const sb = await fileSources(b);
      assert(
        Object.keys(sa).every((f) => (sa[f] === 'network' ? sb[f] === 'cache' : sb[f] === 'network')),
        `one tab downloaded each file, the other read it: ${JSON.stringify({ sa, sb })}`,
      );
      await context.close();
    },
    { timeoutMs: 600_000 },
  );

  test(
    'with storage full the model runs from memory and the page says so',
    async () => {
      const context = await fresh();
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      const origin = new URL(server.url).origin;
      await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 2 * MiB });
      // (storage.estimate() still reports the real quota; writes past 2 MiB fail with QuotaExceededError.)
      await page.goto(url);
      const r = await loadOutcome(page);
      assert(r.state !== 'error', `no broken page: "${r.text}"`);
      assert((await page.getAttribute('#status', 'data-cached')) === 'false', 'load reports the model is not cached');
      const img = await typeAndWait(page, 'red apple');
      assert(img.std > 8, 'image painted from memory');
      const text = await page.textContent('#status');
      assert(/running from memory/.test(text) && /no room/.test(text), `status says so: "${text}"`);
      // A small file may have fitted (tokenizer); nothing half-stored may remain of the others.
      const keys = await idbKeys(page);
      const orphans = keys.filter((k) => k.endsWith('~partial') || (k.includes('#') && !keys.includes(k.split('#')[0])));
      console.log(`    stored under the tiny quota: ${JSON.stringify(keys)}`);
      assert(orphans.length === 0, `no partial chunks left behind: ${JSON.stringify(orphans)}`);
      await context.close();
    },
    { timeoutMs: 600_000 },
  );

  test(
    'with no IndexedDB at all (private browsing in some browsers) the model runs from memory and the page says why',
    async () => {
      const context = await fresh();
      // Firefox's private windows and some embedded browsers throw on any use of IndexedDB; Chromium
      // has no switch for it, so the worker's global is made to behave that way before the app runs.
      const noIdb =
        "Object.defineProperty(self, 'indexedDB', { get() { throw new DOMException('IndexedDB is not available here', 'InvalidStateError'); } });\n";
      await context.route(/generator\.worker-[^/]*\.js$/, async (route) => {
        const res = await route.fetch();
        await route.fulfill({ response: res, body: noIdb + (await res.text()) });
      });
      await context.addInitScript(noIdb);
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(url);
      const r = await loadOutcome(page);
      assert(r.state !== 'error', `no broken page: "${r.text}"`);
      assert((await page.getAttribute('#status', 'data-cached')) === 'false', 'load reports the model is not cached');
      const img = await typeAndWait(page, 'red apple');
      assert(img.std > 8, 'image painted from memory');
      const text = await page.textContent('#status');
      assert(/running from memory/.test(text) && /no storage/.test(text), `status says why: "${text}"`);
      await page.evaluate(() => document.getElementById('clear').click());
      await page.waitForFunction(() => /clear/i.test(document.getElementById('status').textContent), null, { timeout: 30_000 });
      assert((await typeAndWait(page, 'blue whale')).std > 8, 'the clear button breaks nothing');
      assert(errors.length === 0, `no uncaught errors: ${errors.join(' | ')}`);
      await context.close();
    },
    { timeoutMs: 600_000 },
  );

  test(
    '"clear downloaded models" during a download: the model still loads and paints, and nothing half-stored stays',
    async () => {
      const context = await fresh();
      const page = await context.newPage();
      let release;
      const unet = `${MODEL}${manifest.files.unet.path}`;
      server.faults.hold = { path: unet, afterBytes: 6 * MiB, release: new Promise((r) => (release = r)) };
      const from = server.log.length;
      await page.goto(url);
      // Clicked while the UNet's download is held half way (its first chunks are already stored).
      await page.waitForFunction(() => document.getElementById('status').dataset.state !== undefined, null, { timeout: 60_000 });
      const deadline = Date.now() + 120_000;
      while (!server.log.slice(from).some((e) => e.path === unet && e.held) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      assert(
        server.log.slice(from).some((e) => e.path === unet && e.held),
        'the UNet download was held half way',
      );
      await new Promise((r) => setTimeout(r, 500)); // its first chunks reach IndexedDB
      const before = await idbKeys(page);
      assert(
        before.some((k) => k.endsWith('/unet#0')),
        `the UNet's first chunk was stored before the clear: ${JSON.stringify(before)}`,
      );
      await page.evaluate(() => document.getElementById('clear').click());
      await page.waitForFunction(() => /cleared/.test(document.getElementById('status').textContent), null, { timeout: 30_000 });
      release();
      const r = await loadOutcome(page);
      assert(r.state !== 'error', `the model loaded: "${r.text}"`);
      const img = await typeAndWait(page, 'red apple');
      assert(img.std > 8, 'and paints');
      const keys = await idbKeys(page);
      const unetKeys = keys.filter((k) => k.includes('/unet#') || k.endsWith('/unet') || k.endsWith('/unet~partial'));
      console.log(`    stored after the clear: ${JSON.stringify(keys)}`);
      assert(unetKeys.length === 0, `nothing of the UNet stayed (its early chunks were cleared): ${JSON.stringify(unetKeys)}`);
      const orphans = keys.filter((k) => k.includes('#') && !keys.includes(k.split('#')[0]));
      assert(orphans.length === 0, `no chunks without their file: ${JSON.stringify(orphans)}`);
      await context.close();
    },
    { timeoutMs: 600_000 },
  );

  test(
    'two tabs: one clears the downloads while the other generates, which keeps painting',
    async () => {
      const context = await fresh();
      const a = await context.newPage();
      await a.goto(url);
      assert((await loadOutcome(a)).state !== 'error', 'tab A loaded');
      const b = await context.newPage();
      await b.goto(url);
      assert((await loadOutcome(b)).state !== 'error', 'tab B loaded (from IndexedDB)');
      assert(
        Object.values(await fileSources(b)).every((s) => s === 'cache'),
        'tab B read every file from IndexedDB',
      );
      // A generates while B clears, then again after.
      const painting = typeAndWait(a, 'green frog');
      await b.evaluate(() => document.getElementById('clear').click());
      await b.waitForFunction(() => /cleared/.test(document.getElementById('status').textContent), null, { timeout: 30_000 });
      assert((await painting).std > 8, 'tab A painted during the clear');
      assert((await typeAndWait(a, 'blue whale')).std > 8, 'and after it (its sessions hold the weights)');
      const keys = await idbKeys(a);
      assert(!keys.some((k) => k.includes('#')), `the clear emptied the store: ${JSON.stringify(keys)}`);
      // The next visit downloads again and works.
      const from = server.log.length;
      await b.reload();
      assert((await loadOutcome(b)).state !== 'error', 'tab B loads again after the clear');
      assert(
        server.log.slice(from).some((e) => /unet\/model\.onnx(\.pack)?$/.test(e.path)),
        'by downloading the model again',
      );
      await context.close();
    },
    { timeoutMs: 600_000 },
  );

  try {
    return await runAll();
  } finally {
    await browser.close();
    await server.stop();
  }
}
