/**
 * Reading a packed graph (`model.onnx.pack`, manifest file format "onnx-pack"): an ONNX graph
 * whose large weights arrive as the int8/int4 levels and scales they were rounded to, rebuilt here
 * into the fp32 external data ORT is handed. The graph was folded at export time, so ORT creates
 * the session without folding a dequantise per weight and without holding two copies of every
 * weight in WebAssembly memory (session 24 measured 0.43–0.69× the session time and hundreds of
 * MiB less memory for the same download). The writer, and the format, are
 * training/factory/onnx_pack.py; this reader computes bit for bit what it checked against ORT.
 * (No imports: the benchmarks under Node transpile this file alone, bench/lib/packed-graph.mjs.)
 */

const MAGIC = 'ONNXPACK';
const VERSION = 1;

interface Range {
  offset: number;
  length: number;
}
type Groups = ['contiguous', number] | ['strided', number, number];
interface Quantized {
  name: string;
  offset: number;
  count: number;
  encoding: 'q8' | 'q4';
  levels: [number, number];
  zero?: number;
  zeros?: [number, number];
  scales: [number, number];
  scale_type: 'f16' | 'f32';
  groups: Groups;
}
interface Half {
  name: string;
  offset: number;
  count: number;
  encoding: 'f16';
  values: [number, number];
}
interface Header {
  graph: [number, number];
  external_data: string;
  bytes: number;
  tensors: (Quantized | Half)[];
}

export interface UnpackedGraph {
  /** The ONNX graph (a view into the file's bytes). */
  graph: Uint8Array;
  /** What ORT's `externalData` option takes: the rebuilt fp32 weights under the graph's location. */
  externalData: { path: string; data: Uint8Array }[];
}

/** A file that is not a packed graph this reader can rebuild (the caller names the file). */
export class PackedGraphError extends Error {}

let halfTable: Float32Array | null = null;
/** float16 bit patterns → float32 (every one: 256 KB, built once, exact). */
function halves(): Float32Array {
  if (halfTable) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    t[h] = exp === 0 ? sign * frac * 2 ** -24 : exp === 31 ? (frac ? NaN : sign * Infinity) : sign * (1024 + frac) * 2 ** (exp - 25);
  }
  return (halfTable = t);
}

/** Whether these bytes start like a packed graph. */
export function isPackedGraph(bytes: Uint8Array): boolean {
  return bytes.length >= 16 && new TextDecoder().decode(bytes.subarray(0, 8)) === MAGIC;
}

/** The graph and its rebuilt weights; PackedGraphError for anything out of shape or range. */
export function unpackGraph(file: Uint8Array): UnpackedGraph {
  // Typed views need aligned offsets: a file at an odd place in its buffer is copied once.
  const bytes = file.byteOffset % 16 === 0 ? file : file.slice();
  if (!isPackedGraph(bytes)) throw new PackedGraphError('not a packed graph (no ONNXPACK header)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== VERSION) throw new PackedGraphError(`packed graph version ${version}; this app reads version ${VERSION}`);
  const headerLength = view.getUint32(12, true);
  if (16 + headerLength > bytes.length) throw new PackedGraphError('its header runs past the end of the file');
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLength))) as Header;
  } catch {
    throw new PackedGraphError('its header is not JSON');
  }
  if (!header || !Array.isArray(header.tensors) || !Number.isInteger(header.bytes) || header.bytes < 0 || header.bytes % 4) {
    throw new PackedGraphError('its header does not describe a packed graph');
  }
  const section = ([offset, length]: [number, number], what: string, align = 1): Range => {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > bytes.length) {
      throw new PackedGraphError(`${what} lies outside the file`);
    }
    if (offset % align) throw new PackedGraphError(`${what} is not aligned`);
    return { offset, length };
  };
  const g = section(header.graph, 'the graph');
  const out = new Float32Array(header.bytes / 4);
  const half = halves();
  for (const t of header.tensors) {
    const what = `weight ${String(t.name)}`;
    if (!Number.isInteger(t.offset) || !Number.isInteger(t.count) || t.offset % 4 || t.count < 0 || t.offset / 4 + t.count > out.length) {
      throw new PackedGraphError(`${what} lies outside the rebuilt weights`);
    }
    const dst = out.subarray(t.offset / 4, t.offset / 4 + t.count);
    if (t.encoding === 'f16') {
      const v = section(t.values, what, 2);
      if (v.length !== t.count * 2) throw new PackedGraphError(`${what} has ${v.length} bytes for ${t.count} float16 values`);
      const src = new Uint16Array(bytes.buffer, bytes.byteOffset + v.offset, t.count);
      for (let i = 0; i < t.count; i++) dst[i] = half[src[i]];
    } else if (t.encoding === 'q8' || t.encoding === 'q4') {
      rebuildQuantized(t, dst, bytes, section, half, what);
    } else {
      throw new PackedGraphError(`${what} has an unknown encoding "${String((t as { encoding: unknown }).encoding)}"`);
    }
  }
  return {
    graph: bytes.subarray(g.offset, g.offset + g.length),
    externalData: [{ path: String(header.external_data), data: new Uint8Array(out.buffer) }],
  };
}

