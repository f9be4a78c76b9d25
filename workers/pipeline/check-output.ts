/**
 * A network's output is checked before it is painted: fp16 GPU kernels are known to overflow into
 * NaN or Inf on some devices (peers' reports: ../shared/reference), and a NaN pixel becomes black
 * once clamped. Such an image is never shown as if it were the model's answer.
 */
import { BadOutputError } from '../../src/shared/errors';

/** Throws BadOutputError if any value is NaN or ±Inf; `stage` names the network in the message. */
export function checkFinite(values: Float32Array, stage: string): Float32Array {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      let bad = 0;
      for (const v of values) if (!Number.isFinite(v)) bad++;
      throw new BadOutputError(`${stage} gave ${bad} of ${values.length} values that are not numbers (NaN or infinite)`);
    }
  }
  return values;
}

/**
 * Throws BadOutputError if one of the `batch` images in planar RGB `rgb` is finite but a single
 * flat colour (every value the same: an all-black image is the common case), which no prompt asks
 * of these models and which is what a broken kernel paints.
 */
export function checkNotBlank(rgb: Float32Array, batch: number, stage: string): Float32Array {
  const per = rgb.length / batch;
  for (let b = 0; b < batch; b++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = b * per; i < (b + 1) * per; i++) {
      const v = rgb[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (hi - lo < 1e-6) throw new BadOutputError(`${stage} gave a blank image (every pixel ${lo.toFixed(3)})`);
  }
  return rgb;
}
