// The packed-graph reader (workers/runtime/packed-graph.ts): the shipped graphs rebuild, bit for
// bit, the fp32 weights the exporter checked against ORT's own fold (their sha256 is in each
// header); small hand-made files cover each encoding and group map against values computed here;
// a damaged file is a clear error naming the file, never a session on wrong weights.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LayoutError } from '../../src/shared/errors';
import type { Manifest } from '../../src/shared/types';
import { graphInput } from '../../workers/runtime/graph-input';
import { PackedGraphError, unpackGraph } from '../../workers/runtime/packed-graph';

const modelDir = path.resolve(__dirname, '../../public/models/onestep-emoji');
const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, 'manifest.json'), 'utf8')) as Manifest;

function headerOf(bytes: Uint8Array): Record<string, unknown> {
  const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(12, true);
  return JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + len))) as Record<string, unknown>;
}

/** A container as onnx_pack.py lays it out: header, then each section at a multiple of 16. */
function container(tensors: Record<string, unknown>[], sections: Uint8Array[], bytes: number, graph = new Uint8Array([8, 7])) {
  const place = (headerLen: number) => {
    let pos = Math.ceil((16 + headerLen) / 16) * 16;
    const at: number[] = [];
    for (const s of [graph, ...sections]) {
      at.push(pos);
      pos = Math.ceil((pos + s.length) / 16) * 16;
    }
    // each tensor names its sections by index into `sections` ({levels: 0} -> [offset, length])
    const resolved = tensors.map((t) =>
      Object.fromEntries(
        Object.entries(t).map(([k, v]) => [
          k,
          typeof v === 'object' && v && 'section' in v
            ? [at[(v as { section: number }).section + 1], sections[(v as { section: number }).section].length]
            : v,
        ]),
      ),
    );
    const header = new TextEncoder().encode(
      JSON.stringify({ graph: [at[0], graph.length], external_data: 'weights.bin', bytes, tensors: resolved }),
    );
    return { header, at, end: pos };
  };
  let p = place(0);
  for (let i = 0; i < 3; i++) p = place(p.header.length);
  const out = new Uint8Array(p.end);
  out.set(new TextEncoder().encode('ONNXPACK'));
  new DataView(out.buffer).setUint32(8, 1, true);
  new DataView(out.buffer).setUint32(12, p.header.length, true);
  out.set(p.header, 16);
  [graph, ...sections].forEach((s, i) => out.set(s, p.at[i]));
  return out;
}

const f16 = (values: number[]) => {
  // exact float16 bit patterns of small dyadic values (what the exporter stores)
  const bits = values.map((v) => {
    if (v === 0) return 0;
    const sign = v < 0 ? 0x8000 : 0;
    const a = Math.abs(v);
    const e = Math.floor(Math.log2(a));
    return sign | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
  });
  return new Uint8Array(new Uint16Array(bits).buffer);
};

describe('the shipped packed graphs', () => {
  for (const key of ['unet', 'unet_teacher', 'text_encoder']) {
    it(`${key}: rebuilds the weights the exporter checked against ORT, bit for bit`, () => {
      const entry = manifest.files[key];
      expect(entry.format).toBe('onnx-pack');
      const bytes = new Uint8Array(fs.readFileSync(path.join(modelDir, entry.path)));
      const { graph, externalData } = graphInput(entry, bytes);
      expect(externalData).toHaveLength(1);
      expect(externalData[0].path).toBe('weights.bin');
      expect(createHash('sha256').update(externalData[0].data).digest('hex')).toBe(headerOf(bytes).weights_sha256);
      expect(graph[0]).toBe(0x08); // an ONNX ModelProto starts with its ir_version field
    });
  }
});

/** A q8/q4 record; `parts` = [levels section, zero level or { section } of zeros, scales section]. */
function quantized(
  name: string,
  offset: number,
  count: number,
  encoding: string,
  parts: [number, number | { section: number }, number],
  scaleType: string,
  groups: unknown[],
) {
  const [levels, zero, scales] = parts;
  const z = typeof zero === 'number' ? { zero } : { zeros: zero };
  return { name, offset, count, encoding, levels: { section: levels }, ...z, scales: { section: scales }, scale_type: scaleType, groups };
}

