// Takes the README's screenshots: the built app, the bundled model, phone-ish width.
//   npm run build && node scripts/screenshot.mjs [out.png]           a typed prompt (docs/screenshot.png)
//   npm run build && node scripts/screenshot.mjs docs/explore.png --explore
//                     the explore view: a link with an explore point, the panel open, two images kept
import { chromium } from 'playwright-core';
import { setSlider } from '../tests/e2e/lib/app-page.mjs';
import { startPreview } from '../tests/e2e/preview-server.mjs';

const explore = process.argv.includes('--explore');
const out = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'docs/screenshot.png';
const server = await startPreview();
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
const ready = (page) =>
  page.waitForFunction(
    () => /ms/.test(document.getElementById('status')?.textContent ?? '') && document.getElementById('status').dataset.state === 'ready',
    null,
    {
      timeout: 180_000,
    },
  );
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 760 }, deviceScaleFactor: 1 });
  if (!explore) {
    await page.goto(server.url);
    await page
      .getByLabel(/prompt/i)
      .first()
      .fill('red apple');
    await ready(page);
  } else {
    await page.goto(`${server.url}#prompt=red+apple&seed=7&toseed=8&seedmix=0.35&toprompt=rocket&promptmix=0.6`);
    await ready(page);
    await page.click('#keep');
    await page.waitForFunction(() => document.getElementById('gallery-summary').dataset.count === '1', null, { timeout: 30_000 });
    await setSlider(page, 'explore-prompt-mix', 0);
    await page.click('#keep');
    await page.waitForFunction(() => document.getElementById('gallery-summary').dataset.count === '2', null, { timeout: 30_000 });
    await setSlider(page, 'explore-prompt-mix', 600);
    await page.evaluate(() => (document.getElementById('gallery-panel').open = true));
  }
  await page.waitForTimeout(500);
  await page.screenshot({ path: out, fullPage: true });
  console.log(`screenshot: ${out}`);
} finally {
  await browser.close();
  server.stop();
}
