// Profile of the hot path, per operator: each network run in onnxruntime-web's WASM build under
// Node with ORT's profiler (lib/op-profile-child.mjs), time summed by op type. Shows where the
// milliseconds of each stage go (GEMM-like kernels vs the many small shape/element-wise nodes).
import { spawnSync } from 'node:child_process';
import path from 'node:path';

function parse(stdout, skipFirstRun) {
  const events = [];
  for (const line of stdout.split('\n')) {
    const l = line.trim().replace(/,$/, '');
    if (!l.startsWith('{"cat" : "Node"')) continue;
    try {
      const e = JSON.parse(l);
      if (e.name.endsWith('_kernel_time')) events.push(e);
    } catch {
      /* a truncated line */
    }
  }
  // Events come in run order; the first run (allocation, pre-packing) is dropped.
  const perRun = new Set(events.map((e) => e.name)).size;
  return skipFirstRun ? events.slice(perRun) : events;
}

export function run({ root, manifest, modelDir, threads = 1, runs = 5, log }) {
  const out = {};
  for (const network of ['text_encoder', 'unet', 'vae_decoder']) {
    const file = path.join(modelDir, manifest.files[network].path);
    const r = spawnSync(
      process.execPath,
      [path.join(root, 'bench/lib/op-profile-child.mjs'), file, network, String(threads), String(runs)],
      { cwd: root, encoding: 'utf8', maxBuffer: 1 << 30 },
    );
    if (r.status !== 0) throw new Error(`profiling ${network} failed: ${r.stderr}`);
    const events = parse(r.stdout, true);
    const byOp = {};
    for (const e of events) byOp[e.args.op_name] = (byOp[e.args.op_name] ?? 0) + e.dur / 1000 / runs;
    const total = Object.values(byOp).reduce((a, b) => a + b, 0);
    const top = Object.entries(byOp).sort((a, b) => b[1] - a[1]);
    out[network] = {
      msPerRun: Number(total.toFixed(1)),
      nodes: new Set(events.map((e) => e.name)).size,
      shareByOp: Object.fromEntries(top.slice(0, 6).map(([k, v]) => [k, Number((v / total).toFixed(3))])),
    };
    log(
      `  ${network}: ${total.toFixed(0)} ms/run over ${out[network].nodes} nodes; ${top
        .slice(0, 4)
        .map(([k, v]) => `${k} ${Math.round((100 * v) / total)} %`)
        .join(', ')}`,
    );
  }
  return { runtime: 'onnxruntime-web WASM under Node', threads, runs, networks: out };
}
