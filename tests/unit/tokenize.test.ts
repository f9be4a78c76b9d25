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
});
