// LazyTokenizer: the tokenizer read after the first image when that image's embedding was kept
// under its text (pipeline/lazy-tokenizer.ts), here with the shipped model's real tokenizer file.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LazyTokenizer } from '../../workers/pipeline/lazy-tokenizer';
import { createTokenizer } from '../../workers/pipeline/tokenize';

const bytes = readFileSync(new URL('../../public/models/onestep-emoji/tokenizer/tokenizer.json', import.meta.url), 'utf8');

function reader(failFirst = 0) {
  let calls = 0;
  const read = async () => {
    calls += 1;
    await new Promise((r) => setTimeout(r, 5));
    if (calls <= failFirst) throw new Error(`cut download (${calls})`);
    return createTokenizer(JSON.parse(bytes) as object, 20, 0);
  };
  return { read, calls: () => calls };
}

describe('LazyTokenizer', () => {
  it('reads nothing until asked; maxLength is known before; one read for every caller', async () => {
    const r = reader();
    const lazy = new LazyTokenizer(20, r.read);
    expect(lazy.maxLength).toBe(20);
    expect(lazy.ready).toBeNull();
    expect(r.calls()).toBe(0);
    const [a, b] = await Promise.all([lazy.get(), lazy.get()]);
    expect(a).toBe(b);
    expect(lazy.ready).toBe(a);
    expect(r.calls()).toBe(1);
    expect(Array.from(a.encode('red apple').slice(0, 4), Number)).toEqual([101, 2417, 6207, 102]);
  });

  it('a failed read is reported, leaves it unread, and is tried again by the next caller', async () => {
    const r = reader(1);
    const lazy = new LazyTokenizer(20, r.read);
    await expect(lazy.get()).rejects.toThrow('cut download (1)');
    expect(lazy.ready).toBeNull();
    await expect(lazy.get()).resolves.toBeTruthy();
    expect(r.calls()).toBe(2);
    expect(lazy.ready).not.toBeNull();
  });
});
