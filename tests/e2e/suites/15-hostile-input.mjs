// Hostile input from the person and from links (issue 25): each is fed to the built app in real
// Chromium, and each gives a painted image or a clear message, loses nothing, asks no unexpected
// host, and does bounded work. Prompts: control characters, lone surrogates, RTL and combining
// marks, emoji only, a 100,000-character paste. Seeds: the one rule (src/ui/seed.ts), in the box and
// in a link. Links: `?model=` naming an unknown host, a `..` path, encoded slashes, 10 kB of junk; a
// fragment that is not valid UTF-8.
import { chromium } from 'playwright-core';
import { assert, runAll, test } from '../harness.mjs';
import { SEED, baseArgs, executablePath, typeAndWait, waitReady } from '../lib/app-page.mjs';

export const name = 'hostile input';
export const envFlag = 'E2E_HOSTILE';

const LOADED = 'the app loads (the model cached for the tests below)';

export async function run({ baseUrl }) {
  const browser = await chromium.launch({ executablePath, args: baseArgs });
  const context = await browser.newContext();
  const origin = new URL(baseUrl).origin;
  const requests = [];
  context.on('request', (r) => requests.push(r.url()));
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  // A fresh query each visit: a goto that changes only the fragment would not reload the page.
  let visits = 0;
  const open = (query, hash = '') => page.goto(`${baseUrl}?backend=wasm&visit=${++visits}${query}${hash}`);
  const generation = async () => Number((await page.getAttribute('#output', 'data-generation')) ?? 0);

  test(
    LOADED,
    async () => {
      await open('', `#seed=${SEED}`);
      await waitReady(page, { teacher: false });
    },
    { timeoutMs: 320_000 },
  );

  test(
    'prompts with control characters, lone surrogates, RTL and combining marks, or only emoji paint',
    async () => {
      // Set in the page, not through the protocol: the protocol's UTF-8 would turn a lone surrogate
      // into U+FFFD before the app saw it.
      const prompts = [
        'red\u0000apple\u0007\u001b[31m\u200b',
        'cat \ud83d face',
        '\u202eقطة مبتسمة red apple',
        'e\u0301\u0301\u0301 cafe\u0301',
        '🍎🐱🚀',
      ];
      for (let i = 0; i < prompts.length; i++) {
        const before = await generation();
        await page.evaluate(
          ({ list, i }) => {
            const box = document.getElementById('prompt');
            box.value = list[i];
            box.dispatchEvent(new Event('input', { bubbles: true }));
          },
          { list: prompts, i },
        );
        await page.waitForFunction(
          (b) =>
            Number(document.getElementById('output').dataset.generation) > b &&
            ['ready', 'error'].includes(document.getElementById('status').dataset.state),
          before,
          { timeout: 60_000 },
        );
        const seen = await page.evaluate(() => ({
          same: document.getElementById('prompt').value === document.getElementById('output').dataset.prompt,
          state: document.getElementById('status').dataset.state,
        }));
        assert(
          seen.same && seen.state === 'ready',
          `prompt ${i} (${JSON.stringify(prompts[i])}) painted as typed: ${JSON.stringify(seen)}`,
        );
      }
      assert(pageErrors.length === 0, `no page errors: ${pageErrors.join(' | ')}`);
    },
    { needs: [LOADED], timeoutMs: 200_000 },
  );

  test(
    'a 100,000-character paste paints, and the box keeps working',
    async () => {
      const paste = 'zebra crossing at night with neon lights '.repeat(2500).slice(0, 100_000);
      const before = await generation();
      await page.evaluate((text) => {
        const box = document.getElementById('prompt');
        box.value = text; // one paste: one input event
        box.dispatchEvent(new Event('input', { bubbles: true }));
      }, paste);
      await page.waitForFunction(
        (b) =>
          Number(document.getElementById('output').dataset.generation) > b && document.getElementById('status').dataset.state === 'ready',
        before,
        { timeout: 60_000 },
      );
      assert((await page.inputValue('#prompt')).length === 100_000, 'the box holds the whole paste');
      const s = await typeAndWait(page, 'red apple');
      assert(s.std > 8, 'the next prompt paints');
    },
    { needs: [LOADED], timeoutMs: 200_000 },
  );

  test(
    'a seed that breaks the rule is refused in words, the image keeps its seed; a good one paints',
    async () => {
      await typeAndWait(page, 'rocket');
      const seed = await page.getAttribute('#output', 'data-seed');
      for (const bad of ['-1', '1.5', '4294967296', '1e3', '']) {
        const before = await generation();
        await page.fill('#seed', bad);
        await page.waitForTimeout(300); // longer than the typing debounce: a request would have started
        const hint = await page.textContent('#seed-hint');
        assert(
          !(await page.isHidden('#seed-hint')) && /whole number from 0 to 4294967295/.test(hint ?? ''),
          `the rule is said for "${bad}": "${hint}"`,
        );
        assert((await page.getAttribute('#seed', 'aria-invalid')) === 'true', `the box is marked invalid for "${bad}"`);
        assert((await generation()) === before && (await page.getAttribute('#output', 'data-seed')) === seed, `no new image for "${bad}"`);
      }
      await page.fill('#seed', '5');
      await page.waitForFunction(
        () => document.getElementById('output').dataset.seed === '5' && document.getElementById('status').dataset.state === 'ready',
        null,
        { timeout: 60_000 },
      );
      assert(await page.isHidden('#seed-hint'), 'the hint goes when the seed is good again');
    },
    { needs: [LOADED], timeoutMs: 200_000 },
  );

  test(
    'a link whose seed breaks the rule says so and is not wrapped into another seed',
    async () => {
      // 2^32 + 5 would be seed 5 if it were wrapped
      await open('', `#${new URLSearchParams({ prompt: 'rocket', seed: '4294967301' })}`);
      await waitReady(page, { teacher: false });
      await page.waitForFunction(() => document.getElementById('output').dataset.generation !== undefined, null, { timeout: 60_000 });
      const hint = await page.textContent('#seed-hint');
      assert(/link's seed "4294967301" is not a whole number from 0 to 4294967295/.test(hint ?? ''), `the page says why: "${hint}"`);
      assert((await page.getAttribute('#output', 'data-seed')) !== '5', 'not wrapped to seed 5');
    },
    { needs: [LOADED], timeoutMs: 200_000 },
  );

  test(
    'a fragment that is not valid UTF-8 or is JSON opens the app and paints',
    async () => {
      for (const hash of ['#prompt=%FF%FE%E0%A4&seed=%C0%80', '#{"prompt":"x","seed":1}', `#${'%'.repeat(5000)}`]) {
        await open('', hash);
        await waitReady(page, { teacher: false });
        await page.fill('#prompt', 'sun');
        await page.waitForFunction(
          () => document.getElementById('output').dataset.prompt === 'sun' && document.getElementById('status').dataset.state === 'ready',
          null,
          { timeout: 60_000 },
        );
      }
      assert(pageErrors.length === 0, `no page errors: ${pageErrors.join(' | ')}`);
    },
    { needs: [LOADED], timeoutMs: 300_000 },
  );

  test(
    '?model= naming another host, a .. path, encoded slashes or 10 kB of junk: no request, a message, the default model paints',
    async () => {
      const junk = 'x'.repeat(10_000);
      for (const id of ['https://evil.example/model', '../../../etc/passwd', 'owner%2F..%2Fx', 'a/../../models/index.json', junk]) {
        requests.length = 0;
        await open(`&model=${encodeURIComponent(id)}`, '#prompt=sun&seed=1');
        await waitReady(page, { teacher: false });
        await page.waitForFunction(() => document.getElementById('output').dataset.generation !== undefined, null, { timeout: 60_000 });
        const notice = (await page.textContent('#notice')) ?? '';
        assert(/neither ships nor has added, so the default model is open/.test(notice), `a message for ${id.slice(0, 40)}: "${notice}"`);
        assert(notice.length < 300, `the message quotes a bounded part of the id (${notice.length} characters)`);
        assert(!page.url().includes('model='), 'the bad id is taken out of the address, so a reload opens the app cleanly');
        const foreign = requests.filter((u) => !u.startsWith(`${origin}/`));
        const probing = requests.filter((u) => /etc\/passwd|evil|xxxxxxxxxx/.test(u.split('?')[0].split('#')[0].slice(origin.length)));
        assert(foreign.length === 0 && probing.length === 0, `no request for the id: ${[...foreign, ...probing].join(', ')}`);
      }
    },
    { needs: [LOADED], timeoutMs: 400_000 },
  );

  try {
    return await runAll();
  } finally {
    await browser.close();
  }
}
