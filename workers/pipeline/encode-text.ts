/**
 * input_ids → token embeddings [B, L, D] with the frozen text encoder.
 * encodeText copies them to float32 (the batched and cached path); encodeTextTensor returns ORT's
 * tensor as is, which on WebGPU with preferredOutputLocation 'gpu-buffer' stays in GPU memory and
 * goes straight into the UNet (the caller disposes it).
 */
import type * as ort from 'onnxruntime-web';
import type { Manifest } from '../../src/shared/types';
import { intTensor, readFloat32, valueType } from './tensors';

export async function encodeTextTensor(
  encoder: ort.InferenceSession,
  manifest: Manifest,
  ids: BigInt64Array,
  batch: number,
): Promise<ort.Tensor> {
  const graph = manifest.tensors.text_encoder;
  const inName = Object.keys(graph.inputs)[0];
  const outName = Object.keys(graph.outputs)[0];
  const type = valueType(encoder, inName, 'input', graph.inputs[inName].dtype);
  const out = await encoder.run({ [inName]: intTensor(type, ids, [batch, ids.length / batch]) });
  for (const [name, t] of Object.entries(out)) if (name !== outName) t.dispose(); // e.g. pooler_output
  return out[outName];
}

export async function encodeText(
  encoder: ort.InferenceSession,
  manifest: Manifest,
  ids: BigInt64Array,
  batch: number,
): Promise<Float32Array> {
  const t = await encodeTextTensor(encoder, manifest, ids, batch);
  try {
    return await readFloat32(t);
  } finally {
    t.dispose();
  }
}
