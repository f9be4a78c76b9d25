// Backend choice and ORT session options: pure decisions, checked with a stubbed navigator.gpu.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { chooseBackend } from '../../workers/runtime/backend';
import { sessionOptions, WEBGPU_EP } from '../../workers/runtime/session';

function stubGpu(features: string[] | null) {
  vi.stubGlobal('self', { crossOriginIsolated: false });
  vi.stubGlobal('navigator', {
    hardwareConcurrency: 2,
    gpu: {
      requestAdapter: async () => (features === null ? null : { features: new Set(features) }),
    },
  });
}

afterEach(() => vi.unstubAllGlobals());

describe('session options', () => {
  it('WebGPU sessions keep the NCHW layout (issue 3: NHWC kernels made the UNet non-deterministic)', () => {
    const o = sessionOptions('webgpu');
    expect(o.executionProviders).toEqual([{ name: 'webgpu', preferredLayout: 'NCHW' }, 'wasm']);
    expect(WEBGPU_EP.preferredLayout).toBe('NCHW');
  });
  it('WASM sessions are unchanged', () => {
    expect(sessionOptions('wasm')).toEqual({ executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  });
  it("the model's static shapes and external data are added without touching NCHW; GPU outputs only on WebGPU", () => {
    const data = new Uint8Array(4);
    const extras = {
      freeDimensionOverrides: { batch_size: 1, height: 64 },
      externalData: [{ path: 'model.onnx_data', data }],
      gpuOutputs: ['last_hidden_state'],
    };
    const gpu = sessionOptions('webgpu', extras);
    expect(gpu.executionProviders).toEqual([{ name: 'webgpu', preferredLayout: 'NCHW' }, 'wasm']);
    expect(gpu.freeDimensionOverrides).toEqual({ batch_size: 1, height: 64 });
    expect(gpu.externalData).toEqual([{ path: 'model.onnx_data', data }]);
    expect(gpu.preferredOutputLocation).toEqual({ last_hidden_state: 'gpu-buffer' });
    const cpu = sessionOptions('wasm', extras);
    expect(cpu.preferredOutputLocation).toBeUndefined();
    expect(cpu.freeDimensionOverrides).toEqual({ batch_size: 1, height: 64 });
  });
});

describe('chooseBackend and required WebGPU features', () => {
  it('uses WebGPU when the adapter has every required feature', async () => {
    stubGpu(['shader-f16']);
    expect((await chooseBackend('auto', ['shader-f16'])).backend).toBe('webgpu');
  });
  it('auto: falls back to WASM and says which feature is missing', async () => {
    stubGpu([]);
    const c = await chooseBackend('auto', ['shader-f16']);
    expect(c.backend).toBe('wasm');
    expect(c.note).toMatch(/shader-f16/);
  });
  it('webgpu requested: refuses clearly with Fp16UnsupportedError when shader-f16 is missing', async () => {
    stubGpu([]);
    await expect(chooseBackend('webgpu', ['shader-f16'])).rejects.toMatchObject({
      name: 'Fp16UnsupportedError',
      message: expect.stringMatching(/shader-f16/),
    });
  });
  it('webgpu requested without an adapter: WebGPUUnavailableError', async () => {
    stubGpu(null);
    await expect(chooseBackend('webgpu', [])).rejects.toMatchObject({ name: 'WebGPUUnavailableError' });
  });
});
