// The per-image paths (workers/pipeline/generate.ts) on small fake sessions: real ORT tensors, a
// "UNet" and a "decoder" whose outputs are simple functions of their inputs, so each stage's
// wiring (seeds, batching, timesteps, checks, pixels) is visible in what comes out.
import { readFileSync } from 'node:fs';
import type * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/shared/types';
import { validateManifest } from '../../workers/model-store/manifest';
import { studentImages, teacherImage } from '../../workers/pipeline/generate';
import { activeOrt, useOrtFor } from '../../workers/runtime/ort';

const manifest: Manifest = validateManifest(
  JSON.parse(readFileSync(new URL('../../public/models/onestep-emoji/manifest.json', import.meta.url), 'utf8')),
);
const { channels, height, width } = manifest.latent;
const out = manifest.output;

interface Call {
  feeds: Record<string, ort.Tensor>;
}

/** A session whose single output is `fn` of its feeds; records every call. */
function fakeSession(inputs: string[], output: string, fn: (feeds: Record<string, ort.Tensor>) => ort.Tensor) {
  const calls: Call[] = [];
  const session = {
    inputNames: inputs,
    outputNames: [output],
    inputMetadata: [],
    outputMetadata: [],
    async run(feeds: Record<string, ort.Tensor>) {
      calls.push({ feeds });
      return { [output]: fn(feeds) };
    },
  } as unknown as ort.InferenceSession;
  return { session, calls };
}

const f32 = (t: ort.Tensor) => t.data as Float32Array;
const tensor = (data: Float32Array, dims: number[]) => new (activeOrt().Tensor)('float32', data, dims);

/** ε = `eps` everywhere (x0 is then the rule applied to the scaled noise). */
const unetOf = (eps: number) =>
  fakeSession(['sample', 'timestep', 'encoder_hidden_states'], 'out_sample', (f) => {
    const s = f.sample;
    return tensor(new Float32Array(s.data.length).fill(eps), [...s.dims]);
  });

/** Each output pixel is tanh of the latent's first channel at that place (nearest upsampling). */
const decoderOf = (flat = false) =>
  fakeSession(['latent_sample'], 'sample', (f) => {
    const z = f32(f.latent_sample);
    const b = f.latent_sample.dims[0];
    const rgb = new Float32Array(b * 3 * out.height * out.width);
    for (let n = 0; n < b; n++)
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < out.height; y++)
          for (let x = 0; x < out.width; x++) {
            const v = flat
              ? -1
              : Math.tanh(
                  z[n * channels * height * width + Math.floor((y * height) / out.height) * width + Math.floor((x * width) / out.width)],
                );
            rgb[((n * 3 + c) * out.height + y) * out.width + x] = v;
          }
    return tensor(rgb, [b, 3, out.height, out.width]);
  });

const emb = new Float32Array(manifest.tokenizer.max_length * 384).fill(0.01);

beforeAll(async () => {
  await useOrtFor('wasm', 1);
});

describe('student: noise → one UNet call → decode → pixels', () => {
  it('makes `count` images from seed, seed+1, …, in one batched UNet call at the one-step timestep', async () => {
    const unet = unetOf(0);
    const decoder = decoderOf();
    const r = await studentImages({ manifest, unet: unet.session, decoder: decoder.session }, emb, 41, 3);
    expect(r.images.map((i) => i.seed)).toEqual([41, 42, 43]);
    expect(
      r.images.every((i) => i.width === out.width && i.height === out.height && i.pixels.byteLength === out.width * out.height * 4),
    ).toBe(true);
    expect(unet.calls).toHaveLength(1);
    expect(unet.calls[0].feeds.sample.dims).toEqual([3, channels, height, width]);
    expect(Array.from(unet.calls[0].feeds.timestep.data as BigInt64Array, Number)).toEqual([999, 999, 999]);
    expect(unet.calls[0].feeds.encoder_hidden_states.dims).toEqual([3, manifest.tokenizer.max_length, 384]);
    expect(decoder.calls).toHaveLength(1);
  });

  it('image i alone, from seed + i, has the same pixels as inside the batch (variations re-run alike)', async () => {
    const parts = { manifest, unet: unetOf(0.3).session, decoder: decoderOf().session };
    const batch = await studentImages(parts, emb, 7, 3);
    const alone = await studentImages(parts, emb, 9, 1);
    expect(new Uint8Array(alone.images[0].pixels)).toEqual(new Uint8Array(batch.images[2].pixels));
    expect(new Uint8Array(batch.images[0].pixels)).not.toEqual(new Uint8Array(batch.images[1].pixels));
  });

  it('refuses a NaN from the UNet and a blank image from the decoder before any pixel is made', async () => {
    await expect(
      studentImages({ manifest, unet: unetOf(Number.NaN).session, decoder: decoderOf().session }, emb, 1, 1),
    ).rejects.toMatchObject({ name: 'BadOutputError', message: expect.stringMatching(/^the UNet gave/) });
    await expect(studentImages({ manifest, unet: unetOf(0).session, decoder: decoderOf(true).session }, emb, 1, 1)).rejects.toMatchObject({
      name: 'BadOutputError',
      message: expect.stringMatching(/blank image/),
    });
  });
});

describe('teacher: noise → N guided DDIM steps → decode → pixels', () => {
  it('runs one batched [uncond, cond] UNet call per step, reports each step, and paints one image', async () => {
    const teacher = unetOf(0.1);
    const steps: number[] = [];
    const r = await teacherImage({ manifest, teacher: teacher.session, decoder: decoderOf().session }, emb, emb, 5, 4, 3.5, (s) =>
      steps.push(s),
    );
    expect(teacher.calls).toHaveLength(4);
    expect(teacher.calls.every((c) => c.feeds.sample.dims[0] === 2)).toBe(true);
    expect(steps).toEqual([1, 2, 3, 4]);
    expect(r.images.map((i) => i.seed)).toEqual([5]);
  });
});
