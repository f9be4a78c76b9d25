import { describe, expect, it } from 'vitest';
import { LoadPhases } from '../../workers/runtime/load-phases';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LoadPhases', () => {
  it('records each phase once, in the order the phases ended, with its wall time', async () => {
    const phases = new LoadPhases();
    expect(await phases.time('read tokenizer', async () => (await wait(30), 'ids'))).toBe('ids');
    await phases.time('session unet', () => wait(5));
    expect(phases.list.map((p) => p.name)).toEqual(['read tokenizer', 'session unet']);
    expect(phases.list[0].ms).toBeGreaterThanOrEqual(25);
    expect(Number.isInteger(phases.list[1].ms)).toBe(true);
    // Each phase's start counts from the load's: the second began after the first ended.
    expect(phases.list[0].at).toBeLessThan(10);
    expect(phases.list[1].at).toBeGreaterThanOrEqual(phases.list[0].at + 25);
  });

  it('records a phase that throws and passes the error on', async () => {
    const phases = new LoadPhases();
    await expect(
      phases.time('session text_encoder', async () => {
        await wait(10);
        throw new Error('bad graph');
      }),
    ).rejects.toThrow('bad graph');
    expect(phases.list).toHaveLength(1);
    expect(phases.list[0].name).toBe('session text_encoder');
    expect(phases.list[0].ms).toBeGreaterThanOrEqual(5);
  });
});
