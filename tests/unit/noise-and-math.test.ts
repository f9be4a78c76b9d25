import { describe, expect, it } from 'vitest';
import { alphasCumprod, ddimTimesteps, x0FromEps } from '../../workers/pipeline/schedule';
import { gaussianNoise, mulberry32, normalizeSeed } from '../../workers/pipeline/noise';
import { planarToRgba } from '../../workers/pipeline/to-rgba';

describe('seeded noise', () => {
  it('is deterministic per seed and differs across seeds', () => {
    expect(gaussianNoise(42, 1024)).toEqual(gaussianNoise(42, 1024));
    expect(gaussianNoise(42, 1024)).not.toEqual(gaussianNoise(43, 1024));
    expect(gaussianNoise(7, 1023).length).toBe(1023); // odd lengths are fine
  });

  it('has unit-Gaussian statistics', () => {
    const n = 200_000;
    const x = gaussianNoise(1, n);
    let mean = 0;
    for (const v of x) mean += v;
    mean /= n;
    let variance = 0;
    let within1 = 0;
    for (const v of x) {
      variance += (v - mean) ** 2;
      if (Math.abs(v) < 1) within1++;
    }
    variance /= n;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
    expect(within1 / n).toBeCloseTo(0.6827, 2);
    expect(x.every(Number.isFinite)).toBe(true);
  });

  it('mulberry32 stays in [0, 1)', () => {
    const r = mulberry32(0);
    for (let i = 0; i < 10_000; i++) {
      const v = r();
      expect(v >= 0 && v < 1).toBe(true);
    }
  });

  it('normalizes seeds to uint32', () => {
    expect(normalizeSeed(-5)).toBe(5);
    expect(normalizeSeed(2 ** 32 + 3)).toBe(3);
    expect(normalizeSeed(Number.NaN)).toBe(0);
  });
});

describe('x0 rule and schedule (same as training/factory/diffusion.py)', () => {
  it('inverts the forward process: x_t = √ᾱ x0 + √(1−ᾱ) ε', () => {
    const ab = 0.004660098513077238;
    const x0 = Float32Array.from([0.5, -1, 2, 0]);
    const eps = Float32Array.from([1, 0.3, -0.7, 2]);
    const xt = x0.map((v, i) => Math.sqrt(ab) * v + Math.sqrt(1 - ab) * eps[i]);
    const back = x0FromEps(xt, eps, ab);
    back.forEach((v, i) => expect(v).toBeCloseTo(x0[i], 3));
  });

  it('reproduces the scaled-linear ᾱ constants', () => {
    const ab = alphasCumprod({ beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000 });
    expect(ab[999]).toBeCloseTo(0.0046601, 6); // = manifest.one_step.alpha_bar
    expect(ab[399]).toBeCloseTo(0.42609, 4);
  });

  it('uses trailing DDIM spacing starting at 999', () => {
    expect(ddimTimesteps(4, 1000)).toEqual([999, 749, 499, 249]);
    const t25 = ddimTimesteps(25, 1000);
    expect(t25[0]).toBe(999);
    expect(t25.at(-1)).toBe(39);
    expect(t25.length).toBe(25);
  });
});

describe('float → RGBA', () => {
  it('maps [-1, 1] planar RGB to clamped interleaved RGBA', () => {
    // 2×1 image: R plane, G plane, B plane.
    const planar = Float32Array.from([-1, 1, 0, 2, -3, 0.5]);
    const rgba = planarToRgba(planar, 0, 2, 1, [-1, 1]);
    expect(Array.from(rgba)).toEqual([0, 128, 0, 255, 255, 255, 191, 255]);
  });

  it('reads the i-th image of a batch from its offset', () => {
    const one = 3 * 4;
    const batch = new Float32Array(2 * one).fill(-1);
    batch.fill(1, one);
    expect(Array.from(planarToRgba(batch, one, 2, 2)).slice(0, 4)).toEqual([255, 255, 255, 255]);
    expect(() => planarToRgba(batch, one + 1, 2, 2)).toThrow(RangeError);
  });
});
