/**
 * The per-image paths, stage by stage, once the prompt's embedding exists (tokenize → encode-text
 * happen in the Generator, which caches the embedding per prompt):
 *
 *   student: noise(seed + i) → denoise-one-step (ONE UNet call) → decode → check → to-rgba
 *   teacher: noise(seed)     → N DDIM steps with guidance       → decode → check → to-rgba
 *
 * Each network's output is checked before it becomes pixels (check-output.ts).
 */
import type * as ort from 'onnxruntime-web';
import { MAX_BATCH } from '../../src/shared/config';
import type { GeneratedImage, Manifest } from '../../src/shared/types';
import { checkFinite, checkNotBlank } from './check-output';
import { ddimTeacher } from './ddim-teacher';
import { decodeLatents } from './decode';
import { denoiseOneStep } from './denoise-one-step';
import { gaussianNoise } from './noise';
import { planarToRgba } from './to-rgba';

export interface StudentParts {
  manifest: Manifest;
  unet: ort.InferenceSession;
  decoder: ort.InferenceSession;
}

export interface Painted {
  images: GeneratedImage[];
  /** ms in the UNet call(s) and in the decoder. */
  denoiseMs: number;
  decodeMs: number;
}

/**
 * `count` images of one prompt, image i from seed + i (so a variation re-run alone looks the same).
 * `emb` is one prompt's [1, L, D] embedding: float32 data, or a GPU tensor (then one image per call).
 * `noiseOf` gives each image's start noise (an explore point moves it toward another seed's).
 */
export async function studentImages(
  parts: StudentParts,
  emb: Float32Array | ort.Tensor,
  seed: number,
  count: number,
  noiseOf: (seed: number, n: number) => Float32Array = gaussianNoise,
): Promise<Painted> {
  const { manifest } = parts;
  const { channels, height, width } = manifest.latent;
  const latentSize = channels * height * width;
  // Models with static batch 1 (512×512 exports) run their images one call at a time.
  const per = emb instanceof Float32Array ? Math.max(1, manifest.runtime?.max_batch ?? MAX_BATCH) : 1;
  const out: Painted = { images: [], denoiseMs: 0, decodeMs: 0 };
  for (let start = 0; start < count; start += per) {
    const n = Math.min(per, count - start);
    const noise = new Float32Array(n * latentSize);
    for (let i = 0; i < n; i++) noise.set(noiseOf((seed + start + i) >>> 0, latentSize), i * latentSize);
    const t1 = performance.now();
    const x0 = checkFinite(await denoiseOneStep(parts.unet, manifest, noise, repeat(emb, n), n), 'the UNet');
    const t2 = performance.now();
    const rgb = await decodeChecked(parts, x0, n);
    out.denoiseMs += t2 - t1;
    out.decodeMs += performance.now() - t2;
    out.images.push(...toImages(manifest, rgb, n, (seed + start) >>> 0));
  }
  return out;
}

export interface TeacherParts extends Omit<StudentParts, 'unet'> {
  teacher: ort.InferenceSession;
}

/** One teacher image: `steps` DDIM steps with classifier-free guidance between `cond` and `uncond`. */
export async function teacherImage(
  parts: TeacherParts,
  cond: Float32Array,
  uncond: Float32Array,
  seed: number,
  steps: number,
  guidance: number,
  onStep: (step: number, total: number) => void = () => undefined,
): Promise<Painted> {
  const { channels, height, width } = parts.manifest.latent;
  const z = gaussianNoise(seed, channels * height * width);
  const t1 = performance.now();
  const x0 = checkFinite(await ddimTeacher(parts.teacher, parts.manifest, z, cond, uncond, steps, guidance, onStep), 'the teacher');
  const t2 = performance.now();
  const rgb = await decodeChecked(parts, x0, 1);
  return { images: toImages(parts.manifest, rgb, 1, seed), denoiseMs: t2 - t1, decodeMs: performance.now() - t2 };
}

async function decodeChecked(
  parts: { manifest: Manifest; decoder: ort.InferenceSession },
  x0: Float32Array,
  n: number,
): Promise<Float32Array> {
  return checkNotBlank(checkFinite(await decodeLatents(parts.decoder, parts.manifest, x0, n), 'the decoder'), n, 'the decoder');
}

/** One prompt's embedding for n images (data is copied n times; a GPU tensor is used as it is, n = 1). */
function repeat(emb: Float32Array | ort.Tensor, n: number): Float32Array | ort.Tensor {
  if (!(emb instanceof Float32Array) || n === 1) return emb;
  const out = new Float32Array(n * emb.length);
  for (let i = 0; i < n; i++) out.set(emb, i * emb.length);
  return out;
}

/** Planar RGB in the manifest's range → one RGBA image per batch entry, seeds from `seed` on. */
export function toImages(manifest: Manifest, rgb: Float32Array, count: number, seed: number): GeneratedImage[] {
  const { width, height, range } = manifest.output;
  return Array.from({ length: count }, (_, i) => ({
    seed: (seed + i) >>> 0,
    width,
    height,
    pixels: planarToRgba(rgb, i * 3 * width * height, width, height, range).buffer,
  }));
}
