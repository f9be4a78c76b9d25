// 5. Against the limit: GFLOP per image of each network (bench/flops.py, from the ONNX graphs) over
//    its raw run time → achieved GFLOP/s, next to the GFLOP/s the same runtime (same page, worker,
//    ORT build and threads) reaches on an n³ MatMul.
import { matmulModel } from '../lib/onnx-matmul.mjs';
import { summarize } from '../lib/stats.mjs';

export async function run({ page, reps, log, n = 1024 }) {
  const bytes = Array.from(matmulModel(n));
  const ms = await page.evaluate(({ bytes, n, reps }) => window.__onestepBench.generator.benchMatmul(new Uint8Array(bytes), n, reps), {
    bytes,
    n,
    reps,
  });
  const gflops = ms.map((t) => (2 * n ** 3) / (t * 1e6));
  log(`  MatMul ${n}³: ${summarize(ms).median} ms → ${summarize(gflops).median} GFLOP/s`);
  return { n, ms: summarize(ms), gflops: summarize(gflops, 1) };
}

/** Per-stage achieved GFLOP/s from raw stage medians (ms) and the FLOP counts. */
export function achieved(flops, rawStagesMs, peak) {
  const stages = { encode: 'text_encoder', denoise: 'unet', decode: 'vae_decoder' };
  return Object.fromEntries(
    Object.entries(stages).map(([stage, net]) => {
      const g = flops.networks[net].gflop;
      const ms = rawStagesMs[stage].median;
      const gflops = g / (ms / 1000);
      return [
        net,
        { gflop: Number(g.toFixed(3)), ms, gflops: Number(gflops.toFixed(1)), ofPeak: peak ? Number((gflops / peak).toFixed(2)) : null },
      ];
    }),
  );
}