/** (level − zero[g]) × scale[g] per element, g its group (see onnx_pack.py); exact in float32:
 * the integer difference times a float32 scale is exact in a double, rounded once on storing. */
function rebuildQuantized(
  t: Quantized,
  dst: Float32Array,
  bytes: Uint8Array,
  section: (r: [number, number], what: string, align?: number) => Range,
  half: Float32Array,
  what: string,
) {
  const n = t.count;
  const [kind, a, b] = t.groups ?? [];
  const groupCount =
    kind === 'contiguous' && a > 0 && n % a === 0 ? n / a : kind === 'strided' && a > 0 && b! > 0 && n % (a * b!) === 0 ? n / b! : -1;
  if (groupCount < 0) throw new PackedGraphError(`${what} has groups that do not fit its ${n} values`);
  const lv = section(t.levels, what);
  if (lv.length !== (t.encoding === 'q8' ? n : Math.ceil(n / 2)))
    throw new PackedGraphError(`${what} has ${lv.length} level bytes for ${n} values`);
  const sw = t.scale_type === 'f16' ? 2 : t.scale_type === 'f32' ? 4 : 0;
  const sc = section(t.scales, what, sw || 1);
  if (!sw || sc.length !== groupCount * sw) throw new PackedGraphError(`${what} has scales that do not match its ${groupCount} groups`);
  const scale = new Float32Array(groupCount);
  if (sw === 2) {
    const s16 = new Uint16Array(bytes.buffer, bytes.byteOffset + sc.offset, groupCount);
    for (let i = 0; i < groupCount; i++) scale[i] = half[s16[i]];
  } else scale.set(new Float32Array(bytes.buffer, bytes.byteOffset + sc.offset, groupCount));
  const zero = new Float32Array(groupCount);
  if (t.zeros) {
    const z = section(t.zeros, what);
    if (z.length !== groupCount) throw new PackedGraphError(`${what} has ${z.length} zeros for ${groupCount} groups`);
    zero.set(bytes.subarray(z.offset, z.offset + groupCount));
  } else if (Number.isInteger(t.zero)) zero.fill(t.zero!);
  else throw new PackedGraphError(`${what} has no zero level`);
  const src = bytes.subarray(lv.offset, lv.offset + lv.length);
  // Runs of `run` elements share a group: a contiguous group, or one row of a block of columns.
  // Loops specialised by bit width (this is on the way to the first image: ~45 M values).
  const run = kind === 'contiguous' ? a : 1;
  const groupOf = kind === 'contiguous' ? (i: number) => Math.floor(i / a) : (i: number) => Math.floor(i / (a * b!)) * a + (i % a);
  if (t.encoding === 'q8' && kind === 'contiguous') {
    for (let gi = 0, i = 0; gi < groupCount; gi++) {
      const s = scale[gi];
      const z = zero[gi];
      for (const end = i + run; i < end; i++) dst[i] = (src[i] - z) * s;
    }
  } else if (t.encoding === 'q8') {
    for (let i = 0; i < n; i += a) {
      const g0 = groupOf(i);
      for (let c = 0; c < a; c++) dst[i + c] = (src[i + c] - zero[g0 + c]) * scale[g0 + c];
    }
  } else if (kind === 'contiguous' && a % 2 === 0) {
    for (let gi = 0, i = 0; gi < groupCount; gi++) {
      const s = scale[gi];
      const z = zero[gi];
      for (const end = i + run; i < end; i += 2) {
        const byte = src[i >> 1];
        dst[i] = ((byte & 15) - z) * s;
        dst[i + 1] = ((byte >> 4) - z) * s;
      }
    }
  } else if (kind === 'strided' && a % 2 === 0) {
    for (let i = 0; i < n; i += a) {
      const g0 = groupOf(i);
      for (let c = 0; c < a; c += 2) {
        const byte = src[(i + c) >> 1];
        dst[i + c] = ((byte & 15) - zero[g0 + c]) * scale[g0 + c];
        dst[i + c + 1] = ((byte >> 4) - zero[g0 + c + 1]) * scale[g0 + c + 1];
      }
    }
  } else {
    // odd group sizes or row widths at 4 bits: one element at a time
    for (let i = 0; i < n; i++) {
      const g = groupOf(i);
      dst[i] = ((i & 1 ? src[i >> 1] >> 4 : src[i >> 1] & 15) - zero[g]) * scale[g];
    }
  }
}
