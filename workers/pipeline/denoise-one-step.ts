/**
 * The student's single step (manifest.one_step, rule "ddpm", epsilon prediction):
 *   x  = noise_scale · z                      (z ~ N(0, 1))
 *   ε  = unet(input_scale · x, t, emb)
 *   x0 = (x − √(1−ᾱ_t)·ε) / √ᾱ_t
 * The same form is the training factory's x0_from_eps (training/factory/diffusion.py); it is
 * computed in float64 there too, so the arithmetic below is done in doubles before storing.
 */
import type * as ort from 'onnxruntime-web';
import type { Manifest } from '../../src/shared/types';
import { runUnet } from './unet';

/** x0 from x_t and ε at cumulative alpha `alphaBar` (pure; unit-tested). */
export function x0FromEps(x: Float32Array, eps: Float32Array, alphaBar: number): Float32Array {
  if (x.length !== eps.length) throw new RangeError('x and eps differ in length');
  const sa = Math.sqrt(alphaBar);
  const s1a = Math.sqrt(1 - alphaBar);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = (x[i] - s1a * eps[i]) / sa;
  return out;
}

/** Batched one-step denoise: `noise` is [B, C, H, W] unit noise, `emb` is [B, L, D]. */
export async function denoiseOneStep(
  unet: ort.InferenceSession,
  manifest: Manifest,
  noise: Float32Array,
  emb: Float32Array,
  batch: number,
): Promise<Float32Array> {
  const rule = manifest.one_step;
  const x = rule.noise_scale === 1 ? noise : noise.map((v) => v * rule.noise_scale);
  const input = rule.input_scale === 1 ? x : x.map((v) => v * rule.input_scale);
  const eps = await runUnet(unet, manifest, input, new Array(batch).fill(rule.timestep), emb, batch);
  return x0FromEps(x, eps, rule.alpha_bar);
}
