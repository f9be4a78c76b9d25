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
import { sigmaOf, x0FromEps, x0FromEpsEuler } from './schedule';
import { runUnet } from './unet';

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
  return rule.rule === 'euler' ? x0FromEpsEuler(x, eps, rule.sigma ?? sigmaOf(rule.alpha_bar)) : x0FromEps(x, eps, rule.alpha_bar);
}
