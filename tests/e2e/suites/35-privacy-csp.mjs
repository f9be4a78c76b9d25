// Security and privacy on the built app: in normal use every request goes to the page's own
// origin and none carries the prompt; the Content-Security-Policy is sent (header and meta) and
// nothing the app does violates it (ORT's WASM included); markup or script typed into the prompt
// or put in a shared link never runs, and even a script element injected into the page is blocked.
import { chromium } from 'playwright-core';
import { assert, runAll, test } from '../harness.mjs';
import { baseArgs, executablePath, typeAndWait, waitReady } from '../lib/app-page.mjs';

export const name = 'privacy and CSP';
export const envFlag = 'E2E_PRIVACY';

const VIOLATIONS_INIT = () => {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push({ directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample }));
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

  test('normal use: every request is to our own origin, and the prompt is never sent', async () => {
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
    await page.waitForFunction(() => document.getElementById('app-state').dataset.state === 'offline-ready', null, { timeout: 120_000 }).catch(() => undefined);
    await page.reload();
    await waitReady(page);
    const foreign = requests.filter((r) => !r.url.startsWith(`${origin}/`) && !/^(data|blob):/.test(r.url));
    console.log(`    ${requests.length} requests (${[...new Set(requests.map((r) => r.from))].join(', ')}), ${foreign.length} to other origins`);
    assert(requests.length > 10, `requests were recorded (${requests.length})`);
    assert(requests.some((r) => /\.onnx$/.test(r.url)), 'the worker\'s model downloads were observed too');
    assert(foreign.length === 0, `only our origin: ${foreign.map((r) => r.url).join(', ')}`);
    const leaks = requests.filter((r) => r.url.includes(secret) || r.post.includes(secret) || Object.values(r.headers).some((v) => v.includes(secret)));
    assert(leaks.length === 0, `the prompt never appears in a request: ${leaks.map((r) => r.url).join(', ')}`);
    assert(page.url().includes(secret.slice(0, 6)) || page.url().includes('#'), 'the prompt lives in the URL fragment only');
  }, { timeoutMs: 400_000 });

  test('the CSP is sent as a header and a meta tag, strict, and the app runs without a violation', async () => {
    const csp = docResponse.headers()['content-security-policy'] ?? '';
    const meta = await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content');
    for (const policy of [csp, meta]) {
      assert(/script-src 'self' 'wasm-unsafe-eval'(;|$)/.test(policy ?? ''), `script-src is self + wasm only: "${policy}"`);
      // connect-src: our origin, the model hub and its download hosts (only ever contacted when a
      // person adds a model by URL; the request check above shows normal use stays on our origin),
      // and in this test build loopback http for the model-by-URL suite's local hub. Nothing else.
      const connect = /connect-src ([^;]*)/.exec(policy ?? '')?.[1].split(' ') ?? [];
      const allowed = ["'self'", 'https://huggingface.co', 'https://*.huggingface.co', 'https://*.hf.co', 'http://127.0.0.1:*', 'http://localhost:*'];
      assert(connect[0] === "'self'" && connect.every((s) => allowed.includes(s)), `connect-src is our origin plus the model hosts only: "${policy}"`);
      assert(!/unsafe-inline|'unsafe-eval'/.test(policy ?? ''), `no unsafe-inline / unsafe-eval: "${policy}"`);
    }
    const violations = await page.evaluate(() => window.__cspViolations);
    assert(violations.length === 0, `no CSP violation in normal use (ORT WASM, workers, canvas, icons): ${JSON.stringify(violations)}`);
    assert(await page.evaluate(() => crossOriginIsolated), 'still cross-origin isolated');
  }, { needs: ['normal use: every request is to our own origin, and the prompt is never sent'] });

  test('script typed into the prompt or put in a shared link never runs; injected inline script is blocked', async () => {
    const evil = '"><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"><svg onload="window.__pwned=3">';
    await typeAndWait(page, evil);
    await page.goto(`${baseUrl}?backend=wasm#${new URLSearchParams({ prompt: evil, seed: '1' })}`);
    await waitReady(page);
    await page.waitForFunction(() => document.getElementById('output').dataset.generation !== undefined, null, { timeout: 120_000 });
    assert((await page.inputValue('#prompt')) === evil, 'the shared prompt is restored as plain text');
    assert((await page.evaluate(() => window.__pwned)) === undefined, 'nothing from the prompt ran');
    assert((await page.$$('body script:not([src]), body img[src="x"], body svg[onload]')).length === 0, 'no element was made from the prompt');
    // Defence in depth: even if some bug put a script element into the page, the CSP blocks it.
    const blocked = await page.evaluate(async () => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.body.append(s);
      // A string timer is compiled later, as page code, so the CSP's ban on eval applies to it
      // (code run through the debugger protocol itself is exempt, so eval() here would prove nothing).
      setTimeout('window.__evalRan = 1', 0);
      await new Promise((r) => setTimeout(r, 200));
      return { inline: window.__inline, evalRan: window.__evalRan, violations: window.__cspViolations.map((v) => v.directive) };
    });
    assert(blocked.inline === undefined, 'an injected inline script did not run');
    assert(blocked.evalRan === undefined, 'string eval (setTimeout with code) is refused');
    assert(blocked.violations.some((d) => d.startsWith('script-src')), `the browser reported the violation: ${JSON.stringify(blocked.violations)}`);
  }, { timeoutMs: 300_000 });

  try {
    return await runAll();
  } finally {
    await browser.close();
  }
}
