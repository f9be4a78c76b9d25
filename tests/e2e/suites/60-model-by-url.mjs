// "Add a model by URL" end to end, on WASM (no WebGPU adapter offered, so no shader-f16):
// a tiny random Stable-Diffusion pipeline is built and converted by training/ (the real converter),
// served by a local stand-in for the Hugging Face hub (same URL scheme and tree listing), then
// refused where it must be (plain http, missing files, fp16 without shader-f16, short storage,
// a corrupted file, hostile repositories, a model whose output is NaN), stopped by the person while it hangs or while it waits in the worker's queue,
// and otherwise added: size and licence shown, downloaded with progress, verified, cached,
// generating, and loaded again from IndexedDB with the hub stopped.
// Why one file of ~600 lines: every case shares one tiny-SD build (minutes), one stand-in hub and one
// browser; each case is a repository in `repos` plus a test, so a new case is added in two places here.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { assert, runAll, test } from '../harness.mjs';
import { baseArgs, canvasStats, executablePath, fileSources, SEED, typeAndWait, waitReady } from '../lib/app-page.mjs';
import { startHub } from '../lib/hub-server.mjs';
import { buildTinySd } from '../lib/tiny-sd.mjs';

export const name = 'model by URL';
export const envFlag = 'E2E_MODEL_URL';

/** Types a URL into the add-model panel, presses Check, waits for the verdict. */
async function check(page, url) {
  await page.evaluate(() => (document.getElementById('add-model-panel').open = true));
  await page.fill('#model-url', url);
  await page.click('#check-model');
  await page.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('add-model-status').dataset.state), null, {
    timeout: 60_000,
    polling: 100,
  });
  return {
    state: await page.getAttribute('#add-model-status', 'data-state'),
    error: await page.getAttribute('#add-model-status', 'data-error'),
    text: await page.textContent('#add-model-status'),
  };
}

/** Kills the generator worker and waits until its replacement has loaded the page's model again. */
async function replaceWorker(page) {
  const restarts = await page.evaluate(() => window.__onestep.restarts());
  await page.evaluate(() => window.__onestep.killWorker());
  await page.waitForFunction((n) => window.__onestep.restarts() > n, restarts, { timeout: 30_000 });
  await page.waitForFunction(() => document.getElementById('status').dataset.state === 'ready', null, { timeout: 120_000, polling: 200 });
}

/** Every key of the app's IndexedDB file store: complete files end in their name, chunks and partial records do not. */
function storedFileKeys(page) {
  return page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('onestep-models');
        open.onerror = reject;
        open.onsuccess = () => {
          const req = open.result.transaction('files').objectStore('files').getAllKeys();
          req.onsuccess = () => resolve(req.result.map(String));
          req.onerror = reject;
        };
      }),
  );
}

