import { describe, expect, it } from 'vitest';
import { checkGraphContract, checkOutputLength } from '../../workers/runtime/graph-contract';

const unetTensors = {
  inputs: { sample: {}, timestep: {}, encoder_hidden_states: {} },
  outputs: { out_sample: {} },
};
const meta = (types: Record<string, string>) =>
  Object.entries(types).map(([name, type]) => ({ name, isTensor: true as const, type, shape: [] }));
const signature = (inputs: Record<string, string>, outputs: string[]) => ({
  inputNames: Object.keys(inputs),
  outputNames: outputs,
  inputMetadata: meta(inputs) as never,
});
const fails = (f: () => void) => {
  try {
    f();
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`;
  }
  return 'passed';
};

describe('a session is checked against the manifest once it is made', () => {
  it('passes a graph with exactly the manifest tensors, in types the app can make', () => {
    const ok = signature({ sample: 'float16', timestep: 'int64', encoder_hidden_states: 'float16' }, ['out_sample']);
    expect(fails(() => checkGraphContract(ok, unetTensors, 'unet'))).toBe('passed');
  });

  it('names tensors the graph lacks, inputs nobody feeds, missing outputs and types it cannot feed', () => {
    const renamed = signature({ latents: 'float32', timestep: 'int64', encoder_hidden_states: 'float32' }, ['noise_pred']);
    const msg = fails(() => checkGraphContract(renamed, unetTensors, 'unet'));
    expect(msg).toMatch(/^ManifestError: the unet graph does not match the manifest/);
    expect(msg).toContain('no input "sample"');
    expect(msg).toContain('does not describe: "latents"');
    expect(msg).toContain('no output "out_sample"');
    const strings = signature({ sample: 'float32', timestep: 'string', encoder_hidden_states: 'float32' }, ['out_sample']);
    expect(fails(() => checkGraphContract(strings, unetTensors, 'unet'))).toContain('"timestep" is string');
  });

  it('refuses a run whose output has another size than the manifest shapes promise', () => {
    expect(checkOutputLength(new Float32Array(1024), 1024, 'unet', '[1, 4, 16, 16]').length).toBe(1024);
    expect(fails(() => checkOutputLength(new Float32Array(4096), 1024, 'unet', '[1, 4, 16, 16]'))).toBe(
      "LayoutError: the unet graph returned 4096 values; the manifest's shape [1, 4, 16, 16] needs 1024",
    );
  });
});
