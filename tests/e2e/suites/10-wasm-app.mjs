// The app on WASM (no WebGPU adapter offered): first visit, painting off the UI thread, prompt and
// seed effects, bad input, IndexedDB reload with zero model requests, corrupted-chunk repair, compare
// view. Shares one browser context; later tests rely on what earlier ones cached.
// Why one file of ~300 lines: the cases share one browser and the model it cached (loading it again
// per file costs a minute on 2 cores).
import { chromium } from 'playwright-core';
import { assert, runAll, test } from '../harness.mjs';
import { SEED, baseArgs, canvasStats, executablePath, fileSources, isModelFile, typeAndWait, waitReady } from '../lib/app-page.mjs';
import { barText, summarize, traceUiThread, withoutThreadTime } from '../lib/ui-thread.mjs';

export const name = 'WASM';
export const envFlag = 'E2E_WASM';

export async function run({ baseUrl, timings }) {
  // No --enable-unsafe-webgpu: Chromium offers no adapter, so the app must fall back to WASM.
  const browser = await chromium.launch({ executablePath, args: baseArgs });
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } }); // phone width
  const modelRequests = [];
  context.on('request', (req) => {
    if (isModelFile(req.url())) modelRequests.push(new URL(req.url()).pathname);
  });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const images = {};
  // Tests that need the model loaded, or the reference image, name these (harness `needs`).
  /** Opens the link of `prompt` at SEED in a fresh page load and waits for its image. */
  const reloadAt = async (prompt, beforeReload = () => undefined) => {
    await page.goto(`${baseUrl}#${new URLSearchParams({ prompt, seed: String(SEED) })}`);
    beforeReload();
    await page.reload();
    await waitReady(page);
    await page.waitForFunction(
      (p) => document.getElementById('output').dataset.prompt === p && document.getElementById('status').dataset.state === 'ready',
      prompt,
      { timeout: 60_000 },
    );
  };
  const loadPhaseNames = async () => JSON.parse((await page.getAttribute('#status', 'data-load-phases')) ?? '[]').map((p) => p.name);
  const FIRST = 'first visit downloads the model and falls back to WASM, saying so';
  const TYPING = 'typing a prompt paints a non-blank 128×128 canvas';

  test(
    FIRST,
    async () => {
      const t0 = Date.now();
      await page.goto(`${baseUrl}#seed=${SEED}`);
      await waitReady(page, { teacher: false });
      timings.firstLoadMs = Date.now() - t0;
      // The teacher's file comes after the first image, from the network, and joins the files list.
      await waitReady(page);
      assert(
        (await page.getAttribute('#status', 'data-teacher')) === 'ready',
        `teacher fetched: ${await page.getAttribute('#compare', 'title')}`,
      );
      assert((await page.getAttribute('#status', 'data-backend')) === 'wasm', 'backend is wasm');
      const text = await page.textContent('#status');
      assert(/WASM/.test(text) && /WebGPU/.test(text), `status names the backend and why WebGPU is not used: "${text}"`);
      assert(await page.evaluate(() => crossOriginIsolated), 'page is cross-origin isolated (COOP/COEP)');
      // The first image is of the empty prompt, whose embedding the model ships: the tokenizer, the
      // text encoder's 14 MB and its session came after that image, and their rows joined the files list then.
      const phases = await loadPhaseNames();
      assert(
        !phases.includes('session text_encoder') && !phases.includes('read tokenizer') && phases.includes('read prompt_embeddings'),
        `no encoder nor tokenizer in the load: ${phases}`,
      );
      for (const f of ['text_encoder', 'tokenizer'])
        await page.waitForSelector(`#files li[data-file="${f}"][data-source="network"]`, { state: 'attached', timeout: 60_000 });
      // Their download showed on the progress bar (not the status line, which describes the image),
      // and the bar is hidden once they are in.
      await page.waitForFunction(() => document.getElementById('progress').hidden, null, { timeout: 10_000 });
      assert(
        (await page.getAttribute('#progress', 'data-file')) === 'text_encoder',
        `the encoder's download reached the progress bar: ${await page.getAttribute('#progress', 'data-file')}`,
      );
      const sources = await fileSources(page);
      assert(
        Object.keys(sources).length >= 5 && sources.unet_teacher === 'network' && Object.values(sources).every((s) => s === 'network'),
        `all files downloaded, teacher included: ${JSON.stringify(sources)}`,
      );
      assert(modelRequests.length >= 4, `model files were requested on first visit (${modelRequests.length})`);
    },
    { timeoutMs: 320_000 },
  );

  // The image is what later tests need; whether the UI thread stayed free while it was made is
  // judged in the next test, so a slow task fails that check alone, not everything after it.
  let uiWhileTyping = null;
  test(
    TYPING,
    async () => {
      const ui = await traceUiThread(browser, page);
      const s = await typeAndWait(page, 'red apple');
      uiWhileTyping = summarize(await ui.stop());
      assert(s.width === 128 && s.height === 128, `128×128 (${s.width}×${s.height})`);
      assert(s.std > 8, `image has structure (std ${s.std.toFixed(1)})`);
      images.apple = s;
      timings.msPerImage = Number(await page.getAttribute('#status', 'data-ms'));
      timings.stagesNewPrompt = JSON.parse(await page.getAttribute('#status', 'data-stages'));
    },
    { needs: [FIRST] },
  );

  test(
    'painting that image left the UI thread free',
    async () => {
      const { long, longestByClock, clock } = uiWhileTyping;
      console.log(`    UI thread judged by ${clock}`);
      timings.uiLongestTask = longestByClock;
      timings.uiThreadClock = clock;
      assert(long.length === 0, `no task over ${barText(clock)} on the UI thread while generating: ${JSON.stringify(long)}`);
    },
    { needs: [TYPING] },
  );

  // The instrument above must be able to fail: UI-thread work of the app's own making is caught,
  // by this platform's clock and as a platform without thread CPU time in its traces would judge it.
  test('the UI-thread check catches 300 ms of work on the UI thread, by either clock', async () => {
    const ui = await traceUiThread(browser, page);
    await page.evaluate(() => {
      const end = performance.now() + 300;
      while (performance.now() < end);
    });
    const tasks = await ui.stop();
    for (const view of [tasks, withoutThreadTime(tasks)]) {
      const { long, clock } = summarize(view);
      assert(long.length === 1 && long[0].wallMs >= 300, `one long task of ≥ 300 ms caught by ${clock}: ${JSON.stringify(long)}`);
    }
  });

  test(
    'two prompts give different images',
    async () => {
      const s = await typeAndWait(page, 'rocket');
      images.rocket = s;
      // Same prompt, new seed: the cached embedding skips the text encoder.
      await page.fill('#seed', String(SEED + 7));
      await page.waitForFunction(
        (seed) => document.getElementById('output').dataset.seed === seed && document.getElementById('status').dataset.state === 'ready',
        String(SEED + 7),
        { timeout: 60_000 },
      );
      timings.msPerImageSamePrompt = Number(await page.getAttribute('#status', 'data-ms'));
      timings.stagesSamePrompt = JSON.parse(await page.getAttribute('#status', 'data-stages'));
      await page.fill('#seed', String(SEED));
      assert(s.std > 8, 'rocket image is not blank');
      assert(s.hash !== images.apple.hash, 'red apple and rocket differ');
    },
    { needs: [TYPING] },
  );

  test(
    'the same prompt and seed give identical pixels',
    async () => {
      const s = await typeAndWait(page, 'red apple');
      assert(s.hash === images.apple.hash, `same hash (${s.hash} vs ${images.apple.hash})`);
      // And a different seed changes the image.
      await page.fill('#seed', String(Number(await page.inputValue('#seed')) + 1));
      await page.waitForFunction(
        (seed) => document.getElementById('output').dataset.seed === seed && document.getElementById('status').dataset.state === 'ready',
        await page.inputValue('#seed'),
        { timeout: 60_000 },
      );
      const other = await canvasStats(page);
      assert(other.hash !== images.apple.hash, 'another seed gives another image');
    },
    { needs: [TYPING] },
  );

  test(
    'a keystroke that leaves the token ids unchanged gives the same image without running a network',
    async () => {
      const first = await typeAndWait(page, 'red apple');
      // MiniLM's tokenizer is uncased and drops spaces: same ids, same seed → the last images again.
      const same = await typeAndWait(page, 'Red apple ');
      assert(same.hash === first.hash, `same pixels (${same.hash} vs ${first.hash})`);
      assert((await page.getAttribute('#status', 'data-steps')) === '0', 'no UNet call for unchanged tokens');
      assert(/image reused/.test(await page.textContent('#status')), `status says so: ${await page.textContent('#status')}`);
      const changed = await typeAndWait(page, 'red apples');
      assert(
        (await page.getAttribute('#status', 'data-steps')) === '1' && changed.hash !== first.hash,
        'a changed token runs the networks again',
      );
    },
    { needs: [FIRST] },
  );

  test(
    'an empty prompt and a 10,000-character prompt are handled',
    async () => {
      const empty = await typeAndWait(page, '');
      assert(empty.width === 128, 'empty prompt painted');
      const long = 'a very long prompt about a smiling cat '.repeat(300).slice(0, 10_000);
      const s = await typeAndWait(page, long);
      assert(s.std > 1, 'long prompt painted');
      // The prompt is shown only as text: the page has no element made from it.
      assert((await page.$$('#prompt ~ *:not(.row):not(#seed-hint)')).length === 0, 'no injected elements'); // the seed's hint is ours
    },
    { needs: [FIRST] },
  );

  test(
    'prompt text is never parsed as HTML',
    async () => {
      const evil = '<img src=x onerror="window.__pwned=1">cat';
      await typeAndWait(page, evil);
      assert((await page.evaluate(() => window.__pwned)) === undefined, 'markup in the prompt did not run');
    },
    { needs: [FIRST] },
  );

  test(
    'a reload serves every model file from IndexedDB with zero model requests, same pixels',
    async () => {
      await typeAndWait(page, 'red apple');
      await page.waitForTimeout(1500); // a prompt typing stopped at is written to IndexedDB after 1 s
      // The link restores prompt and seed, and a fresh worker paints the very same pixels.
      await reloadAt('red apple', () => (modelRequests.length = 0));
      assert((await canvasStats(page)).hash === images.apple.hash, 'same pixels after reload (from the shared link)');
      const sources = await fileSources(page);
      assert(
        sources.unet_teacher === 'cache' && Object.values(sources).every((s) => s === 'cache'),
        `all from cache, teacher included: ${JSON.stringify(sources)}`,
      );
      assert(modelRequests.length === 0, `no model file requests: ${JSON.stringify(modelRequests)}`);
      timings.cachedLoadMs = Number(await page.getAttribute('#status', 'data-load-ms'));
      // The first image came from the stored embedding of 'red apple': no text encoder nor tokenizer
      // in the load (same pixels above), their session and file rows right after that image, and typing works.
      const phases = await loadPhaseNames();
      assert(
        !phases.includes('session text_encoder') && !phases.includes('read tokenizer') && phases.includes('session unet'),
        `encoder and tokenizer left out of the load: ${phases}`,
      );
      for (const f of ['text_encoder', 'tokenizer'])
        await page.waitForSelector(`#files li[data-file="${f}"][data-source="cache"]`, { state: 'attached', timeout: 60_000 });
      assert((await typeAndWait(page, 'red apple pie')).std > 1, 'a new prompt is encoded after such a start');
    },
    { needs: [TYPING] },
  );

  test(
    'a stored prompt spelt another way (same token ids) reads the tokenizer in the load, not the encoder',
    async () => {
      // 'Red apple ' is stored under 'red apple''s ids, not its text: the load must tokenize it to find it.
      await reloadAt('Red apple ');
      const phases = await loadPhaseNames();
      assert(
        phases.includes('read tokenizer') && !phases.includes('session text_encoder'),
        `tokenizer in the load, encoder after the image: ${phases}`,
      );
      assert((await canvasStats(page)).hash === images.apple.hash, "the same pixels as 'red apple'");
    },
    { needs: [TYPING] },
  );

  test(
    'a damaged stored embedding is ignored: the encoder runs in the load and the pixels are the same',
    async () => {
      const damaged = await page.evaluate(async () => {
        const db = await new Promise((res, rej) => {
          const r = indexedDB.open('onestep-embeddings');
          r.onsuccess = () => res(r.result);
          r.onerror = () => rej(r.error);
        });
        const tx = db.transaction('embeddings', 'readwrite');
        const store = tx.objectStore('embeddings');
        const key = 'onestep-emoji|wasm'; // one record per model and backend
        const record = await new Promise((res) => (store.get(key).onsuccess = (e) => res(e.target.result)));
        if (!record?.entries?.length) throw new Error('no stored embeddings to damage');
        for (const e of record.entries) e.data = e.data.subarray(0, 100); // cut short, as a torn write would
        store.put(record, key);
        await new Promise((res) => (tx.oncomplete = res));
        db.close();
        return record.entries.length;
      });
      await reloadAt('red apple');
      const phases = await loadPhaseNames();
      assert(phases.includes('session text_encoder'), `${damaged} damaged entries: the load made the encoder (${phases})`);
      assert((await canvasStats(page)).hash === images.apple.hash, 'same pixels, encoded afresh');
    },
    { needs: [TYPING] },
  );

  test(
    'a corrupted cached chunk is detected, discarded and fetched again',
    async () => {
      await page.evaluate(async () => {
        const db = await new Promise((res, rej) => {
          const r = indexedDB.open('onestep-models');
          r.onsuccess = () => res(r.result);
          r.onerror = () => rej(r.error);
        });
        const key = 'onestep-emoji@1/vae_decoder#0';
        const tx = db.transaction('files', 'readwrite');
        const store = tx.objectStore('files');
        const buf = await new Promise((res) => (store.get(key).onsuccess = (e) => res(e.target.result)));
        if (!buf) throw new Error(`no cached chunk ${key}`);
        const bytes = new Uint8Array(buf);
        for (let i = 1000; i < 1064; i++) bytes[i] ^= 0xff; // flip bits in the middle of the weights
        store.put(bytes.buffer, key);
        await new Promise((res) => (tx.oncomplete = res));
        db.close();
      });
      modelRequests.length = 0;
      await page.reload();
      await waitReady(page);
      const sources = await fileSources(page);
      assert(sources.vae_decoder === 'network', `vae_decoder re-fetched: ${JSON.stringify(sources)}`);
      assert(/damaged/.test(await page.textContent('#files li[data-file="vae_decoder"]')), 'UI says the saved copy was damaged');
      assert(
        modelRequests.length === 1 && modelRequests[0].endsWith('vae_decoder/model.onnx'),
        `only the bad file fetched: ${JSON.stringify(modelRequests)}`,
      );
      const s = await typeAndWait(page, 'red apple');
      assert(s.hash === images.apple.hash, 'after repair the same prompt+seed gives the same pixels');
      // And the repaired copy is what the next visit reads.
      modelRequests.length = 0;
      await page.reload();
      await waitReady(page);
      assert(modelRequests.length === 0, 'repaired copy cached');
    },
    { timeoutMs: 240_000, needs: [TYPING] },
  ); // two reloads and a re-download: ~100 s on a busy 2-core machine

  test(
    'compare with teacher shows both images and both times',
    async () => {
      await typeAndWait(page, 'red apple');
      await page.click('#compare');
      await page.waitForFunction(() => /ms$/.test(document.getElementById('teacher-caption').textContent ?? ''), null, {
        timeout: 240_000,
        polling: 250,
      });
      const teacher = await page.textContent('#teacher-caption');
      const student = await page.textContent('#student-caption');
      assert(/steps: \d+ ms/.test(teacher) && /1 step: \d+ ms/.test(student), `captions: "${teacher}" / "${student}"`);
      timings.teacher = teacher;
      timings.student = student;
      const t = await canvasStats(page, 'teacher-canvas');
      assert(t.std > 8, 'teacher image not blank');
    },
    { timeoutMs: 260_000, needs: [FIRST] },
  );

  test(
    'a failed teacher fetch leaves compare on, and a click fetches the teacher and compares',
    async () => {
      // Own context without the service worker, so the route sees the worker's request for the file.
      const ctx = await browser.newContext({ serviceWorkers: 'block' });
      try {
        const p = await ctx.newPage();
        const teacherFile = '**/unet_teacher/model.onnx*';
        await ctx.route(teacherFile, (r) => r.abort('connectionreset'));
        await p.goto(`${baseUrl}#seed=${SEED}`);
        await waitReady(p);
        assert(
          (await p.getAttribute('#status', 'data-teacher')) === 'failed',
          `teacher state: ${await p.getAttribute('#status', 'data-teacher')}`,
        );
        assert(!(await p.isDisabled('#compare')), 'compare stays available after a failed fetch');
        assert(/could not be fetched/.test((await p.getAttribute('#compare', 'title')) ?? ''), 'the button says why');
        await ctx.unroute(teacherFile);
        await p.click('#compare');
        await p.waitForFunction(() => /ms$/.test(document.getElementById('teacher-caption').textContent ?? ''), null, {
          timeout: 240_000,
          polling: 250,
        });
        assert((await p.getAttribute('#status', 'data-teacher')) === 'ready', 'teacher fetched by the click');
        assert((await canvasStats(p, 'teacher-canvas')).std > 8, 'teacher image painted');
      } finally {
        await ctx.close();
      }
    },
    { timeoutMs: 300_000 },
  );

  test('the page has no console errors', async () => {
    const real = consoleErrors.filter((e) => !/favicon/.test(e));
    assert(real.length === 0, `console errors: ${real.join(' | ')}`);
  });

  const result = await runAll();
  await browser.close();
  return result;
}
