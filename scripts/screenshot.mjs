// Takes the README's screenshot: the built app, the bundled model, a typed prompt, phone-ish width.
//   npm run build && node scripts/screenshot.mjs [out.png]
import { chromium } from 'playwright-core';
import { startPreview } from '../tests/e2e/preview-server.mjs';

const out = process.argv[2] ?? 'docs/screenshot.png';
const server = await startPreview();
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 760 }, deviceScaleFactor: 1 });
  await page.goto(server.url);
  const prompt = page.getByLabel(/prompt/i).first();
  await prompt.fill('red apple');
  // wait until the status line reports a finished image
  await page.waitForFunction(() => /ms/.test(document.querySelector('[aria-live]')?.textContent ?? ''), null, { timeout: 180_000 });
  await page.waitForTimeout(500);
  await page.screenshot({ path: out, fullPage: true });
  console.log(`screenshot: ${out}`);
} finally {
  await browser.close();
  server.stop();
}