export async function run({ baseUrl, timings, root }) {
  const t0 = Date.now();
  const { cache, built } = buildTinySd(root);
  timings.tinySdBuildMs = Date.now() - t0;
  console.log(`  tiny SD pipeline ${built ? 'built and converted' : 'reused'} at ${cache} (${timings.tinySdBuildMs} ms)`);
  const euler = path.join(cache, 'euler');
  const manifest = JSON.parse(readFileSync(path.join(euler, 'manifest.json'), 'utf8'));
  const totalBytes = Object.values(manifest.files).reduce((s, f) => s + f.bytes, 0);

  const repos = {
    'onestep-test/tiny-sd': { dir: euler, license: 'MIT' },
    'onestep-test/tiny-sd-fp16': { dir: path.join(cache, 'fp16'), license: 'CC-BY-NC-SA-4.0' },
    // The published-export shape (no manifest.json) with the UNet missing.
    'onestep-test/no-unet': { dir: euler, license: 'MIT', hide: ['manifest.json', 'unet'] },
    'onestep-test/tiny-sd-corrupt': { dir: euler, license: 'MIT', corrupt: ['unet/model.onnx_data'] },
    'onestep-test/tiny-sd-stall': { dir: euler, license: 'MIT', stall: ['unet/model.onnx_data'] },
    // Stopped while it waits in the worker's queue behind a comparison.
    'onestep-test/tiny-sd-queued': { dir: euler, license: 'MIT' },
    // Its manifest's licence is changed mid-test.
    'onestep-test/tiny-sd-relicensed': { dir: euler, license: 'MIT' },
    // A valid manifest whose noise scale overflows float32: every UNet output is NaN.
    'onestep-test/tiny-sd-overflow': {
      dir: euler,
      license: 'MIT',
      manifest: (m) => ({ ...m, id: 'tiny-sd-overflow', one_step: { ...m.one_step, noise_scale: 1e39 } }),
    },
  };
  // Hostile repositories: each file below is served and listed as it is, with a manifest that
  // names its true size and sha256, so only the app's own checks stand between it and the pipeline.
  const junk = Buffer.from('this is not an ONNX model. '.repeat(2000));
  const badJson = Buffer.from('{"model": {"vocab": {"a": 1,');
  const vaeBytes = readFileSync(path.join(euler, manifest.files.vae_decoder.path));
  const sha = (b) => createHash('sha256').update(b).digest('hex');
  const swapFile = (key, bytes) => (m) => ({
    ...m,
    files: { ...m.files, [key]: { ...m.files[key], bytes: bytes.length, sha256: sha(bytes) } },
  });
  Object.assign(repos, {
    'onestep-test/not-onnx': {
      dir: euler,
      license: 'MIT',
      replace: { 'text_encoder/model.onnx': junk },
      manifest: swapFile('text_encoder', junk),
    },
    'onestep-test/bad-tokenizer': {
      dir: euler,
      license: 'MIT',
      replace: { [manifest.files.tokenizer.path]: badJson },
      manifest: swapFile('tokenizer', badJson),
    },
    'onestep-test/huge-tokenizer': {
      dir: euler,
      license: 'MIT',
      manifest: (m) => ({ ...m, files: { ...m.files, tokenizer: { ...m.files.tokenizer, bytes: 100 * 2 ** 20 } } }),
    },
    // A valid ONNX graph in the UNet's place whose tensors are not the manifest's (the decoder's).
    'onestep-test/wrong-graph': {
      dir: euler,
      license: 'MIT',
      replace: { [manifest.files.unet.path]: vaeBytes },
      manifest: swapFile('unet', vaeBytes),
    },
    'onestep-test/redirect-away': {
      dir: euler,
      license: 'MIT',
      redirect: { [manifest.files.unet_data.path]: 'https://evil.example/unet.onnx_data' },
    },
  });
  let hub = await startHub(repos);
  const modelId = `${new URL(hub.url).host}/onestep-test/tiny-sd`;
  const weightRequests = (repo) => hub.requests.filter((p) => p.startsWith(`/onestep-test/${repo}/resolve/`) && /\.onnx/.test(p));

  const browser = await chromium.launch({ executablePath, args: baseArgs }); // no WebGPU adapter
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const statusLog = [];

  try {
    test(
      'the shipped model loads, and the add-model panel lists the known SD-Turbo exports',
      async () => {
        await page.goto(`${baseUrl}?testhooks=1#seed=${SEED}`);
        await waitReady(page);
        const known = await page.textContent('#known-models');
        assert(/SD-Turbo/.test(known) && /stabilityai-non-commercial/.test(known), `known exports listed: "${known}"`);
      },
      { timeoutMs: 320_000 },
    );

    test('a plain-http URL to another host is refused (InsecureUrlError)', async () => {
      const r = await check(page, 'http://example.com/stabilityai/sd-turbo');
      assert(r.state === 'error' && r.error === 'InsecureUrlError', `refused: ${JSON.stringify(r)}`);
      assert(/https/.test(r.text), `says why: "${r.text}"`);
    });

    test('a repository without the needed files is refused, naming what is missing (LayoutError)', async () => {
      const r = await check(page, `${hub.url}/onestep-test/no-unet`);
      assert(r.state === 'error' && r.error === 'LayoutError', `refused: ${JSON.stringify(r)}`);
      assert(/unet\/model\.onnx/.test(r.text), `names the missing file: "${r.text}"`);
      const r2 = await check(page, `${hub.url}/onestep-test/does-not-exist`);
      assert(r2.error === 'LayoutError', `unknown repository refused: ${JSON.stringify(r2)}`);
    });

    test('an fp16 model is refused on a device without shader-f16, before any weight is downloaded', async () => {
      const r = await check(page, `${hub.url}/onestep-test/tiny-sd-fp16`);
      assert(r.state === 'error' && r.error === 'Fp16UnsupportedError', `refused: ${JSON.stringify(r)}`);
      assert(/shader-f16/.test(r.text), `says why: "${r.text}"`);
      assert(await page.isDisabled('#download-model'), 'download button disabled');
      assert((await page.getAttribute('#plan-license', 'data-license')) === 'CC-BY-NC-SA-4.0', 'licence still shown');
      assert(weightRequests('tiny-sd-fp16').length === 0, `no weights fetched: ${weightRequests('tiny-sd-fp16')}`);
    });

    test('a model larger than the free storage is refused before downloading (InsufficientStorageError)', async () => {
      // Chromium's CDP Storage.overrideQuotaForOrigin does not change navigator.storage.estimate()
      // here (measured: incognito, persistent profile, page and browser sessions), so the generator
      // worker's estimate is answered with a nearly full disk; the app's check and message are real.
      const worker = page.workers().find((w) => /generator/.test(w.url()));
      assert(worker, `the generator worker is reachable (${page.workers().map((w) => w.url())})`);
      await worker.evaluate(() => {
        self.__estimate = navigator.storage.estimate.bind(navigator.storage);
        navigator.storage.estimate = async () => ({ quota: 10 * 1024 * 1024 * 1024, usage: 10 * 1024 * 1024 * 1024 - 64 * 1024 });
      });
      try {
        const r = await check(page, `${hub.url}/onestep-test/tiny-sd`);
        assert(r.state === 'error' && r.error === 'InsufficientStorageError', `refused: ${JSON.stringify(r)}`);
        assert(/storage/i.test(r.text) && /64 KB/.test(r.text), `says why: "${r.text}"`);
        assert(weightRequests('tiny-sd').length === 0, 'no weights fetched');
      } finally {
        await worker.evaluate(() => (navigator.storage.estimate = self.__estimate));
      }
    });

    test(
      'a file whose sha256 differs is refused after download and never stored (IntegrityError)',
      async () => {
        const r = await check(page, `${hub.url}/onestep-test/tiny-sd-corrupt`);
        assert(r.state === 'ready', `plan accepted before download: ${JSON.stringify(r)}`);
        await page.click('#download-model');
        await page.waitForFunction(() => ['added', 'error'].includes(document.getElementById('add-model-status').dataset.state), null, {
          timeout: 120_000,
        });
        const error = await page.getAttribute('#add-model-status', 'data-error');
        assert(error === 'IntegrityError', `IntegrityError, got ${error}: ${await page.textContent('#add-model-status')}`);
        const stored = await storedFileKeys(page);
        const bad = stored.filter((k) => k.includes('tiny-sd-corrupt') && k.includes('/unet_data'));
        assert(bad.length === 0, `the corrupted file was not stored: ${bad}`);
        assert(
          stored.some((k) => k.includes('tiny-sd-corrupt') && k.endsWith('/unet')),
          'its good files were stored (so a retry only fetches the bad one)',
        );
        // The shipped model still runs: the failed add did not unload it.
        const s = await typeAndWait(page, 'red apple');
        assert(s.std > 8, 'shipped model still paints');
      },
      { timeoutMs: 180_000 },
    );

    /** Checks and downloads a repository that must be refused with `name`; returns the message. */
    const refusedDownload = async (repo, name) => {
      const r = await check(page, `${hub.url}/onestep-test/${repo}`);
      assert(r.state === 'ready', `plan accepted before download: ${JSON.stringify(r)}`);
      await page.click('#download-model');
      await page.waitForFunction(() => ['added', 'error'].includes(document.getElementById('add-model-status').dataset.state), null, {
        timeout: 120_000,
      });
      const error = await page.getAttribute('#add-model-status', 'data-error');
      const text = await page.textContent('#add-model-status');
      assert(error === name, `${name}, got ${error}: ${text}`);
      return text;
    };
    const storedOf = async (repo) => (await storedFileKeys(page)).filter((k) => k.includes(`/onestep-test/${repo}@`));

    test(
      'hostile repositories are refused with a named error, and nothing of them stays stored',
      async () => {
        const notOnnx = await refusedDownload('not-onnx', 'LayoutError');
        assert(/text_encoder\/model\.onnx is not a model the runtime can read/.test(notOnnx), `names the file: "${notOnnx}"`);
        assert((await storedOf('not-onnx')).length === 0, `nothing of it stored: ${await storedOf('not-onnx')}`);

        const badTok = await refusedDownload('bad-tokenizer', 'LayoutError');
        assert(/is not a tokenizer this app can read/.test(badTok), `says the tokenizer is unreadable: "${badTok}"`);
        assert((await storedOf('bad-tokenizer')).length === 0, `nothing of it stored: ${await storedOf('bad-tokenizer')}`);

        const wrong = await refusedDownload('wrong-graph', 'ManifestError');
        assert(/the unet graph does not match the manifest/.test(wrong) && /sample/.test(wrong), `names the tensors: "${wrong}"`);
        assert((await storedOf('wrong-graph')).length === 0, `nothing of it stored: ${await storedOf('wrong-graph')}`);

        // Too big to parse is refused from the listing, before anything is downloaded.
        const huge = await check(page, `${hub.url}/onestep-test/huge-tokenizer`);
        assert(
          huge.state === 'error' && huge.error === 'LayoutError' && /tokenizer.bytes/.test(huge.text) && /64 MiB/.test(huge.text),
          `refused before download: ${JSON.stringify(huge)}`,
        );
        assert(weightRequests('huge-tokenizer').length === 0, 'no weights requested');

        // The CSP blocks a redirect to a host outside the allow-list; the app says where it was sent.
        const away = await refusedDownload('redirect-away', 'HostNotAllowedError');
        assert(/redirected the download of unet_data/.test(away) && /not a host this app downloads from/.test(away), `says why: "${away}"`);

        await page.waitForFunction(() => document.getElementById('status').dataset.state !== 'loading', null, { timeout: 60_000 });
        const s = await typeAndWait(page, 'green frog');
        assert(s.std > 8, 'the shipped model still paints');
        assert((await page.getAttribute('#status', 'data-model')) === 'onestep-emoji', 'and is still the model in use');
      },
      { timeoutMs: 300_000 },
    );

    test(
      'a model whose output is NaN is caught before painting, and says so (BadOutputError)',
      async () => {
        // Its own context (own IndexedDB): the suite's page and its models are left as they are.
        const own = await browser.newContext({ viewport: { width: 390, height: 844 } });
        const p = await own.newPage();
        try {
          await p.goto(`${baseUrl}?testhooks=1#seed=${SEED}`);
          await waitReady(p, { teacher: false });
          const before = await typeAndWait(p, 'red apple');
          const painted = await p.getAttribute('#output', 'data-generation');
          const r = await check(p, `${hub.url}/onestep-test/tiny-sd-overflow`);
          assert(r.state === 'ready', `plan accepted (the manifest is valid): ${JSON.stringify(r)}`);
          await p.click('#download-model');
          await p.waitForFunction(() => ['added', 'error'].includes(document.getElementById('add-model-status').dataset.state), null, {
            timeout: 180_000,
            polling: 100,
          });
          assert(
            (await p.getAttribute('#add-model-status', 'data-state')) === 'added',
            `added: ${await p.textContent('#add-model-status')}`,
          );
          await p.fill('#prompt', 'a cat');
          await p.waitForFunction(() => document.getElementById('status').dataset.state === 'error', null, {
            timeout: 60_000,
            polling: 100,
          });
          const error = await p.getAttribute('#status', 'data-error');
          const text = await p.textContent('#status');
          assert(error === 'BadOutputError', `BadOutputError, got ${error}: ${text}`);
          assert(/not numbers/.test(text) && /nothing was painted/.test(text), `says what went wrong: "${text}"`);
          assert((await p.getAttribute('#output', 'data-generation')) === painted, 'the NaN image was not painted');
          assert((await canvasStats(p)).hash === before.hash, 'the last good image stays on the canvas');
        } finally {
          await own.close();
        }
      },
      { timeoutMs: 300_000 },
    );

    test(
      'a download that hangs can be stopped: complete files stay saved, the shipped model keeps painting',
      async () => {
        const r = await check(page, `${hub.url}/onestep-test/tiny-sd-stall`);
        assert(r.state === 'ready', `plan accepted: ${JSON.stringify(r)}`);
        assert(await page.isHidden('#stop-download'), 'no stop button before a download');
        const shipped = await page.getAttribute('#status', 'data-model');
        await page.click('#download-model');
        for (let i = 0; i < 600 && !weightRequests('tiny-sd-stall').some((p) => p.endsWith('unet/model.onnx_data')); i++)
          await new Promise((res) => setTimeout(res, 100));
        assert(
          weightRequests('tiny-sd-stall').some((p) => p.endsWith('unet/model.onnx_data')),
          'the hanging file was requested',
        );
        assert(
          (await page.getAttribute('#add-model-status', 'data-state')) === 'loading',
          'still downloading: the hub never finishes the file',
        );
        await page.click('#stop-download');
        await page.waitForFunction(() => document.getElementById('add-model-status').dataset.state !== 'loading', null, {
          timeout: 30_000,
          polling: 100,
        });
        const state = await page.getAttribute('#add-model-status', 'data-state');
        const error = await page.getAttribute('#add-model-status', 'data-error');
        const text = await page.textContent('#add-model-status');
        assert(state === 'stopped' && error === 'LoadCancelledError', `stopped (LoadCancelledError), got ${state}/${error}: ${text}`);
        assert(/continues/.test(text), `says how to go on: "${text}"`);
        assert(await page.isHidden('#stop-download'), 'stop button hidden again');
        assert(await page.isEnabled('#download-model'), 'the download can be started again');
        const stored = (await storedFileKeys(page)).filter((k) => k.includes('tiny-sd-stall'));
        assert(
          stored.some((k) => k.endsWith('/unet')) && !stored.some((k) => k.endsWith('/unet_data')),
          `files completed before the stop stay, the hanging one is not indexed: ${stored}`,
        );
        assert((await page.getAttribute('#status', 'data-model')) === shipped, 'the shipped model is still the one in use');
        const s = await typeAndWait(page, 'red apple');
        assert(s.std > 8, 'shipped model still paints');
      },
      { timeoutMs: 120_000 },
    );

    test(
      'a download stopped while it waits behind a running comparison never starts, and the comparison finishes',
      async () => {
        const r = await check(page, `${hub.url}/onestep-test/tiny-sd-queued`);
        assert(r.state === 'ready', `plan accepted: ${JSON.stringify(r)}`);
        assert(await page.isEnabled('#compare'), `compare is offered: ${await page.getAttribute('#compare', 'title')}`);
        const shipped = await page.getAttribute('#status', 'data-model');
        // Download and Stop are pressed in the page at the teacher's first step, so the add is queued
        // behind the teacher's run in the worker and the stop reaches it before its turn.
        const pressedAt = await page.evaluate(
          () =>
            new Promise((resolve, reject) => {
              const caption = document.getElementById('teacher-caption');
              setTimeout(() => reject(new Error(`the teacher never reported a step: "${caption.textContent}"`)), 60_000);
              const watch = new MutationObserver(() => {
                if (!/step \d+ of/.test(caption.textContent ?? '')) return;
                watch.disconnect();
                document.getElementById('download-model').click();
                document.getElementById('stop-download').click();
                resolve(caption.textContent);
              });
              watch.observe(caption, { childList: true, characterData: true, subtree: true });
              document.getElementById('compare').click();
            }),
        );
        const [, step, steps] = /step (\d+) of (\d+)/.exec(pressedAt).map(Number);
        assert(step < steps, `pressed while the teacher still had steps to run (${pressedAt})`);
        await page.waitForFunction(() => document.getElementById('add-model-status').dataset.state !== 'loading', null, {
          timeout: 120_000,
          polling: 100,
        });
        const state = await page.getAttribute('#add-model-status', 'data-state');
        const error = await page.getAttribute('#add-model-status', 'data-error');
        assert(
          state === 'stopped' && error === 'LoadCancelledError',
          `stopped in the queue (pressed at "${pressedAt}"), got ${state}/${error}: ${await page.textContent('#add-model-status')}`,
        );
        await page.waitForFunction(() => /ms$/.test(document.getElementById('teacher-caption').textContent ?? ''), null, {
          timeout: 120_000,
          polling: 250,
        });
        assert((await canvasStats(page, 'teacher-canvas')).std > 8, 'the comparison finished with a teacher image');
        assert(weightRequests('tiny-sd-queued').length === 0, `no weight requested: ${weightRequests('tiny-sd-queued')}`);
        assert(
          (await storedFileKeys(page)).every((k) => !k.includes('tiny-sd-queued')),
          'nothing of it stored',
        );
        assert((await page.getAttribute('#status', 'data-model')) === shipped, 'the shipped model is still the one in use');
        assert(await page.isEnabled('#download-model'), 'the download can be started again');
      },
      { timeoutMs: 240_000 },
    );

    test(
      'after a worker restart, a plan whose repository changed its licence is refused, not downloaded',
      async () => {
        const r = await check(page, `${hub.url}/onestep-test/tiny-sd-relicensed`);
        assert(r.state === 'ready', `plan accepted: ${JSON.stringify(r)}`);
        assert((await page.getAttribute('#plan-license', 'data-license')) === 'MIT', 'the plan shows MIT');
        repos['onestep-test/tiny-sd-relicensed'].manifest = (m) => ({ ...m, license: { weights: 'CC-BY-NC-4.0' } });
        await replaceWorker(page);
        await page.click('#download-model');
        await page.waitForFunction(() => ['added', 'error'].includes(document.getElementById('add-model-status').dataset.state), null, {
          timeout: 60_000,
          polling: 100,
        });
        const error = await page.getAttribute('#add-model-status', 'data-error');
        const text = await page.textContent('#add-model-status');
        assert(error === 'LayoutError' && /changed since it was checked/.test(text), `refused as changed: ${error}: ${text}`);
        assert(weightRequests('tiny-sd-relicensed').length === 0, `no weights downloaded: ${weightRequests('tiny-sd-relicensed')}`);
        assert(await page.isHidden('#model-plan'), 'the stale plan is withdrawn (Check reads the repository again)');
      },
      { timeoutMs: 180_000 },
    );

    const ADD =
      'adds the tiny SD by URL: size and licence shown, downloads with progress (after a worker restart), verifies, caches, generates';
    test(
      ADD,
      async () => {
        await page.evaluate(() => {
          window.__statusLog = [];
          const s = document.getElementById('status');
          new MutationObserver(() => window.__statusLog.push(s.textContent)).observe(s, {
            childList: true,
            characterData: true,
            subtree: true,
          });
          // What the status said when Stop went grey (it must not before the files are all in).
          const stop = document.getElementById('stop-download');
          new MutationObserver(
            () => stop.disabled && !stop.hidden && !window.__stopGreyedAt && (window.__stopGreyedAt = s.textContent),
          ).observe(stop, { attributes: true, attributeFilter: ['disabled', 'hidden'] });
        });
        const r = await check(page, `${hub.url}/onestep-test/tiny-sd`);
        assert(r.state === 'ready' && !r.error, `device can run it: ${JSON.stringify(r)}`);
        assert(Number(await page.getAttribute('#plan-size', 'data-bytes')) === totalBytes, `total size ${totalBytes} shown`);
        assert((await page.getAttribute('#plan-license', 'data-license')) === 'MIT', 'licence shown');
        assert(/SD-Turbo one-step rule/.test(await page.textContent('#plan-size')), 'the one-step rule is named');
        assert(weightRequests('tiny-sd').length === 0, 'nothing downloaded before confirming');

        // While the person reads the plan the worker dies and is replaced: the new one never saw the
        // plan, and "Download and use" must still add the model it describes.
        await replaceWorker(page);
        assert(await page.isEnabled('#download-model'), 'the plan is still offered after the restart');

        await page.click('#download-model');
        await page.waitForFunction(
          (id) => {
            const s = document.getElementById('status');
            return (
              (s.dataset.model === id && s.dataset.state !== 'loading') ||
              document.getElementById('add-model-status').dataset.state === 'error'
            );
          },
          modelId,
          { timeout: 180_000, polling: 100 },
        );
        assert(
          (await page.getAttribute('#add-model-status', 'data-state')) === 'added',
          `added: ${await page.textContent('#add-model-status')}`,
        );
        assert(await page.isHidden('#stop-download'), 'no stop button once the model is added');
        const greyedAt = await page.evaluate(() => window.__stopGreyedAt);
        assert(/^All files are in/.test(greyedAt ?? ''), `Stop is disabled once every file is in, not before: "${greyedAt}"`);
        statusLog.push(...(await page.evaluate(() => window.__statusLog)));
        assert(
          statusLog.some((t) => /Downloading unet_data: \d+% of/.test(t)),
          `download progress shown: ${statusLog.slice(0, 8).join(' | ')}`,
        );
        assert(
          statusLog.some((t) => /Checking unet_data/.test(t)),
          'sha256 check shown',
        );
        assert(
          statusLog.some((t) => /Saved unet_data on this device/.test(t)),
          'stored in IndexedDB',
        );
        const fetched = weightRequests('tiny-sd')
          .map((p) => p.split('/resolve/main/')[1])
          .sort();
        assert(
          JSON.stringify(fetched) ===
            JSON.stringify(['text_encoder/model.onnx', 'unet/model.onnx', 'unet/model.onnx_data', 'vae_decoder/model.onnx']),
          `graph + external data fetched once each: ${fetched}`,
        );
        const sources = await fileSources(page);
        assert(
          Object.keys(sources).length === 6 && Object.values(sources).every((s) => s === 'network'),
          `all downloaded: ${JSON.stringify(sources)}`,
        );
        assert(new URL(page.url()).searchParams.get('model') === modelId, 'the address names the model');

        const s = await typeAndWait(page, 'a red apple');
        timings.urlModelMsPerImage = Number(await page.getAttribute('#status', 'data-ms'));
        assert(s.width === 128 && s.height === 128, `128×128 image (${s.width}×${s.height})`);
        assert(s.std > 1, `not a flat image (std ${s.std.toFixed(1)})`);
        const other = await typeAndWait(page, 'a smiling cat');
        assert(other.hash !== s.hash, 'another prompt, another image (the CLIP tokenizer and text encoder reach the UNet)');
        await typeAndWait(page, 'a red apple');
        assert((await canvasStats(page)).hash === s.hash, 'same prompt and seed, same pixels');
        timings.urlModelImageHash = s.hash;
      },
      { timeoutMs: 240_000 },
    );

    if (process.env.E2E_URL_WEBGPU === '1') {
      // Opt-in (SwiftShader is slow): the same model on WebGPU, where the text encoder's output is
      // kept in GPU memory (preferredOutputLocation 'gpu-buffer') and fed to the UNet as is.
      test(
        'on WebGPU (SwiftShader) the added model generates with a GPU-resident embedding',
        async () => {
          const gpuBrowser = await chromium.launch({ executablePath, args: [...baseArgs, '--enable-unsafe-webgpu'] });
          try {
            const gpuPage = await (await gpuBrowser.newContext()).newPage();
            // The prompt comes in the link, so the one image made right after loading is the one
            // checked (SwiftShader needs minutes per image; a second one would double that).
            await gpuPage.goto(`${baseUrl}?model=none#prompt=a+red+apple&seed=${SEED}`);
            const r = await check(gpuPage, `${hub.url}/onestep-test/tiny-sd`);
            assert(r.state === 'ready', `device can run it: ${JSON.stringify(r)}`);
            await gpuPage.click('#download-model');
            await gpuPage.waitForFunction(
              (id) =>
                document.getElementById('status').dataset.model === id ||
                document.getElementById('add-model-status').dataset.state === 'error',
              modelId,
              { timeout: 300_000 },
            );
            assert((await gpuPage.getAttribute('#status', 'data-backend')) === 'webgpu', 'runs on WebGPU');
            await gpuPage.waitForFunction(
              () => {
                const s = document.getElementById('status');
                return (
                  (Number(document.getElementById('output').dataset.generation ?? 0) >= 1 && s.dataset.state === 'ready') ||
                  s.dataset.state === 'error'
                );
              },
              null,
              { timeout: 540_000, polling: 500 },
            );
            assert((await gpuPage.getAttribute('#status', 'data-state')) === 'ready', `no error: ${await gpuPage.textContent('#status')}`);
            const s = await canvasStats(gpuPage);
            timings.urlModelWebGpuMs = Number(await gpuPage.getAttribute('#status', 'data-ms'));
            assert(s.width === 128 && s.std > 1, `image painted on WebGPU (std ${s.std.toFixed(1)})`);
          } finally {
            await gpuBrowser.close();
          }
        },
        { timeoutMs: 900_000, needs: [ADD] },
      );
    }

    test(
      'with the hub stopped, a reload loads the added model from IndexedDB and paints the same image',
      async () => {
        const before = timings.urlModelImageHash;
        await hub.stop();
        hub = null;
        await page.reload();
        await waitReady(page);
        assert((await page.getAttribute('#status', 'data-model')) === modelId, 'the added model loaded again');
        const sources = await fileSources(page);
        assert(
          Object.values(sources).every((s) => s === 'cache'),
          `every file from this device: ${JSON.stringify(sources)}`,
        );
        const s = await typeAndWait(page, 'a red apple');
        assert(s.hash === before, `same pixels offline (${s.hash} vs ${before})`);
      },
      { timeoutMs: 120_000, needs: [ADD] },
    );

    test('the page has no console errors', async () => {
      // Refused loads log nothing; failed fetches of the stopped hub would, but none are made.
      const real = consoleErrors.filter((e) => !/favicon|Failed to load resource/.test(e));
      assert(real.length === 0, `console errors: ${real.join(' | ')}`);
    });

    return await runAll();
  } finally {
    await browser.close();
    await hub?.stop();
  }
}
