/** One UNet call (student or teacher share the signature): sample, timestep, embeddings → ε. */
import * as ort from 'onnxruntime-web';
import type { Manifest } from '../../src/shared/types';

export async function runUnet(
  unet: ort.InferenceSession,
  manifest: Manifest,
  sample: Float32Array,
  timesteps: number[],
  emb: Float32Array,
  batch: number,
): Promise<Float32Array> {
  const { channels, height, width } = manifest.latent;
  const names = manifest.tensors.unet;
  const seq = manifest.tokenizer.max_length;
  const dim = emb.length / (batch * seq);
  const feeds = {
    sample: new ort.Tensor('float32', sample, [batch, channels, height, width]),
    timestep: new ort.Tensor('int64', BigInt64Array.from(timesteps, (t) => BigInt(t)), [batch]),
    encoder_hidden_states: new ort.Tensor('float32', emb, [batch, seq, dim]),
  };
  const outName = Object.keys(names.outputs)[0];
  const out = await unet.run(feeds);
  try {
    // Copy out (getData) so the ORT-owned tensor can be disposed right away (GPU or wasm heap).
    return (await out[outName].getData()) as Float32Array;
  } finally {
    for (const t of Object.values(out)) t.dispose();
  }
}
