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
    ['missing files.unet', () => { const m = clone(); delete m.files.unet; return m; }, /files\.unet/],
    ['bad sha256', () => { const m = clone(); m.files.unet.sha256 = 'abc'; return m; }, /files\.unet\.sha256/],
    ['negative bytes', () => { const m = clone(); m.files.vae_decoder.bytes = -1; return m; }, /files\.vae_decoder\.bytes/],
    ['path escaping the folder', () => { const m = clone(); m.files.unet.path = '../../etc/passwd'; return m; }, /relative path/],
    ['absolute URL path', () => { const m = clone(); m.files.unet.path = 'https://evil.example/x.onnx'; return m; }, /relative path/],
    ['unknown rule', () => { const m = clone(); m.one_step.rule = 'lcm'; return m; }, /one_step\.rule/],
    ['alpha_bar out of range', () => { const m = clone(); m.one_step.alpha_bar = 2; return m; }, /one_step\.alpha_bar/],
    ['zero scaling factor', () => { const m = clone(); m.vae.scaling_factor = 0; return m; }, /vae\.scaling_factor/],
    ['unknown schema', () => { const m = clone(); m.schema = 9; return m; }, /schema/],
    ['teacher file not listed', () => { const m = clone(); m.teacher.file = 'nowhere'; return m; }, /teacher\.file/],
    ['unet input missing', () => { const m = clone(); delete m.tensors.unet.inputs.timestep; return m; }, /tensors\.unet\.inputs\.timestep/],
    ['bad output range', () => { const m = clone(); m.output.range = [1, -1]; return m; }, /output\.range/],
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
