/** Latents → RGB in the manifest's output range, through the VAE decoder (latent / scaling_factor). */
import type * as ort from 'onnxruntime-web';
import type { Manifest } from '../../src/shared/types';
import { checkOutputLength } from '../runtime/graph-contract';
import { floatTensor, readFloat32, valueType } from './tensors';

export async function decodeLatents(
  decoder: ort.InferenceSession,
  manifest: Manifest,
  x0: Float32Array,
  batch: number,
): Promise<Float32Array> {
  const { channels, height, width } = manifest.latent;
  const inv = 1 / manifest.vae.scaling_factor;
  const scaled = x0.map((v) => v * inv);
  const graph = manifest.tensors.vae_decoder;
  const inName = Object.keys(graph.inputs)[0];
  const outName = Object.keys(graph.outputs)[0];
  const type = valueType(decoder, inName, 'input', graph.inputs[inName].dtype);
  const out = await decoder.run({ [inName]: floatTensor(type, scaled, [batch, channels, height, width]) });
  try {
    const { width: w, height: h } = manifest.output;
    return checkOutputLength(await readFloat32(out[outName]), batch * 3 * h * w, 'vae_decoder', `[${batch}, 3, ${h}, ${w}]`);
  } finally {
    for (const t of Object.values(out)) t.dispose();
  }
}