describe('unpackGraph', () => {
  it('rebuilds q8 in contiguous groups, q4 in column blocks with zeros, and float16 values', () => {
    // q8, 2 groups of 3, zero 128, f32 scales
    const q8 = quantized('a', 0, 6, 'q8', [0, 128, 1], 'f32', ['contiguous', 3]);
    const q8levels = new Uint8Array([128, 129, 0, 255, 127, 130]);
    const q8scales = new Uint8Array(new Float32Array([0.5, 0.1]).buffer);
    // q4, a [4, 2] weight in blocks of 2 rows per column: groups (block, column) = 4, zeros and f16 scales
    const lv = [1, 2, 3, 4, 5, 6, 7, 15];
    const q4 = quantized('b', 24, 8, 'q4', [2, { section: 3 }, 4], 'f16', ['strided', 2, 2]);
    const q4levels = new Uint8Array([lv[0] | (lv[1] << 4), lv[2] | (lv[3] << 4), lv[4] | (lv[5] << 4), lv[6] | (lv[7] << 4)]);
    const zeros = [8, 0, 1, 2];
    const scales = [0.25, 2, -1, 0.125];
    // q4 with an odd group size (the element-at-a-time path): 3 values, one group
    const odd = quantized('c', 56, 3, 'q4', [5, 0, 6], 'f32', ['contiguous', 3]);
    const half = { name: 'd', offset: 68, count: 2, encoding: 'f16', values: { section: 7 } };
    const file = container(
      [q8, q4, odd, half],
      [
        q8levels,
        q8scales,
        q4levels,
        new Uint8Array(zeros),
        f16(scales),
        new Uint8Array([0x21, 0x03]),
        new Uint8Array(new Float32Array([3]).buffer),
        f16([1.5, -0.75]),
      ],
      76,
    );
    const { graph, externalData } = unpackGraph(file);
    expect([...graph]).toEqual([8, 7]);
    const w = new Float32Array(externalData[0].data.buffer);
    expect([...w.subarray(0, 6)]).toEqual(
      [128, 129, 0, 255, 127, 130].map((l, i) => Math.fround((l - 128) * Math.fround(i < 3 ? 0.5 : 0.1))),
    );
    // element (row r, column c) of the [4, 2] weight is in group (r >> 1) * 2 + c
    const expected = lv.map((l, i) => {
      const g = ((i >> 1) >> 1) * 2 + (i % 2);
      return (l - zeros[g]) * scales[g];
    });
    expect([...w.subarray(6, 14)]).toEqual(expected);
    expect([...w.subarray(14, 17)]).toEqual([3, 6, 9]);
    expect([...w.subarray(17, 19)]).toEqual([1.5, -0.75]);
  });

  it('copies a file that sits at an unaligned place in its buffer, and reads it the same', () => {
    const t = { name: 'a', offset: 0, count: 2, encoding: 'f16', values: { section: 0 } };
    const file = container([t], [f16([2, 4])], 8);
    const shifted = new Uint8Array(file.length + 3);
    shifted.set(file, 3);
    const w = new Float32Array(unpackGraph(shifted.subarray(3)).externalData[0].data.buffer);
    expect([...w]).toEqual([2, 4]);
  });

  const good = () => container([{ name: 'a', offset: 0, count: 2, encoding: 'f16', values: { section: 0 } }], [f16([2, 4])], 8);
  const cases: [string, (f: Uint8Array) => Uint8Array, RegExp][] = [
    ['not a packed graph', (f) => (f.set([0], 0), f), /no ONNXPACK header/],
    ['another version', (f) => (new DataView(f.buffer).setUint32(8, 2, true), f), /version 2/],
    ['a header past the end', (f) => (new DataView(f.buffer).setUint32(12, 1e6, true), f), /runs past the end/],
    ['a truncated file', (f) => f.slice(0, f.length - 16), /outside the file/],
    ['a header that is not JSON', (f) => (f.set(new TextEncoder().encode('}'), 16), f), /not JSON/],
  ];
  for (const [what, damage, message] of cases) {
    it(`refuses ${what} with a clear error`, () => {
      expect(() => unpackGraph(damage(good()))).toThrow(PackedGraphError);
      expect(() => unpackGraph(damage(good()))).toThrow(message);
    });
  }

  it('refuses sizes that do not add up: levels, scales and groups against the count', () => {
    const q8 = (over: Record<string, unknown>) =>
      container(
        [
          {
            name: 'w',
            offset: 0,
            count: 4,
            encoding: 'q8',
            levels: { section: 0 },
            zero: 0,
            scales: { section: 1 },
            scale_type: 'f32',
            groups: ['contiguous', 2],
            ...over,
          },
        ],
        [new Uint8Array(4), new Uint8Array(8)],
        32,
      );
    expect(() => unpackGraph(q8({}))).not.toThrow();
    expect(() => unpackGraph(q8({ count: 5 }))).toThrow(/groups that do not fit/);
    expect(() => unpackGraph(q8({ groups: ['contiguous', 1] }))).toThrow(/scales that do not match/);
    expect(() => unpackGraph(q8({ offset: 20 }))).toThrow(/outside the rebuilt weights/);
    expect(() => unpackGraph(q8({ encoding: 'q3' }))).toThrow(/unknown encoding/);
    expect(() => unpackGraph(q8({ zero: undefined }))).toThrow(/no zero level/);
  });

  it('is a LayoutError naming the file when a manifest says packed and the file is not', () => {
    const entry = { path: 'unet/model.onnx.pack', bytes: 4, sha256: '0'.repeat(64), format: 'onnx-pack' as const };
    expect(() => graphInput(entry, new Uint8Array(32))).toThrow(LayoutError);
    expect(() => graphInput(entry, new Uint8Array(32))).toThrow(/unet\/model\.onnx\.pack is not a packed graph this app can read/);
    // a plain ONNX file is handed over as it is
    const plain = new Uint8Array([8, 1]);
    expect(graphInput({ ...entry, format: undefined }, plain)).toEqual({ graph: plain, externalData: [] });
  });
});
