/**
 * prompt → input_ids, with the same truncation and padding as training (HF `tokenizers` with
 * enable_truncation(max_length) + enable_padding(length=max_length, pad_id)).
 *
 * @huggingface/tokenizers applies the normalizer, pre-tokenizer, WordPiece model and the
 * post-processor template from tokenizer.json, but not its truncation/padding blocks, so those
 * two steps live here. Truncation keeps the template's special tokens (e.g. [CLS] … [SEP]),
 * exactly as the Rust library does for a single sequence.
 */
import { Tokenizer } from '@huggingface/tokenizers';

export interface PromptTokenizer {
  /** Token ids for `prompt`, length maxLength, as int64 for ORT. */
  encode(prompt: string): BigInt64Array;
  readonly maxLength: number;
}

export function createTokenizer(tokenizerJson: object, maxLength: number, padId: number): PromptTokenizer {
  const tokenizer = new Tokenizer(tokenizerJson, {});
  // The special tokens the template wraps around a sequence, found from the template itself.
  const withSpecials = tokenizer.encode('a').ids;
  const bare = tokenizer.encode('a', { add_special_tokens: false }).ids;
  const at = withSpecials.indexOf(bare[0]);
  const prefix = withSpecials.slice(0, at);
  const suffix = withSpecials.slice(at + bare.length);
  const room = maxLength - prefix.length - suffix.length;
  if (room <= 0) throw new RangeError(`max_length ${maxLength} leaves no room between the special tokens`);

  return {
    maxLength,
    encode(prompt: string): BigInt64Array {
      const content = tokenizer.encode(prompt, { add_special_tokens: false }).ids.slice(0, room);
      const ids = [...prefix, ...content, ...suffix];
      const out = new BigInt64Array(maxLength).fill(BigInt(padId));
      ids.forEach((id, i) => (out[i] = BigInt(id)));
      return out;
    },
  };
}

/**
 * Very long prompts only ever contribute their first max_length tokens; cutting the text first
 * keeps a pasted 10,000-character prompt from costing a full tokenisation on every keystroke.
 * 64 characters per token is far more than WordPiece ever uses, so the result is unchanged.
 */
export function clipPromptForTokenizer(prompt: string, maxLength: number): string {
  const limit = maxLength * 64;
  return prompt.length > limit ? prompt.slice(0, limit) : prompt;
}
