/**
 * The two caches that make typing cheap, both keyed by the prompt's token ids rather than its text:
 * a keystroke that leaves the ids as they were (a trailing space, letter case for the uncased
 * MiniLM) changes nothing the networks would see.
 *   - EmbeddingCache: the last prompt's text embedding; changing only the seed skips the encoder.
 *   - ImageCache: the last request's images, keyed by ids, seed and count; an unchanged request
 *     comes back without running any network.
 */
import type * as ort from 'onnxruntime-web';
import type { GeneratedImage, Manifest } from '../../src/shared/types';
import { encodeText, encodeTextTensor } from './encode-text';
import { clipPromptForTokenizer, type PromptTokenizer } from './tokenize';

/** A prompt's token ids, and them joined as a string: the key of both caches. */
export interface PromptTokens {
  ids: BigInt64Array;
  key: string;
}

export function promptTokens(tokenizer: PromptTokenizer, prompt: string): PromptTokens {
  const ids = tokenizer.encode(clipPromptForTokenizer(prompt, tokenizer.maxLength));
  return { ids, key: ids.join(',') };
}

export interface TextEncoderParts {
  textEncoder: ort.InferenceSession;
  manifest: Manifest;
  /** true: the embedding stays on the GPU as an ORT tensor (WebGPU, batch 1). */
  gpuEmbedding: boolean;
}

export class EmbeddingCache {
  private last: { key: string; data: Float32Array | ort.Tensor } | null = null;

  /** The prompt's embedding, encoded only if its ids differ from the last prompt's; ms 0 when cached. */
  async get(m: TextEncoderParts, { ids, key }: PromptTokens): Promise<{ data: Float32Array | ort.Tensor; ms: number }> {
    if (this.last?.key === key) return { data: this.last.data, ms: 0 };
    const t0 = performance.now();
    const data = m.gpuEmbedding
      ? await encodeTextTensor(m.textEncoder, m.manifest, ids, 1)
      : await encodeText(m.textEncoder, m.manifest, ids, 1);
    this.clear();
    this.last = { key, data };
    return { data, ms: performance.now() - t0 };
  }

  /** A GPU-resident embedding is ORT's to free: dispose it when it is replaced or the model goes. */
  clear(): void {
    const old = this.last?.data;
    if (old && !(old instanceof Float32Array)) old.dispose();
    this.last = null;
  }
}

export class ImageCache {
  // Copies: the pixels handed out are transferred to the page and detached here.
  private last: { key: string; images: GeneratedImage[] } | null = null;

  get(key: string): GeneratedImage[] | null {
    return this.last?.key === key ? copies(this.last.images) : null;
  }

  put(key: string, images: GeneratedImage[]): void {
    this.last = { key, images: copies(images) };
  }

  clear(): void {
    this.last = null;
  }
}

const copies = (images: GeneratedImage[]) => images.map((i) => ({ ...i, pixels: i.pixels.slice(0) }));
