// The benchmark's statistics and its hand-written ONNX model (bench/lib): medians, quantiles and
// the alternating order are what the published ratios rest on.
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM without types (bench/ is Node scripts, not part of the app build)
import { alternate, pairRatios, quantile, summarize } from '../../bench/lib/stats.mjs';
// @ts-expect-error plain ESM without types
import { matmulModel } from '../../bench/lib/onnx-matmul.mjs';

describe('bench statistics', () => {
  it('median, p95 and spread ignore order and non-numbers', () => {
    const s = summarize([5, 1, 4, 2, 3, NaN]);
    expect(s).toMatchObject({ n: 5, median: 3, min: 1, max: 5, iqr: [2, 4] });
    expect(quantile([0, 10], 0.95)).toBeCloseTo(9.5);
  });

  it('alternates the order of the sides every repetition (ABBA…)', async () => {
    const order: string[] = [];
    const r = await alternate({ a: async () => order.push('a'), b: async () => order.push('b') }, 3);
    expect(order.join('')).toBe('abbaab');
    expect(r.a).toHaveLength(3);
    expect(pairRatios([2, 9], [1, 3])).toEqual([2, 3]);
  });

  it('writes a MatMul ONNX model with the expected header bytes', () => {
    const bytes: Uint8Array = matmulModel(8);
    expect(bytes[0]).toBe(0x08); // field 1 (ir_version), varint
    expect(bytes[1]).toBe(8);
    expect(new TextDecoder().decode(bytes)).toContain('MatMul');
  });
});
