// Security and privacy on the built app: in normal use every request goes to the page's own
// origin and none carries the prompt; the Content-Security-Policy is sent (header and meta) and
// nothing the app does violates it (ORT's WASM included); markup or script typed into the prompt
// or put in a shared link never runs, and even a script element injected into the page is blocked;
// Trusted Types let no string become markup and start only our own scripts.
import { chromium } from 'playwright-core';
import { assert, runAll, test } from '../harness.mjs';
import { baseArgs, executablePath, typeAndWait, waitReady } from '../lib/app-page.mjs';

export const name = 'privacy and CSP';
export const envFlag = 'E2E_PRIVACY';

const VIOLATIONS_INIT = () => {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) =>
    window.__cspViolations.push({ directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample }),
  );
};

export async function run({ baseUrl }) {
  const browser = await chromium.launch({ executablePath, args: baseArgs });
  const context = await browser.newContext({ acceptDownloads: true });
  await context.addInitScript(VIOLATIONS_INIT);
  const origin = new URL(baseUrl).origin;
  const requests = [];
  const from = (r) => {
    if (r.serviceWorker()) return 'service worker';
    try {
      return r.frame() ? 'page' : 'worker';
    } catch {
      return 'worker';
    }
  };
  context.on('request', (r) => requests.push({ url: r.url(), post: r.postData() ?? '', headers: r.headers(), from: from(r) }));
  const page = await context.newPage();
  const secret = `zq-private-${Math.random().toString(36).slice(2, 10)}`;
  let docResponse = null;

  test(
    'normal use: every request is to our own origin, and the prompt is never sent',
    async () => {
      docResponse = await page.goto(`${baseUrl}?backend=wasm`);
      await waitReady(page);
      await typeAndWait(page, `${secret} red apple`);
      await page.click('#shuffle');
      await page.waitForFunction(() => document.getElementById('status').dataset.state === 'ready', null, { timeout: 60_000 });
      await page.click('#variations');
      await page.waitForFunction(() => document.querySelectorAll('#variations-grid canvas').length > 0, null, { timeout: 120_000 });
      const dl = page.waitForEvent('download', { timeout: 30_000 });
      await page.click('#download');
      await (await dl).path();
      await page.click('#share');
      await page
        .waitForFunction(() => document.getElementById('app-state').dataset.state === 'offline-ready', null, { timeout: 120_000 })
        .catch(() => undefined);
      await page.reload();
      await waitReady(page);
      const foreign = requests.filter((r) => !r.url.startsWith(`${origin}/`) && !/^(data|blob):/.test(r.url));
      console.log(
        `    ${requests.length} requests (${[...new Set(requests.map((r) => r.from))].join(', ')}), ${foreign.length} to other origins`,
      );
      assert(requests.length > 10, `requests were recorded (${requests.length})`);
      assert(
        requests.some((r) => /\.onnx(\.pack)?$/.test(r.url)),
        "the worker's model downloads were observed too",
      );
      assert(foreign.length === 0, `only our origin: ${foreign.map((r) => r.url).join(', ')}`);
      const leaks = requests.filter(
        (r) => r.url.includes(secret) || r.post.includes(secret) || Object.values(r.headers).some((v) => v.includes(secret)),
      );
      assert(leaks.length === 0, `the prompt never appears in a request: ${leaks.map((r) => r.url).join(', ')}`);
      assert(page.url().includes(secret.slice(0, 6)) || page.url().includes('#'), 'the prompt lives in the URL fragment only');
    },
    { timeoutMs: 400_000 },
  );

  test(
    'the CSP is sent as a header and a meta tag, strict, and the app runs without a violation',
    async () => {
      const csp = docResponse.headers()['content-security-policy'] ?? '';
      const meta = await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content');
      for (const policy of [csp, meta]) {
        assert(/script-src 'self' 'wasm-unsafe-eval'(;|$)/.test(policy ?? ''), `script-src is self + wasm only: "${policy}"`);
        // connect-src: our origin, the model hub and its download hosts (only ever contacted when a
        // person adds a model by URL; the request check above shows normal use stays on our origin),
        // and in this test build loopback http for the model-by-URL suite's local hub. Nothing else.
        const connect = /connect-src ([^;]*)/.exec(policy ?? '')?.[1].split(' ') ?? [];
        const allowed = [
          "'self'",
          'https://huggingface.co',
          'https://*.huggingface.co',
          'https://*.hf.co',
          'http://127.0.0.1:*',
          'http://localhost:*',
        ];
        assert(
          connect[0] === "'self'" && connect.every((s) => allowed.includes(s)),
          `connect-src is our origin plus the model hosts only: "${policy}"`,
        );
        assert(!/unsafe-inline|'unsafe-eval'/.test(policy ?? ''), `no unsafe-inline / unsafe-eval: "${policy}"`);
      }
      // the build put the same policy in both places: every meta directive is the header's, and the
      // header has only frame-ancestors more (browsers ignore it in a meta tag)
      const parse = (p) =>
        new Map(
          (p ?? '')
            .split(/;\s*/)
            .filter(Boolean)
            .map((d) => [d.split(' ')[0], d.trim()]),
        );
      const [h, m] = [parse(csp), parse(meta)];
      const differ = [...new Set([...h.keys(), ...m.keys()])].filter((k) => k !== 'frame-ancestors' && h.get(k) !== m.get(k));
      assert(differ.length === 0, `header and meta differ in: ${differ.map((k) => `${k} ("${h.get(k)}" vs "${m.get(k)}")`).join(', ')}`);
      assert(h.get('frame-ancestors') === "frame-ancestors 'none'" && !m.has('frame-ancestors'), 'frame-ancestors in the header only');
      assert(h.get('require-trusted-types-for') === "require-trusted-types-for 'script'", `Trusted Types are required: "${csp}"`);
      const violations = await page.evaluate(() => window.__cspViolations);
      assert(violations.length === 0, `no CSP violation in normal use (ORT WASM, workers, canvas, icons): ${JSON.stringify(violations)}`);
      assert(await page.evaluate(() => crossOriginIsolated), 'still cross-origin isolated');
    },
    { needs: ['normal use: every request is to our own origin, and the prompt is never sent'] },
  );

  test(
    'script typed into the prompt or put in a shared link never runs; injected inline script is blocked',
    async () => {
      const evil = '"><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"><svg onload="window.__pwned=3">';
      await typeAndWait(page, evil);
      await page.goto(`${baseUrl}?backend=wasm#${new URLSearchParams({ prompt: evil, seed: '1' })}`);
      await waitReady(page);
      await page.waitForFunction(() => document.getElementById('output').dataset.generation !== undefined, null, { timeout: 120_000 });
      assert((await page.inputValue('#prompt')) === evil, 'the shared prompt is restored as plain text');
      assert((await page.evaluate(() => window.__pwned)) === undefined, 'nothing from the prompt ran');
      assert(
        (await page.$$('body script:not([src]), body img[src="x"], body svg[onload]')).length === 0,
        'no element was made from the prompt',
      );
      // Defence in depth: even if some bug put a script element into the page, the CSP blocks it.
      const blocked = await page.evaluate(async () => {
        // Trusted Types refuse the script's text before script-src gets to refuse running it.
        const refused = [];
        try {
          const s = document.createElement('script');
          s.textContent = 'window.__inline = 1';
          document.body.append(s);
        } catch (e) {
          refused.push(`inline: ${e.name}`);
        }
        // A string timer is compiled later, as page code, so the CSP's ban on eval applies to it
        // (code run through the debugger protocol itself is exempt, so eval() here would prove nothing).
        try {
          setTimeout('window.__evalRan = 1', 0);
        } catch (e) {
          refused.push(`timer: ${e.name}`);
        }
        await new Promise((r) => setTimeout(r, 200));
        return { inline: window.__inline, evalRan: window.__evalRan, refused, violations: window.__cspViolations.map((v) => v.directive) };
      });
      assert(blocked.inline === undefined, 'an injected inline script did not run');
      assert(blocked.evalRan === undefined, 'string eval (setTimeout with code) is refused');
      assert(
        blocked.violations.some((d) => d.startsWith('script-src') || d === 'require-trusted-types-for'),
        `the browser reported the violation: ${JSON.stringify(blocked)}`,
      );
    },
    { timeoutMs: 300_000 },
  );

  test(
    'Trusted Types: no string becomes markup, and only our own scripts start',
    async () => {
      await page.goto(`${baseUrl}?backend=wasm`);
      await waitReady(page);
      const tried = await page.evaluate(() => {
        const attempt = (f) => {
          try {
            f();
            return 'allowed';
          } catch (e) {
            return `${e.name}: ${e.message}`;
          }
        };
        return {
          html: attempt(() => {
            document.createElement('div').innerHTML = '<img src=x onerror="window.__pwned=4">';
          }),
          foreignWorker: attempt(() => new Worker('https://evil.example/x.js')),
          // the policy's check is synchronous; the page's own URL then fails to run as script, harmlessly
          ownWorker: attempt(() => new Worker(location.href).terminate()),
          anotherPolicy: attempt(() => window.trustedTypes.createPolicy('mine', { createHTML: (s) => s })),
        };
      });
      console.log(`    ${JSON.stringify(tried)}`);
      assert(/TypeError/.test(tried.html), `innerHTML with a string is refused: ${tried.html}`);
      assert(
        /only this site's own scripts/.test(tried.foreignWorker),
        `a foreign script URL is refused by our policy: ${tried.foreignWorker}`,
      );
      assert(tried.ownWorker === 'allowed', `a script of our own origin still starts: ${tried.ownWorker}`);
      assert(tried.anotherPolicy !== 'allowed', `no second policy can be made: ${tried.anotherPolicy}`);
      // the page above loaded the model and painted with these rules in force (worker, ORT threads, SW)
      assert(
        await page.evaluate(() => document.getElementById('status').dataset.state === 'ready'),
        'the app is ready under Trusted Types',
      );
    },
    { timeoutMs: 200_000 },
  );

  try {
    return await runAll();
  } finally {
    await browser.close();
  }
}
