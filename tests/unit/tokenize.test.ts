import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clipPromptForTokenizer, createTokenizer } from '../../workers/pipeline/tokenize';

const json = JSON.parse(readFileSync(new URL('../../public/models/onestep-emoji/tokenizer/tokenizer.json', import.meta.url), 'utf8'));
const tok = createTokenizer(json, 20, 0);
const ids = (s: string) => Array.from(tok.encode(s), Number);

// Expected ids from the Python `tokenizers` library with the same tokenizer.json (training's path).
describe('tokenizer matches training (HF tokenizers, truncation + padding to 20)', () => {
  it('encodes, lowercases and pads', () => {
    expect(ids('red apple, noto emoji')).toEqual([101, 2417, 6207, 1010, 2025, 2080, 7861, 29147, 2072, 102, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(ids('A Smiling CAT face!!')).toEqual([101, 1037, 5629, 4937, 2227, 999, 999, 102, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('encodes the empty prompt as [CLS] [SEP] + padding', () => {
    expect(ids('')).toEqual([101, 102, ...new Array(18).fill(0)]);
  });

  it('truncates long prompts keeping [SEP] last', () => {
    expect(ids('Crème brûlée 🍮 unbelievably-extraordinary supercalifragilistic words words words words words words words')).toEqual([
      101, 13675, 21382, 7987, 9307, 2063, 100, 4895, 8671, 2666, 3567, 6321, 1011, 9313, 3565, 9289, 10128, 29181, 24411, 102,
    ]);
  });

  it('handles a 10,000-character prompt quickly, same as its clipped form', () => {
    const long = 'a smiling cat '.repeat(800).slice(0, 10_000);
    const t0 = performance.now();
    const full = ids(long);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(full.length).toBe(20);
    expect(ids(clipPromptForTokenizer(long, 20))).toEqual(full);
  });

  // Hostile text (issue 25): each gives Python's ids, so nothing a person can paste is read differently.
  it('reads control characters, RTL marks, combining marks and emoji as training does', () => {
    const pad = (a: number[]) => [...a, ...new Array(20 - a.length).fill(0)];
    expect(ids('red\u0000apple\u0007\u001b[31m\u200b cat\u0085')).toEqual(pad([101, 2417, 23804, 1031, 2861, 2213, 4937, 102]));
    expect(ids('\u202eقطة مبتسمة red apple')).toEqual(
      pad([101, 1292, 29828, 19433, 1295, 29816, 29817, 29824, 22192, 19433, 2417, 6207, 102]),
    );
    expect(ids('e\u0301\u0301\u0301 cafe\u0301 z\u0336\u0336')).toEqual(pad([101, 1041, 7668, 1062, 102]));
    expect(ids('🍎🐱🚀')).toEqual(pad([101, 100, 102])); // one [UNK]: MiniLM's vocabulary has no emoji
  });

  it('reads a lone surrogate as U+FFFD (what a well-formed string would carry), never throwing', () => {
    expect(ids('cat \ud83d face')).toEqual(ids('cat \ufffd face'));
    expect(ids('\udc00\udc00')).toEqual(ids(''));
  });

  it('keeps a 100,000-character paste bounded: clipped first, the same ids as the whole text', () => {
    const paste = 'zebra crossing at night with neon lights '.repeat(2500).slice(0, 100_000);
    expect(clipPromptForTokenizer(paste, 20).length).toBe(20 * 64);
    const t0 = performance.now();
    const clipped = ids(clipPromptForTokenizer(paste, 20));
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(clipped).toEqual(ids(paste));
  });
});
