import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateManifest } from '../../workers/model-store/manifest';

const shipped = JSON.parse(readFileSync(new URL('../../public/models/onestep-emoji/manifest.json', import.meta.url), 'utf8'));
const clone = () => structuredClone(shipped);

describe('validateManifest', () => {
  it('accepts the shipped manifest', () => {
    const m = validateManifest(clone());
    expect(m.id).toBe('onestep-emoji');
    expect(m.one_step.timestep).toBe(999);
  });

  it.each([
    ['not an object', () => 'nope', /not a JSON object/],
    [
      'missing files.unet',
      () => {
        const m = clone();
        delete m.files.unet;
        return m;
      },
      /files\.unet/,
    ],
    [
      'bad sha256',
      () => {
        const m = clone();
        m.files.unet.sha256 = 'abc';
        return m;
      },
      /files\.unet\.sha256/,
    ],
    [
      'negative bytes',
      () => {
        const m = clone();
        m.files.vae_decoder.bytes = -1;
        return m;
      },
      /files\.vae_decoder\.bytes/,
    ],
    [
      'path escaping the folder',
      () => {
        const m = clone();
        m.files.unet.path = '../../etc/passwd';
        return m;
      },
      /relative path/,
    ],
    [
      'absolute URL path',
      () => {
        const m = clone();
        m.files.unet.path = 'https://evil.example/x.onnx';
        return m;
      },
      /relative path/,
    ],
    [
      'unknown rule',
      () => {
        const m = clone();
        m.one_step.rule = 'lcm';
        return m;
      },
      /one_step\.rule/,
    ],
    [
      'alpha_bar out of range',
      () => {
        const m = clone();
        m.one_step.alpha_bar = 2;
        return m;
      },
      /one_step\.alpha_bar/,
    ],
    [
      'zero scaling factor',
      () => {
        const m = clone();
        m.vae.scaling_factor = 0;
        return m;
      },
      /vae\.scaling_factor/,
    ],
    [
      'unknown schema',
      () => {
        const m = clone();
        m.schema = 9;
        return m;
      },
      /schema/,
    ],
    [
      'teacher file not listed',
      () => {
        const m = clone();
        m.teacher.file = 'nowhere';
        return m;
      },
      /teacher\.file/,
    ],
    [
      'unet input missing',
      () => {
        const m = clone();
        delete m.tensors.unet.inputs.timestep;
        return m;
      },
      /tensors\.unet\.inputs\.timestep/,
    ],
    [
      'bad output range',
      () => {
        const m = clone();
        m.output.range = [1, -1];
        return m;
      },
      /output\.range/,
    ],
    // hostile repositories (issue 25): numbers that would allocate gigabytes are refused first
    [
      'a 1 TB file',
      () => {
        const m = clone();
        m.files.unet.bytes = 1e12;
        return m;
      },
      /files\.unet\.bytes.*4 GiB/,
    ],
    [
      'fractional bytes',
      () => {
        const m = clone();
        m.files.unet.bytes = 10.5;
        return m;
      },
      /files\.unet\.bytes/,
    ],
    [
      'a sha256 in capitals or too short',
      () => {
        const m = clone();
        m.files.unet.sha256 = 'A'.repeat(64);
        return m;
      },
      /sha256/,
    ],
    [
      'a latent of a billion values',
      () => {
        const m = clone();
        m.latent = { channels: 1000, height: 1000, width: 1000 };
        return m;
      },
      /latent/,
    ],
    [
      'a latent side of 100,000',
      () => {
        const m = clone();
        m.latent.height = 100_000;
        return m;
      },
      /latent\.height/,
    ],
    [
      'an output of 100,000 pixels a side',
      () => {
        const m = clone();
        m.output.width = 100_000;
        return m;
      },
      /output\.width/,
    ],
    [
      'a million tokens',
      () => {
        const m = clone();
        m.tokenizer.max_length = 1e6;
        return m;
      },
      /tokenizer\.max_length/,
    ],
    [
      'a batch of 10,000',
      () => {
        const m = clone();
        m.runtime = { max_batch: 10_000 };
        return m;
      },
      /runtime\.max_batch/,
    ],
    [
      'NaN sizes',
      () => {
        const m = clone();
        m.output.height = Number.NaN;
        return m;
      },
      /output\.height/,
    ],
    [
      'a 100 MiB tokenizer (parsed whole on the worker)',
      () => {
        const m = clone();
        m.files.tokenizer.bytes = 100 * 2 ** 20;
        return m;
      },
      /files\.tokenizer\.bytes.*64 MiB/,
    ],
    [
      'a path with a backslash escape',
      () => {
        const m = clone();
        m.files.unet.path = '/abs/model.onnx';
        return m;
      },
      /relative path/,
    ],
  ])('rejects %s with a named ManifestError', (_label, make, message) => {
    try {
      validateManifest(make());
      expect.unreachable('should throw');
    } catch (err) {
      expect((err as Error).name).toBe('ManifestError');
      expect((err as Error).message).toMatch(message);
    }
  });
});
