import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseModelUrl } from '../../workers/model-store/model-url';

/** A hub this test allows (a build allows only config.ts MODEL_HUBS). */
const mirror = { hubs: ['https://hub.example'], loopback: false };
import { planFingerprint, readRemoteModel, type TreeEntry } from '../../workers/model-store/remote-layout';
import { alphasCumprod } from '../../workers/pipeline/schedule';

// A fake hub holding an SD-Turbo-shaped export without our manifest (like schmuell/sd-turbo-ort-web).
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const small: Record<string, string> = {
  'model_index.json': JSON.stringify({ _class_name: 'OnnxStableDiffusionPipeline' }),
  'scheduler/scheduler_config.json': JSON.stringify({
    _class_name: 'EulerDiscreteScheduler',
    beta_start: 0.00085,
    beta_end: 0.012,
    num_train_timesteps: 1000,
  }),
  'tokenizer/vocab.json': JSON.stringify({ '!': 0, a: 1, '<|startoftext|>': 2, '<|endoftext|>': 3 }),
  'tokenizer/merges.txt': '#version: 0.2\n',
  'tokenizer/special_tokens_map.json': JSON.stringify({ pad_token: '!' }),
  'tokenizer/tokenizer_config.json': JSON.stringify({ model_max_length: 77 }),
  'unet/config.json': JSON.stringify({ sample_size: 64, in_channels: 4 }),
};
const big: Record<string, number> = {
  'text_encoder/model.onnx': 681_000_000,
  'unet/model.onnx': 1_730_000_000,
  'vae_decoder/model.onnx': 99_100_000,
};

function fakeHub(drop: string[] = []): typeof fetch {
  const entries = (folder: string): TreeEntry[] => {
    const paths = [...Object.keys(small), ...Object.keys(big)].filter((p) => !drop.includes(p));
    const files = paths.filter((p) =>
      folder ? p.startsWith(`${folder}/`) && !p.slice(folder.length + 1).includes('/') : !p.includes('/'),
    );
    return files.map((p) =>
      p in big
        ? { type: 'file', path: p, size: 134, lfs: { oid: sha(p), size: big[p] } }
        : { type: 'file', path: p, size: small[p].length, oid: 'x' },
    );
  };
  return (async (input: string | URL) => {
    const url = new URL(String(input));
    const tree = url.pathname.match(/^\/api\/models\/o\/sd\/tree\/main\/?(.*)$/);
    if (tree) return new Response(JSON.stringify(entries(tree[1])), { status: 200 });
    if (url.pathname === '/api/models/o/sd')
      return new Response(JSON.stringify({ cardData: { license: 'other' }, tags: ['license:other'] }));
    const file = url.pathname.replace('/o/sd/resolve/main/', '');
    if (file in small && !drop.includes(file)) return new Response(small[file]);
    return new Response('not found', { status: 404 });
  }) as typeof fetch;
}

describe('readRemoteModel on a repository without our manifest', () => {
  const ref = parseModelUrl('https://hub.example/o/sd', mirror);

  it('builds a manifest from the layout: lfs sha256, hashed small files, Euler rule, fp16 assumption', async () => {
    const r = await readRemoteModel(ref, undefined, fakeHub());
    const m = r.manifest;
    expect(r.id).toBe('hub.example/o/sd');
    expect(r.baseUrl).toBe('https://hub.example/o/sd/resolve/main/');
    expect(r.license).toBe('other');
    expect(m.files.unet).toEqual({ path: 'unet/model.onnx', bytes: 1_730_000_000, sha256: sha('unet/model.onnx') });
    expect(m.files.tokenizer_merges.sha256).toBe(sha(small['tokenizer/merges.txt']));
    expect(m.tokenizer).toEqual({ kind: 'clip-bpe', merges: 'tokenizer_merges', max_length: 77, pad_id: 0 });
    expect(m.one_step.rule).toBe('euler');
    expect(m.one_step.sigma).toBeCloseTo(14.6146, 3);
    expect(m.latent).toEqual({ channels: 4, height: 64, width: 64 });
    expect(m.output.width).toBe(512);
    expect(m.requirements?.webgpu_features).toEqual(['shader-f16']);
    expect(m.runtime?.free_dimension_overrides?.unet).toEqual({
      batch_size: 1,
      num_channels: 4,
      height: 64,
      width: 64,
      sequence_length: 77,
    });
    expect(r.assumed.join(' ')).toMatch(/shader-f16/);
  });

  it("fingerprints a plan by licence and files, not by the files' order", async () => {
    const r = await readRemoteModel(ref, undefined, fakeHub());
    const same = planFingerprint(r);
    const reversed = { ...r.manifest, files: Object.fromEntries(Object.entries(r.manifest.files).reverse()) as typeof r.manifest.files };
    expect(planFingerprint({ license: r.license, manifest: reversed })).toBe(same);
    expect(planFingerprint({ ...r, license: 'MIT' })).not.toBe(same);
    const bigger = { ...r.manifest, files: { ...r.manifest.files, unet: { ...r.manifest.files.unet, bytes: 1 } } };
    expect(planFingerprint({ license: r.license, manifest: bigger })).not.toBe(same);
    const rehashed = { ...r.manifest, files: { ...r.manifest.files, unet: { ...r.manifest.files.unet, sha256: sha('other') } } };
    expect(planFingerprint({ license: r.license, manifest: rehashed })).not.toBe(same);
  });

  it('takes the rule and requirements of a known index.json entry instead of assuming', async () => {
    const r = await readRemoteModel(
      ref,
      {
        id: 'k',
        name: 'Known',
        source: 'remote',
        bytes: 1,
        url: 'o/sd',
        one_step_rule: 'ddpm',
        requirements: { webgpu_features: ['shader-f16'], wasm: false, fp16_compute: true },
      },
      fakeHub(),
    );
    expect(r.manifest.one_step.rule).toBe('ddpm');
    expect(r.manifest.name).toBe('Known');
    expect(r.assumed.join(' ')).not.toMatch(/shader-f16|one-step rule/);
  });

  it('names the missing files of an incomplete repository', async () => {
    await expect(readRemoteModel(ref, undefined, fakeHub(['unet/model.onnx', 'tokenizer/merges.txt']))).rejects.toMatchObject({
      name: 'LayoutError',
      message: expect.stringMatching(/unet\/model\.onnx, tokenizer\/merges\.txt/),
    });
  });

  it('refuses a repository that is not there', async () => {
    await expect(readRemoteModel(parseModelUrl('https://hub.example/o/missing', mirror), undefined, fakeHub())).rejects.toMatchObject({
      name: 'LayoutError',
    });
  });

  it('computes ᾱ as diffusers does (the schedule module it uses)', () => {
    const ab = alphasCumprod({ beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000 });
    expect(ab[999]).toBeCloseTo(0.0046601, 6);
    expect(ab[399]).toBeCloseTo(0.42609, 4);
  });
});
