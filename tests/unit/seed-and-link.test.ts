import { describe, expect, it } from 'vitest';
import { parseSeed, SEED_MAX, SEED_RULE } from '../../src/ui/seed';
import { readShared, writeShared } from '../../src/ui/share-link';

describe('the seed rule (one rule for the seed box and shared links)', () => {
  it('takes whole numbers from 0 to 2^32 - 1 written in digits', () => {
    expect(parseSeed('0')).toBe(0);
    expect(parseSeed(' 42 ')).toBe(42);
    expect(parseSeed(String(SEED_MAX))).toBe(4294967295);
    expect(SEED_RULE).toBe('a whole number from 0 to 4294967295');
  });

  it('refuses negative, fractional, too large, exponent, non-numeric and empty seeds', () => {
    for (const bad of ['-1', '1.5', '4294967296', '99999999999', '1e3', 'abc', '', '   ', '0x10', '١٢', '+5', null, undefined]) {
      expect(parseSeed(bad as string)).toBeNull();
    }
  });
});

describe('share link (URL fragment)', () => {
  it('restores prompt and seed, and a lone surrogate or markup survives as text', () => {
    const prompt = 'cat \ud83d <b>face</b> & ="quotes"';
    const back = readShared(writeShared({ prompt, seed: 7 }));
    expect(back.seed).toBe(7);
    expect(back.prompt).toBe('cat \ufffd <b>face</b> & ="quotes"');
  });

  it('reports a seed that breaks the rule instead of wrapping it', () => {
    expect(readShared('#prompt=x&seed=4294967301')).toEqual({ prompt: 'x', seed: null, badSeed: '4294967301' });
    expect(readShared('#seed=-3').badSeed).toBe('-3');
    expect(readShared('#prompt=x')).toEqual({ prompt: 'x', seed: null });
  });

  it('reads junk, invalid percent-encoding and 10 kB fragments without throwing', () => {
    expect(readShared('#%E0%A4%A').prompt).toBe('');
    expect(readShared('#prompt=%FF%FE&seed=%C0').prompt).toBe('\ufffd\ufffd');
    expect(readShared('#{"prompt":1}')).toEqual({ prompt: '', seed: null });
    const junk = readShared(`#seed=${'9'.repeat(10_000)}`);
    expect(junk.seed).toBeNull();
    expect(junk.badSeed?.length).toBe(40); // what the page quotes back is bounded
  });

  it('restores an explore point exactly, and leaves out a slider at 0', () => {
    const explore = { toSeed: 9, seedMix: 0.25, toPrompt: 'dog & "cat"', promptMix: 0.5 };
    expect(readShared(writeShared({ prompt: 'cat', seed: 7, explore })).explore).toEqual(explore);
    const seedOnly = writeShared({ prompt: 'cat', seed: 7, explore: { ...explore, promptMix: 0 } });
    expect(seedOnly).not.toContain('toprompt');
    expect(readShared(seedOnly).explore).toEqual({ toSeed: 9, seedMix: 0.25, toPrompt: '', promptMix: 0 });
  });

  it('ignores an explore point that breaks the rules (bad target seed, position outside [0, 1])', () => {
    expect(readShared('#prompt=x&seed=1&toseed=-4&seedmix=0.5').explore).toBeUndefined();
    expect(readShared('#prompt=x&seed=1&toseed=4&seedmix=2').explore).toBeUndefined();
    expect(readShared('#prompt=x&seed=1&toprompt=y&promptmix=NaN').explore).toBeUndefined();
    expect(readShared('#prompt=x&seed=1&toprompt=y&promptmix=0.12345').explore?.promptMix).toBe(0.123);
  });
});
