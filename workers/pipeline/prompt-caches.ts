/**
 * The two caches that make typing cheap, both keyed by the prompt's token ids rather than its text:
 * a keystroke that leaves the ids as they were (a trailing space, letter case for the uncased
 * MiniLM) changes nothing the networks would see.
 *   - EmbeddingCache: the last few prompts' text embeddings; changing only the seed skips the
 *     encoder, and an explore between two prompts encodes each once. Behind it, the few kept in
 *     IndexedDB across visits (stored-embeddings.ts), which spare the first image the encoder.
 *   - ImageCache: the last request's images, keyed by ids, seed and count; an unchanged request
 *     comes back without running any network.
 */
import type * as ort from 'onnxruntime-web';
import type { GeneratedImage, Manifest } from '../../src/shared/types';
import type { LazySession } from '../runtime/lazy-session';
import { encodeText, encodeTextTensor } from './encode-text';
import type { StoredEmbeddings } from './stored-embeddings';
import { clipPromptForTokenizer, type PromptTokenizer } from './tokenize';

/** A prompt's token ids, and them joined as a string: the key of both caches; text: the prompt as tokenized. */
export interface PromptTokens {
  ids: BigInt64Array;
  key: string;
  text: string;
}

export function promptTokens(tokenizer: PromptTokenizer, prompt: string): PromptTokens {
  const text = clipPromptForTokenizer(prompt, tokenizer.maxLength);
  const ids = tokenizer.encode(text);
  return { ids, key: ids.join(','), text };
}

export interface TextEncoderParts {
  textEncoder: LazySession;
  manifest: Manifest;
  /** true: the embedding stays on the GPU as an ORT tensor (WebGPU, batch 1). */
  gpuEmbedding: boolean;
}

/** Where an embedding lives: as the backend likes it (a GPU tensor on WebGPU), or as float32 data. */
export type EmbeddingKind = 'auto' | 'data';

export class EmbeddingCache {
  /** The newest few embeddings, newest last: the prompt being typed, and an explore's two endpoints. */
  private entries: { key: string; data: Float32Array | ort.Tensor }[] = [];
  private static readonly SIZE = 3;
  /** The loaded model's embeddings kept across visits (null: none, e.g. before a load). */
  private stored: StoredEmbeddings | null = null;

  useStored(stored: StoredEmbeddings | null): void {
    this.stored = stored;
  }

  /** The database was cleared: the live copy forgets too, so no later write puts the prompts back. */
  forgetStored(): void {
    this.stored?.forget();
  }

  /**
   * The prompt's embedding, encoded only if these ids were not among the last few; ms 0 when cached.
   * 'data' always gives float32 values (mixing two embeddings needs them, even on WebGPU).
   */
  async get(
    m: TextEncoderParts,
    { ids, key, text }: PromptTokens,
    kind: EmbeddingKind = 'auto',
  ): Promise<{ data: Float32Array | ort.Tensor; ms: number }> {
    const onGpu = kind === 'auto' && m.gpuEmbedding;
    const slot = `${onGpu ? 'gpu' : 'data'}|${key}`;
    const hit = this.entries.findIndex((e) => e.key === slot);
    if (hit >= 0) {
      const [entry] = this.entries.splice(hit, 1);
      this.entries.push(entry);
      return { data: entry.data, ms: 0 };
    }
    const t0 = performance.now();
    // A stored embedding is float32 data: the UNet takes it on either backend.
    const kept = this.stored?.lookup(key) ?? null;
    const data = kept ?? (await this.encode(m, ids, onGpu));
    if (!kept && data instanceof Float32Array) this.stored?.remember(key, text, data);
    this.entries.push({ key: slot, data });
    while (this.entries.length > EmbeddingCache.SIZE) dispose(this.entries.shift()!.data);
    return { data, ms: performance.now() - t0 };
  }

  /**
   * The embedding kept under this exact prompt text (clipped for the tokenizer), or null: what a
   * first image uses while the tokenizer is not read yet (lazy-tokenizer.ts).
   */
  keptByText(text: string): Float32Array | null {
    return this.stored?.lookupText(text) ?? null;
  }

  private async encode(m: TextEncoderParts, ids: BigInt64Array, onGpu: boolean): Promise<Float32Array | ort.Tensor> {
    const encoder = await m.textEncoder.get();
    return onGpu ? encodeTextTensor(encoder, m.manifest, ids, 1) : encodeText(encoder, m.manifest, ids, 1);
  }

  /** A GPU-resident embedding is ORT's to free: dispose it when it is replaced or the model goes. */
  clear(): void {
    for (const e of this.entries) dispose(e.data);
    this.entries = [];
    void this.stored?.flush(); // the prompt someone just stopped at is kept for their next visit
    this.stored = null;
  }
}

function dispose(data: Float32Array | ort.Tensor): void {
  if (!(data instanceof Float32Array)) data.dispose();
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
