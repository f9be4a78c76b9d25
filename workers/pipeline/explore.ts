/**
 * Exploring between two images: the start noise moves between two seeds, the text embedding
 * between two prompts. Both are pure functions of the endpoints and one position in [0, 1], so a
 * position in a share link repaints the same pixels.
 *
 * Noise is interpolated spherically (slerp): two independent Gaussian draws are almost orthogonal
 * and have norm ≈ √n, and slerp keeps the norm on that shell, so every point is as valid a start
 * as either seed. A straight line would shrink it to ~0.71√n half-way, where one-step models draw
 * washed-out images. Embeddings are interpolated linearly: both endpoints are the encoder's own
 * outputs and the UNet saw nothing in between either way; a straight line keeps the token
 * positions' scale.
 */
import type { GenerateRequest } from '../../src/shared/types';
import { gaussianNoise, normalizeSeed } from './noise';
import { promptTokens, type EmbeddingCache, type PromptTokens, type TextEncoderParts } from './prompt-caches';
import type { PromptTokenizer } from './tokenize';

/** Positions are kept to a thousandth: the same step a link, a slider and the arrow keys use. */
export const EXPLORE_STEPS = 1000;

/** A position clamped to [0, 1] and rounded to 1/EXPLORE_STEPS (NaN → 0). */
export function explorePosition(t: number): number {
  if (!Number.isFinite(t)) return 0;
  return Math.round(Math.min(1, Math.max(0, t)) * EXPLORE_STEPS) / EXPLORE_STEPS;
}

/** Spherical interpolation of two equally long vectors; t = 0 gives `a`, t = 1 gives `b` exactly. */
export function slerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  if (a.length !== b.length) throw new RangeError(`slerp: ${a.length} vs ${b.length} values`);
  if (t <= 0) return a.slice();
  if (t >= 1) return b.slice();
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  const cos = dot / Math.sqrt(na * nb);
  const theta = Math.acos(Math.min(1, Math.max(-1, cos)));
  // (Nearly) parallel endpoints: slerp tends to the straight line, which has no division by ~0.
  if (!(Math.sin(theta) > 1e-6)) return lerp(a, b, t);
  const wa = Math.sin((1 - t) * theta) / Math.sin(theta);
  const wb = Math.sin(t * theta) / Math.sin(theta);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = wa * a[i] + wb * b[i];
  return out;
}

/** Straight-line interpolation; t = 0 gives `a`, t = 1 gives `b` exactly. */
export function lerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  if (a.length !== b.length) throw new RangeError(`lerp: ${a.length} vs ${b.length} values`);
  if (t <= 0) return a.slice();
  if (t >= 1) return b.slice();
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + t * (b[i] - a[i]);
  return out;
}

/** A request's explore point, checked: null when it would paint the plain image (both positions 0). */
export interface ExplorePoint {
  toSeed: number;
  seedMix: number;
  toTokens: PromptTokens;
  promptMix: number;
  /** Appended to the image cache's key: the same point is the same image. */
  key: string;
}

export function exploreOf(req: GenerateRequest, tokenizer: PromptTokenizer): ExplorePoint | null {
  const x = req.explore;
  if (!x) return null;
  const seedMix = explorePosition(x.seedMix);
  const promptMix = explorePosition(x.promptMix);
  if (seedMix === 0 && promptMix === 0) return null;
  const toSeed = normalizeSeed(x.toSeed);
  const toTokens = promptTokens(tokenizer, promptMix > 0 ? String(x.toPrompt ?? '') : '');
  return { toSeed, seedMix, toTokens, promptMix, key: `|x${toSeed}@${seedMix}|p${promptMix > 0 ? toTokens.key : ''}@${promptMix}` };
}

/** The start noise of image `seed`, moved `mix` of the way (on the sphere) toward `toSeed`'s. */
export function towardSeed(toSeed: number, mix: number): (seed: number, n: number) => Float32Array {
  return (seed, n) => slerp(gaussianNoise(seed, n), gaussianNoise(toSeed, n), mix);
}

/** The prompt's embedding, or at an explore point both endpoints' as data (each cached), mixed. */
export async function embeddingAt(cache: EmbeddingCache, m: TextEncoderParts, tokens: PromptTokens, point: ExplorePoint | null) {
  if (!point?.promptMix) return cache.get(m, tokens);
  const a = await cache.get(m, tokens, 'data');
  const b = await cache.get(m, point.toTokens, 'data');
  return { data: lerp(a.data as Float32Array, b.data as Float32Array, point.promptMix), ms: a.ms + b.ms };
}
