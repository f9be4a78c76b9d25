// 3. Cold start: page open → first image painted (the app paints one on load), on a first visit
//    (fresh browser context: empty IndexedDB and HTTP cache, the model comes from the local
//    server) and on a return visit (same context: model in IndexedDB). Alternating first/return
//    in fresh contexts; also the bytes the first visit transferred, and the model bytes the load
//    read before the first image (the files of its "read …" phases, sizes from the manifest).

import { FIRST_IMAGE_INIT } from '../lib/browser.mjs';
import { summarize } from '../lib/stats.mjs';

async function visit(context, url) {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => window.__firstImageAt !== null || document.getElementById('status')?.dataset.state === 'error', null, {
    timeout: 600_000,
    polling: 100,
  });
  const r = await page.evaluate(() => ({
    firstImageMs: window.__firstImageAt,
    loadMs: Number(document.getElementById('status').dataset.loadMs),
    phases: JSON.parse(document.getElementById('status').dataset.loadPhases ?? '[]'),
    firstImageWorkerMs: Number(document.getElementById('status').dataset.ms),
    error: document.getElementById('status').dataset.state === 'error' ? document.getElementById('status').textContent : null,
  }));
  await page.close();
  if (r.error) throw new Error(`app failed: ${r.error}`);
  return r;
}

/**
 * Median of each named phase over the visits, in the order the phases ran, plus the page's own
 * share: page open → first image, minus the model load and the first image's worker time.
 */
function phaseMedians(visits) {
  const names = [...new Set(visits.flatMap((v) => v.phases.map((p) => p.name)))];
  const out = Object.fromEntries(
    names.map((n) => [
      n,
      summarize(
        visits.map((v) => v.phases.filter((p) => p.name === n).reduce((a, p) => a + p.ms, 0)),
        0,
      ).median,
    ]),
  );
  out['first image (worker)'] = summarize(
    visits.map((v) => v.firstImageWorkerMs),
    0,
  ).median;
  out['page, worker start and paint'] = summarize(
    visits.map((v) => v.firstImageMs - v.loadMs - v.firstImageWorkerMs),
    0,
  ).median;
  return out;
}

/** The model bytes a load read before its first image: each file of a "read <file>" phase, once. */
function bytesRead(visit, manifest) {
  const files = [...new Set(visit.phases.map((p) => /^read (.+)$/.exec(p.name)?.[1]).filter(Boolean))];
  return { bytes: files.reduce((a, f) => a + (manifest.files[f]?.bytes ?? 0), 0), files };
}

export async function run({ browser, baseUrl, backend, reps, log, manifest }) {
  const first = [];
  const again = [];
  let transfer = null;
  for (let i = 0; i < reps; i++) {
    const context = await browser.newContext();
    await context.addInitScript(FIRST_IMAGE_INIT);
    const bytes = { total: 0, requests: 0, models: 0, wasm: 0 };
    context.on('requestfinished', async (req) => {
      const s = await req.sizes().catch(() => null);
      if (!s) return;
      const n = s.responseBodySize + s.responseHeadersSize;
      bytes.total += n;
      bytes.requests += 1;
      if (/\/models\//.test(req.url())) bytes.models += n;
      if (/\.wasm$/.test(req.url())) bytes.wasm += n;
    });
    try {
      const url = `${baseUrl}?backend=${backend}#seed=${7 + i}`;
      const f = await visit(context, url);
      transfer ??= { ...bytes };
      const a = await visit(context, url);
      first.push(f);
      again.push(a);
      log(`  rep ${i + 1}/${reps}: first visit ${f.firstImageMs.toFixed(0)} ms, model in IndexedDB ${a.firstImageMs.toFixed(0)} ms`);
    } finally {
      await context.close();
    }
  }
  const cachedPhases = phaseMedians(again);
  log(`  where a return visit's time goes (medians, ms): ${JSON.stringify(cachedPhases)}`);
  return {
    firstVisitMs: summarize(
      first.map((r) => r.firstImageMs),
      0,
    ),
    firstVisitLoadMs: summarize(
      first.map((r) => r.loadMs),
      0,
    ),
    cachedMs: summarize(
      again.map((r) => r.firstImageMs),
      0,
    ),
    cachedLoadMs: summarize(
      again.map((r) => r.loadMs),
      0,
    ),
    firstVisitTransfer: transfer,
    // Deterministic for a build and model: the first rep's of each kind.
    beforeFirstImage: manifest && first[0] ? { firstVisit: bytesRead(first[0], manifest), cached: bytesRead(again[0], manifest) } : null,
    // Where the time goes (medians, ms): the profile that says what to cut first.
    firstVisitPhases: phaseMedians(first),
    cachedPhases,
  };
}
