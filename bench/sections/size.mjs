// 7. Size: bytes of each model file (the manifest's figures, checked on disk) and of the built app
//    shell (dist/ without models), raw and gzip-compressed (what a gzip-serving host would send).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

const gz = (file) => gzipSync(readFileSync(file), { level: 6 }).length;

export function run({ root, manifest, modelDir }) {
  const models = Object.fromEntries(
    Object.entries(manifest.files).map(([name, f]) => {
      const file = path.join(modelDir, f.path);
      return [name, { bytes: statSync(file).size, gzip: gz(file) }];
    }),
  );
  const dist = path.join(root, 'dist');
  const shell = { js: 0, css: 0, html: 0, other: 0 };
  const shellGz = { js: 0, css: 0, html: 0, other: 0 };
  let wasm = { bytes: 0, gzip: 0 };
  for (const file of walk(dist)) {
    const rel = path.relative(dist, file);
    if (rel.startsWith('models')) continue;
    if (rel.endsWith('.wasm')) {
      wasm = { bytes: wasm.bytes + statSync(file).size, gzip: wasm.gzip + gz(file) };
      continue;
    }
    const kind = /\.m?js$/.test(rel) ? 'js' : rel.endsWith('.css') ? 'css' : rel.endsWith('.html') ? 'html' : 'other';
    shell[kind] += statSync(file).size;
    shellGz[kind] += gz(file);
  }
  const sum = (o) => Object.values(o).reduce((a, b) => a + (b.bytes ?? b), 0);
  const modelsTotal = sum(Object.fromEntries(Object.entries(models).map(([k, v]) => [k, v.bytes])));
  return {
    models,
    modelsBytes: modelsTotal,
    shell: { bytes: shell, gzip: shellGz, totalBytes: sum(shell), totalGzip: sum(shellGz) },
    ortWasm: wasm,
    firstVisitEstimateGzip: sum(shellGz) + wasm.gzip + Object.values(models).reduce((a, m) => a + m.gzip, 0),
  };
}
