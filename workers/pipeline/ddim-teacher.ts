/**
 * The teacher's multi-step sampler for compare mode: deterministic DDIM (η = 0) with
 * classifier-free guidance, the same as training/factory/diffusion.py ddim_sample:
 *   ε  = ε_u + w·(ε_c − ε_u)         (one batched UNet call: [uncond, cond])
 *   x0 = (x − √(1−ᾱ_t)·ε) / √ᾱ_t
 *   x  = √ᾱ_next·x0 + √(1−ᾱ_next)·ε  (x0 itself after the last step)
 */
import type * as ort from 'onnxruntime-web';
import type { Manifest } from '../../src/shared/types';
import { alphasCumprod, ddimTimesteps, x0FromEps } from './schedule';
import { runUnet } from './unet';

/** Runs the teacher from unit noise `z` (batch 1) and returns x0 latents. */
export async function ddimTeacher(
  unet: ort.InferenceSession,
  manifest: Manifest,
  z: Float32Array,
  cond: Float32Array,
  uncond: Float32Array,
  steps: number,
  guidance: number,
  onStep: (step: number, steps: number) => void,
): Promise<Float32Array> {
  const spec = manifest.teacher;
  if (!spec) throw new Error('this model has no teacher');
  const ab = alphasCumprod(spec);
  const ts = ddimTimesteps(steps, spec.num_train_timesteps);
  const n = z.length;
  const both = new Float32Array(2 * cond.length);
  both.set(uncond, 0);
  both.set(cond, cond.length);
  const pair = new Float32Array(2 * n);
  let x = z;
  for (let i = 0; i < ts.length; i++) {
    pair.set(x, 0);
    pair.set(x, n);
    const out = await runUnet(unet, manifest, pair, [ts[i], ts[i]], both, 2);
    const eps = new Float32Array(n);
    for (let k = 0; k < n; k++) eps[k] = out[k] + guidance * (out[n + k] - out[k]);
    const x0 = x0FromEps(x, eps, ab[ts[i]]);
    if (i + 1 < ts.length) {
      const aNext = ab[ts[i + 1]];
      const sa = Math.sqrt(aNext);
      const s1a = Math.sqrt(1 - aNext);
      const next = new Float32Array(n);
      for (let k = 0; k < n; k++) next[k] = sa * x0[k] + s1a * eps[k];
      x = next;
    } else {
      x = x0;
    }
    onStep(i + 1, ts.length);
  }
  return x;
}
