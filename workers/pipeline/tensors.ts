/**
 * Feeds and outputs in whatever dtype a graph declares. Published SD exports are float16 end to end
 * and take int32 or int64 ids; the shipped model is float32 with int64. The pipeline computes in
 * float32 and converts at the graph boundary, reading the dtype from the session itself (ORT's
 * inputMetadata), so a repository without our manifest still gets the right types.
 */
import type * as ort from 'onnxruntime-web';
import { activeOrt } from '../runtime/ort';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE half bits, round to nearest even; overflow → ±Inf, NaN kept. */
export function toHalfBits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below the smallest subnormal
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && half & 1)) half += 1;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half += 1; // may carry into the exponent: correct
  return sign | half;
}

/** IEEE half bits → float32 value. */
export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function float32ToHalf(data: Float32Array): Uint16Array<ArrayBuffer> {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = toHalfBits(data[i]);
  return out;
}

export function halfToFloat32(bits: Uint16Array): Float32Array<ArrayBuffer> {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = fromHalfBits(bits[i]);
  return out;
}

/** The element type of a graph input or output, from the session; `fallback` when ORT cannot say. */
export function valueType(session: ort.InferenceSession, name: string, side: 'input' | 'output', fallback: string): string {
  try {
    const meta = side === 'input' ? session.inputMetadata : session.outputMetadata;
    const m = meta?.find((v) => v.name === name);
    if (m?.isTensor) return m.type;
  } catch {
    /* older sessions without metadata */
  }
  return fallback;
}

/** A float tensor in `type` (float32 or float16) from float32 data. */
export function floatTensor(type: string, data: Float32Array, dims: number[]): ort.Tensor {
  if (type === 'float16') return new (activeOrt().Tensor)('float16', float32ToHalf(data), dims);
  if (type !== 'float32') throw new TypeError(`a float input of type ${type} is not supported`);
  return new (activeOrt().Tensor)('float32', data, dims);
}

/** An integer tensor (ids, timesteps) in int64 or int32, or float for exports that take a float timestep. */
export function intTensor(type: string, values: ArrayLike<number | bigint>, dims: number[]): ort.Tensor {
  const nums = Array.from(values, Number);
  switch (type) {
    case 'int64':
      return new (activeOrt().Tensor)(
        'int64',
        BigInt64Array.from(nums, (v) => BigInt(v)),
        dims,
      );
    case 'int32':
      return new (activeOrt().Tensor)('int32', Int32Array.from(nums), dims);
    case 'float32':
    case 'float16':
      return floatTensor(type, Float32Array.from(nums), dims);
    default:
      throw new TypeError(`an integer input of type ${type} is not supported`);
  }
}

/** A float output as float32, downloading it first when it lives on the GPU. */
export async function readFloat32(t: ort.Tensor): Promise<Float32Array> {
  const data = await t.getData();
  if (t.type === 'float16') {
    // ORT returns raw half bits as Uint16Array (or a Float16Array where the browser has one).
    return data instanceof Uint16Array ? halfToFloat32(data) : Float32Array.from(data as ArrayLike<number>);
  }
  return data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
}
