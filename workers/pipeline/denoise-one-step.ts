/**
 * The student's single step (manifest.one_step, epsilon prediction), in one of two forms:
 *   ddpm  (ours, DMD2):   x = noise_scale · z,  ε = unet(input_scale · x, t, emb),  x0 = (x − √(1−ᾱ_t)·ε) / √ᾱ_t
 *   euler (SD-Turbo):     x = σ · z,            ε = unet(x / √(σ²+1), t, emb),      x0 = x − σ·ε
 * (z ~ N(0, 1)). The ddpm form is the training factory's x0_from_eps (training/factory/diffusion.py);
 * it is computed in float64 there too, so the arithmetic below is done in doubles before storing.
 * The two agree when z is scaled to the same x: the Euler form is the DDPM form in σ units.
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

/** x0 = x − σ·ε: the Euler (k-diffusion) form SD-Turbo is sampled with (pure; unit-tested). */
export function x0FromEpsEuler(x: Float32Array, eps: Float32Array, sigma: number): Float32Array {
  if (x.length !== eps.length) throw new RangeError('x and eps differ in length');
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] - sigma * eps[i];
  return out;
}

/** Batched one-step denoise: `noise` is [B, C, H, W] unit noise, `emb` is [B, L, D] (data or a GPU tensor). */
export async function denoiseOneStep(
  unet: ort.InferenceSession,
  manifest: Manifest,
  noise: Float32Array,
  emb: Float32Array | ort.Tensor,
  batch: number,
): Promise<Float32Array> {
  const rule = manifest.one_step;
  const x = rule.noise_scale === 1 ? noise : noise.map((v) => v * rule.noise_scale);
  const input = rule.input_scale === 1 ? x : x.map((v) => v * rule.input_scale);
  const eps = await runUnet(unet, manifest, input, new Array(batch).fill(rule.timestep), emb, batch);
  return rule.rule === 'euler' ? x0FromEpsEuler(x, eps, rule.sigma ?? Math.sqrt((1 - rule.alpha_bar) / rule.alpha_bar)) : x0FromEps(x, eps, rule.alpha_bar);
}
