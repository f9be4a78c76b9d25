// Explore points (workers/pipeline/explore.ts): the noise stays on the Gaussian shell, endpoints are
// exact, positions round to thousandths, and the request's point is its cache key.
import { describe, expect, it } from 'vitest';
import { explorePosition, exploreOf, lerp, slerp, towardSeed } from '../../workers/pipeline/explore';
import { gaussianNoise } from '../../workers/pipeline/noise';

const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const n = 1024;
const a = gaussianNoise(1, n);
const b = gaussianNoise(2, n);
const tokenizer = { maxLength: 8, encode: (p: string) => BigInt64Array.from([...p.slice(0, 8)].map((c) => BigInt(c.charCodeAt(0)))) };

describe('explore', () => {
  it('slerp keeps the norm of Gaussian noise half-way, where a straight line loses ~30 %', () => {
    const mid = slerp(a, b, 0.5);
    expect(norm(mid) / norm(a)).toBeGreaterThan(0.95);
    expect(norm(mid) / norm(a)).toBeLessThan(1.05);
    expect(norm(lerp(a, b, 0.5)) / norm(a)).toBeLessThan(0.8);
  });

  it('endpoints are the seeds themselves, bit for bit', () => {
    expect(slerp(a, b, 0)).toEqual(a);
    expect(slerp(a, b, 1)).toEqual(b);
    expect(towardSeed(2, 1)(1, n)).toEqual(b);
    expect(lerp(a, b, 1)).toEqual(b);
  });

  it('moves continuously: a small step changes the noise less than a large one', () => {
    const d = (x: Float32Array, y: Float32Array) => norm(x.map((v, i) => v - y[i]));
    expect(d(slerp(a, b, 0.5), slerp(a, b, 0.51))).toBeLessThan(d(slerp(a, b, 0.5), slerp(a, b, 0.7)) / 5);
  });

  it('parallel endpoints fall back to the straight line instead of dividing by zero', () => {
    const s = slerp(a, a, 0.3);
    expect(s.every(Number.isFinite)).toBe(true);
    expect(norm(s.map((v, i) => v - a[i]))).toBeLessThan(1e-3);
  });

  it('refuses vectors of different lengths', () => {
    expect(() => slerp(a, gaussianNoise(3, 10), 0.5)).toThrow(RangeError);
  });

  it('positions clamp to [0, 1] and round to thousandths; junk is 0', () => {
    expect(explorePosition(0.12345)).toBe(0.123);
    expect(explorePosition(-2)).toBe(0);
    expect(explorePosition(7)).toBe(1);
    expect(explorePosition(Number.NaN)).toBe(0);
  });

  it('a request at position 0 is the plain image; otherwise its key names the point', () => {
    const base = { prompt: 'cat', seed: 1, count: 1 };
    expect(exploreOf(base, tokenizer)).toBeNull();
    expect(exploreOf({ ...base, explore: { toSeed: 9, seedMix: 0, toPrompt: 'dog', promptMix: 0 } }, tokenizer)).toBeNull();
    const p = exploreOf({ ...base, explore: { toSeed: 9, seedMix: 0.25, toPrompt: 'dog', promptMix: 0.5 } }, tokenizer)!;
    const q = exploreOf({ ...base, explore: { toSeed: 9, seedMix: 0.2501, toPrompt: 'dog', promptMix: 0.5 } }, tokenizer)!;
    expect(p.key).toBe(q.key); // the same thousandth is the same image
    expect(p.key).not.toBe(exploreOf({ ...base, explore: { toSeed: 9, seedMix: 0.25, toPrompt: 'dot', promptMix: 0.5 } }, tokenizer)!.key);
    // The target prompt does not matter while the prompt position is 0.
    const seedOnly = (toPrompt: string) =>
      exploreOf({ ...base, explore: { toSeed: 9, seedMix: 0.5, toPrompt, promptMix: 0 } }, tokenizer)!.key;
    expect(seedOnly('dog')).toBe(seedOnly('anything'));
  });
});
