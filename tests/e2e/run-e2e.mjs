// End-to-end tests on the built app and the real bundled model, in headless Debian Chromium.
//
//   node tests/e2e/run-e2e.mjs            build, serve on 127.0.0.1:<free port>, run every suite, stop
//   node tests/e2e/run-e2e.mjs wasm       only the suites whose file name contains "wasm"
//   E2E_SKIP_BUILD=1                      reuse dist/
//   E2E_<SUITE>=0                         skip a suite by its flag (each suite names its own, e.g.
//                                         E2E_WASM=0, E2E_WEBGPU=0: SwiftShader, CPU-emulated WebGPU,
//                                         measured 82 s per image on 2 idle cores, 137 s on busy ones)
//   E2E_TEST=<text>                       only the tests whose name contains <text>, with what they need (harness.mjs)
//   E2E_KNOWN_BUGS=1                      also run the tests of known, still open bugs (none at present)
//   CHROMIUM=/path/to/chromium            browser binary (default /usr/bin/chromium)
//
// Suites are the files in suites/, run in file-name order; each exports `name`, `envFlag` and
// `run({ baseUrl, timings, root })` returning { passed, failed }. A suite that needs its own server
// (a flaky network, a model host) starts it itself.
// Ends with one plain line "N passed, N failed" (tests/run-all.sh adds it to the total).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { executablePath } from './lib/app-page.mjs';
import { startPreview } from './preview-server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

// A test build: loopback http model hosts are allowed (connect-src and the app's URL check), for the
// model-by-URL suite's local hub on a random port (src/shared/config.ts LOOPBACK_MODEL_HOSTS). The
// build, the preview server's headers and any suite that builds again all inherit it. A dist/ from
// `npm run build` lacks it: with E2E_SKIP_BUILD=1, reuse only a dist/ this runner built.
process.env.ONESTEP_LOOPBACK_MODELS ??= '1';
const root = path.resolve(here, '../..');

function finish(passed, failed, timings = {}) {
  console.log(`e2e timings: ${JSON.stringify(timings)}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

async function main() {
  if (!existsSync(executablePath)) {
    console.log(`e2e: no Chromium at ${executablePath} (apt-get install -y chromium)`);
    finish(0, 1);
  }
  if (!process.env.E2E_SKIP_BUILD) {
    const build = spawnSync(process.execPath, [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], {
      cwd: root,
      stdio: 'inherit',
    });
    if (build.status !== 0) {
      console.log('e2e: vite build failed');
      finish(0, 1);
    }
  }
  const filter = process.argv[2];
  const files = readdirSync(path.join(here, 'suites'))
    .filter((f) => f.endsWith('.mjs') && (!filter || f.includes(filter)))
    .sort();
  const server = await startPreview();
  const timings = {};
  let passed = 0;
  let failed = 0;
  try {
    for (const file of files) {
      const suite = await import(pathToFileURL(path.join(here, 'suites', file)).href);
      if (process.env[suite.envFlag] === '0') {
        console.log(`e2e (${suite.name}): skipped (${suite.envFlag}=0)`);
        continue;
      }
      console.log(`e2e (${suite.name}) on ${server.url}`);
      const r = await suite
        .run({ baseUrl: server.url, timings, root })
        .catch((err) => (console.log(`  ✗ ${suite.name} suite crashed: ${err.stack ?? err}`), { passed: 0, failed: 1 }));
      passed += r.passed;
      failed += r.failed;
    }
  } finally {
    server.stop();
  }
  finish(passed, failed, timings);
}

main().catch((err) => {
  console.error(err);
  finish(0, 1);
});
