import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createClipTokenizer, parseMerges } from '../../workers/pipeline/clip-tokenize';

// A tiny CLIP vocabulary written by training/factory/tiny_sd.py; the expected ids come from
// transformers' CLIPTokenizer on the same files (padding to 77 with <|endoftext|>, truncation).
const dir = new URL('./fixtures/tiny-clip/', import.meta.url);
const vocab = readFileSync(new URL('vocab.json', dir));
const merges = readFileSync(new URL('merges.txt', dir));
const expected = JSON.parse(readFileSync(new URL('expected.json', dir), 'utf8')) as { prompt: string; ids: number[] }[];
const padId = (JSON.parse(vocab.toString()) as Record<string, number>)['<|endoftext|>'];

describe('CLIP tokenization from vocab.json + merges.txt (@huggingface/tokenizers)', () => {
  const tok = createClipTokenizer(vocab, merges, 77, padId);

  it.each(expected.map((e) => [e.prompt.slice(0, 40), e] as const))('matches transformers for "%s"', (_label, e) => {
    expect(Array.from(tok.encode(e.prompt), Number)).toEqual(e.ids);
  });

  it('parses merges, skipping the #version header', () => {
    expect(parseMerges('#version: 0.2\nr e\nre d</w>\n')).toEqual([
      ['r', 'e'],
      ['re', 'd</w>'],
    ]);
  });

  it('refuses a vocabulary without CLIP special tokens', () => {
    expect(() => createClipTokenizer(new TextEncoder().encode('{"a": 0}'), merges, 77, 0)).toThrow(/CLIP/);
  });
});
