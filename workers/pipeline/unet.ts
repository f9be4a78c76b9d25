/** One UNet call (student or teacher share the signature): sample, timestep, embeddings → ε. */
import type * as ort from 'onnxruntime-web';
import type { Manifest } from '../../src/shared/types';
import { checkOutputLength } from '../runtime/graph-contract';
import { floatTensor, intTensor, readFloat32, valueType } from './tensors';

/**
 * `emb` is float32 data, or an ORT tensor already in the UNet's dtype (the text encoder's output
 * kept on the GPU); a tensor of another dtype is downloaded and converted.
 */
export async function runUnet(
  unet: ort.InferenceSession,
  manifest: Manifest,
  sample: Float32Array,
  timesteps: number[],
  emb: Float32Array | ort.Tensor,
  batch: number,
): Promise<Float32Array> {
  const { channels, height, width } = manifest.latent;
  const names = manifest.tensors.unet;
  const seq = manifest.tokenizer.max_length;
  const type = (name: string) => valueType(unet, name, 'input', names.inputs[name]?.dtype ?? 'float32');
  const embType = type('encoder_hidden_states');
  let embTensor: ort.Tensor;
  if (emb instanceof Float32Array) {
    embTensor = floatTensor(embType, emb, [batch, seq, emb.length / (batch * seq)]);
  } else if (emb.type === embType) {
    embTensor = emb;
  } else {
    const data = await readFloat32(emb);
    embTensor = floatTensor(embType, data, [...emb.dims]);
  }
  const feeds = {
    sample: floatTensor(type('sample'), sample, [batch, channels, height, width]),
    timestep: intTensor(type('timestep'), timesteps, [batch]),
    encoder_hidden_states: embTensor,
  };
  const outName = Object.keys(names.outputs)[0];
  const out = await unet.run(feeds);
  try {
    // Copy out so the ORT-owned tensor can be disposed right away (GPU or wasm heap).
    return checkOutputLength(
      await readFloat32(out[outName]),
      batch * channels * height * width,
      'unet',
      `[${batch}, ${channels}, ${height}, ${width}]`,
    );
  } finally {
    for (const t of Object.values(out)) t.dispose();
  }
}
