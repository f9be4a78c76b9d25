// Where a returning visitor's start goes: visits of one on-disk browser profile (as a regular user
// has one), each printed as the time to its first image and the load's phases (name=ms@start, ms
// after the load began; they overlap: files are read while the runtime starts and while sessions
// are made). Prints figures; asserts nothing. On the built app (npm run build first):
//   node bench/start-timeline.mjs [visits=5] [--stay ms]   --stay: how long each visit stays open after its first image
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { FIRST_IMAGE_INIT, launchProfile } from './lib/browser.mjs';
import { serveDir } from './lib/base-build.mjs';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { stay: { type: 'string', default: '0' } } });
const visits = Number(positionals[0] ?? 5);
const server = await serveDir(path.dirname(path.dirname(fileURLToPath(import.meta.url))));
const profile = await launchProfile('wasm');
try {
  await profile.context.addInitScript(FIRST_IMAGE_INIT);
  for (let v = 1; v <= visits; v++) {
    const page = await profile.context.newPage();
    await page.goto(server.url);
    await page.waitForFunction(() => window.__firstImageAt !== null, null, { timeout: 600_000, polling: 50 });
    const r = await page.evaluate(() => {
      const s = document.getElementById('status').dataset;
      return { at: window.__firstImageAt, loadMs: s.loadMs, imageMs: s.ms, phases: JSON.parse(s.loadPhases ?? '[]') };
    });
    const phases = r.phases.map((p) => `${p.name}=${p.ms}@${p.at}`).join(' ');
    console.log(`visit ${v}: first image ${r.at.toFixed(0)} ms (load ${r.loadMs} ms, image ${r.imageMs} ms) · ${phases}`);
    await page.waitForTimeout(Number(values.stay));
    await page.close();
  }
} finally {
  await profile.close();
  server.stop();
}
