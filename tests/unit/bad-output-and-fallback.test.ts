import { describe, expect, it } from 'vitest';
import { checkFinite, checkNotBlank } from '../../workers/pipeline/check-output';
import { withWasmFallback, type FallbackTarget, type SwitchReason } from '../../workers/runtime/wasm-fallback';
import { BadOutputError } from '../../src/shared/errors';

const nameOf = (f: () => unknown) => {
  try {
    f();
    return 'passed';
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`;
  }
};

describe('an output is checked before it is painted', () => {
  it('refuses NaN and infinite values, counting them', () => {
    expect(nameOf(() => checkFinite(new Float32Array([0.1, -2, 3]), 'the UNet'))).toBe('passed');
    expect(nameOf(() => checkFinite(new Float32Array([0.1, NaN, NaN, 1]), 'the UNet'))).toBe(
      'BadOutputError: the UNet gave 2 of 4 values that are not numbers (NaN or infinite)',
    );
    expect(nameOf(() => checkFinite(new Float32Array([Infinity, 0]), 'the decoder'))).toMatch(/^BadOutputError: the decoder gave 1 of 2/);
  });

  it('refuses an image that is one flat colour, in any place of a batch', () => {
    const image = (v: (i: number) => number) => Float32Array.from({ length: 3 * 4 * 4 }, (_, i) => v(i));
    const good = image((i) => Math.sin(i));
    const black = image(() => -1);
    expect(nameOf(() => checkNotBlank(good, 1, 'the decoder'))).toBe('passed');
    expect(nameOf(() => checkNotBlank(black, 1, 'the decoder'))).toBe(
      'BadOutputError: the decoder gave a blank image (every pixel -1.000)',
    );
    const batch = new Float32Array(good.length * 2);
    batch.set(good);
    batch.set(black, good.length);
    expect(nameOf(() => checkNotBlank(batch, 2, 'the decoder'))).toMatch(/blank image/);
  });
});

/** A model loaded on `backend` whose job fails `failures` times with `error`, then succeeds. */
function scenario(backend: 'webgpu' | 'wasm', error: Error, failures: number, lost = false) {
  const log: string[] = [];
  let runs = 0;
  const target: FallbackTarget & { backend: string } = {
    backend,
    onWebGpu: () => target.backend === 'webgpu',
    lostWithin: async () => lost,
    switchToWasm: async (reason: SwitchReason, note: string) => {
      log.push(`switch ${reason}: ${note}`);
      target.backend = 'wasm';
    },
  };
  const job = async () => {
    runs++;
    if (runs <= failures) throw error;
    return `image on ${target.backend}`;
  };
  return { run: () => withWasmFallback(job, target), log, runs: () => runs };
}

describe('WebGPU failures WASM does not share are redone on WASM, once', () => {
  it('a NaN image on WebGPU: reload on WASM, run again, and tell the person why', async () => {
    const s = scenario('webgpu', new BadOutputError('the UNet gave 4 of 4 values that are not numbers (NaN or infinite)'), 1);
    await expect(s.run()).resolves.toBe('image on wasm');
    expect(s.log).toEqual([
      'switch bad-output: WebGPU gave an invalid image (the UNet gave 4 of 4 values that are not numbers (NaN or infinite)), so it switched',
    ]);
    expect(s.runs()).toBe(2);
  });

  it('a lost device on WebGPU: the same, with its own note', async () => {
    const s = scenario('webgpu', new Error('GPU buffer mapping failed'), 1, true);
    await expect(s.run()).resolves.toBe('image on wasm');
    expect(s.log).toEqual(['switch device-lost: the GPU stopped responding, so it switched']);
  });

  it('a NaN image on WASM is the error itself: no retry', async () => {
    const s = scenario('wasm', new BadOutputError('the UNet gave NaN'), 1);
    await expect(s.run()).rejects.toThrow(/the UNet gave NaN/);
    expect(s.log).toEqual([]);
    expect(s.runs()).toBe(1);
  });

  it('an ordinary failure on WebGPU (device fine) is not retried', async () => {
    const s = scenario('webgpu', new Error('bad input'), 1, false);
    await expect(s.run()).rejects.toThrow('bad input');
    expect(s.log).toEqual([]);
  });

  it('a failure again on WASM after the switch is reported, not looped on', async () => {
    const s = scenario('webgpu', new BadOutputError('NaN everywhere'), 5);
    await expect(s.run()).rejects.toThrow('NaN everywhere');
    expect(s.runs()).toBe(2);
  });
});
