import { describe, expect, it } from 'vitest';
import { x0FromEps, x0FromEpsEuler } from '../../workers/pipeline/schedule';
import { float32ToHalf, fromHalfBits, halfToFloat32, toHalfBits } from '../../workers/pipeline/tensors';

describe('float16 conversion', () => {
  it('encodes known values exactly', () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(1e6)).toBe(0x7c00); // overflow → Inf
    expect(toHalfBits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toHalfBits(0)).toBe(0);
    expect(Number.isNaN(fromHalfBits(toHalfBits(NaN)))).toBe(true);
  });

  it('rounds to nearest even and round-trips within half precision', () => {
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // halfway, even stays
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway, rounds up to even
    const xs = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10 ** ((i % 9) - 4));
    const back = halfToFloat32(float32ToHalf(xs));
    for (let i = 0; i < xs.length; i++)
      expect(Math.abs(back[i] - xs[i])).toBeLessThanOrEqual(Math.max(Math.abs(xs[i]) * 2 ** -11, 2 ** -25));
  });
});

describe('one-step rules', () => {
  it('the SD-Turbo Euler form equals the DDPM form for the same x (σ = √((1−ᾱ)/ᾱ))', () => {
    const ab = 0.0046601;
    const sigma = Math.sqrt((1 - ab) / ab);
    expect(sigma).toBeCloseTo(14.6146, 3);
    const n = Float32Array.from([0.3, -1.2, 2.0, 0.01]);
    const eps = Float32Array.from([0.1, 0.5, -0.7, 1.3]);
    // Euler: x = σn, x0 = x − σε. DDPM on z = √ᾱ·x (the same point in DDPM units): x0 = (z − √(1−ᾱ)ε)/√ᾱ.
    const euler = x0FromEpsEuler(
      n.map((v) => v * sigma),
      eps,
      sigma,
    );
    const ddpm = x0FromEps(
      n.map((v) => v * sigma * Math.sqrt(ab)),
      eps,
      ab,
    );
    for (let i = 0; i < n.length; i++) expect(euler[i]).toBeCloseTo(ddpm[i], 3);
  });
});
