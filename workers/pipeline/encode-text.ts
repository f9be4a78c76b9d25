/** input_ids → token embeddings [B, L, D] with the frozen text encoder. */
import * as ort from 'onnxruntime-web';
import type { Manifest } from '../../src/shared/types';

export async function encodeText(encoder: ort.InferenceSession, manifest: Manifest, ids: BigInt64Array, batch: number): Promise<Float32Array> {
  const graph = manifest.tensors.text_encoder;
  const inName = Object.keys(graph.inputs)[0];
  const outName = Object.keys(graph.outputs)[0];
  const out = await encoder.run({ [inName]: new ort.Tensor('int64', ids, [batch, ids.length / batch]) });
  try {
    return (await out[outName].getData()) as Float32Array;
  } finally {
    for (const t of Object.values(out)) t.dispose();
  }
}
