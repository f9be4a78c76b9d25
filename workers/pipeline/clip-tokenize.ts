/**
 * CLIP's tokenizer from the two files SD exports ship (tokenizer/vocab.json + merges.txt), run by the
 * same library as the shipped model's tokenizer (@huggingface/tokenizers).
 *
 * The library reads tokenizer.json only, so this writes the tokenizer.json that HF `tokenizers`
 * produces for CLIPTokenizerFast: NFC + whitespace collapse + lowercase, CLIP's split regex then
 * byte-level symbols, BPE with the "</w>" end-of-word suffix, and <|startoftext|> … <|endoftext|>
 * around the text. Truncation and padding to max_length stay in createTokenizer (tokenize.ts).
 */
import { createTokenizer, type PromptTokenizer } from './tokenize';

const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';
// CLIP's own pre-tokenizer pattern (openai/CLIP simple_tokenizer.py, as HF tokenizers writes it).
const CLIP_SPLIT = "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/** merges.txt → [left, right] pairs (first line is a "#version" header in CLIP's file). */
export function parseMerges(text: string): [string, string][] {
  return text
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('#version'))
    .map((line) => {
      const at = line.indexOf(' ');
      if (at <= 0) throw new SyntaxError(`merges.txt: bad line "${line.slice(0, 40)}"`);
      return [line.slice(0, at), line.slice(at + 1)];
    });
}

/** The tokenizer.json object for CLIP's BPE from its vocab and merges. */
export function clipTokenizerJson(vocab: Record<string, number>, merges: [string, string][]): object {
  const bos = vocab[BOS];
  const eos = vocab[EOS];
  if (bos === undefined || eos === undefined) throw new SyntaxError(`vocab.json lacks ${BOS} or ${EOS}: not a CLIP vocabulary`);
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(bos, BOS), special(eos, EOS)],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_SPLIT }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: [EOS, eos], cls: [BOS, bos], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: EOS,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

/** A prompt tokenizer (ids padded/truncated to maxLength) from vocab.json and merges.txt bytes. */
export function createClipTokenizer(vocabBytes: Uint8Array, mergesBytes: Uint8Array, maxLength: number, padId: number): PromptTokenizer {
  const text = new TextDecoder();
  const vocab = JSON.parse(text.decode(vocabBytes)) as Record<string, number>;
  return createTokenizer(clipTokenizerJson(vocab, parseMerges(text.decode(mergesBytes))), maxLength, padId);
}
