/**
 * The diffusion schedule and the x0 rules, in one place (the training factory's twin is
 * training/factory/diffusion.py): ᾱ from the scaled-linear betas, DDIM's trailing timesteps, and
 * x0 from ε in the DDPM and Euler (σ) forms. Pure functions; unit-tested against Python's values.
 */
import type { Manifest } from '../../src/shared/types';

type TeacherSpec = NonNullable<Manifest['teacher']>;

/** ᾱ for every training timestep: scaled-linear betas (linspace of √β, squared), cumulative product. */
export function alphasCumprod(spec: Pick<TeacherSpec, 'beta_start' | 'beta_end' | 'num_train_timesteps'>): Float64Array {
  const n = spec.num_train_timesteps;
  const a = Math.sqrt(spec.beta_start);
  const b = Math.sqrt(spec.beta_end);
  const out = new Float64Array(n);
  let prod = 1;
  for (let i = 0; i < n; i++) {
    const sqrtBeta = n === 1 ? a : a + ((b - a) * i) / (n - 1);
    prod *= 1 - sqrtBeta * sqrtBeta;
    out[i] = prod;
  }
  return out;
}

/** "Trailing" spacing: t_i = round(T − 1 − i·T/steps), so sampling always starts at t = T − 1. */
export function ddimTimesteps(steps: number, numTrain: number): number[] {
  return Array.from({ length: steps }, (_, i) => Math.round(numTrain - 1 - (i * numTrain) / steps));
}

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

/** σ of the Euler form at cumulative alpha ᾱ: the noise-to-signal ratio √((1 − ᾱ)/ᾱ). */
export function sigmaOf(alphaBar: number): number {
  return Math.sqrt((1 - alphaBar) / alphaBar);
}
