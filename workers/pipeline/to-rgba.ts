/**
 * Decoder output (planar [3, H, W] floats in `range`) → interleaved RGBA8 for ImageData.
 * Values are clamped; rounding is to nearest (Uint8ClampedArray), like the factory's
 * clamp((v + 1) · 127.5) for the [-1, 1] range.
 */
export function planarToRgba(
  data: Float32Array,
  offset: number,
  width: number,
  height: number,
  range: readonly [number, number] = [-1, 1],
): Uint8ClampedArray<ArrayBuffer> {
  const [lo, hi] = range;
  const scale = 255 / (hi - lo);
  const plane = width * height;
  if (offset + 3 * plane > data.length) throw new RangeError('decoder output is smaller than 3 × width × height');
  const out = new Uint8ClampedArray(plane * 4);
  for (let p = 0; p < plane; p++) {
    out[p * 4] = (data[offset + p] - lo) * scale;
    out[p * 4 + 1] = (data[offset + plane + p] - lo) * scale;
    out[p * 4 + 2] = (data[offset + 2 * plane + p] - lo) * scale;
    out[p * 4 + 3] = 255;
  }
  return out;
}
