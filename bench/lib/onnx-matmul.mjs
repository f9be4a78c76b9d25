// A one-node ONNX model, Y = MatMul(A, B) with A, B float32 [n, n] as inputs, written directly as
// protobuf bytes (no Python needed to rerun the benchmark). Field numbers from onnx/onnx.proto.

function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}
const key = (field, wire) => varint((field << 3) | wire);
const int = (field, n) => [...key(field, 0), ...varint(n)];
const bytes = (field, payload) => [...key(field, 2), ...varint(payload.length), ...payload];
const str = (field, s) => bytes(field, [...new TextEncoder().encode(s)]);

function valueInfo(name, dims) {
  const shape = dims.flatMap((d) => bytes(1, int(1, d))); // TensorShapeProto.dim { dim_value }
  const tensorType = [...int(1, 1), ...bytes(2, shape)]; // elem_type FLOAT = 1, shape
  return [...str(1, name), ...bytes(2, bytes(1, tensorType))]; // name, type { tensor_type }
}

export function matmulModel(n) {
  const node = [...str(1, 'A'), ...str(1, 'B'), ...str(2, 'Y'), ...str(3, 'matmul'), ...str(4, 'MatMul')];
  const graph = [
    ...bytes(1, node),
    ...str(2, 'peak'),
    ...bytes(11, valueInfo('A', [n, n])),
    ...bytes(11, valueInfo('B', [n, n])),
    ...bytes(12, valueInfo('Y', [n, n])),
  ];
  const opset = [...str(1, ''), ...int(2, 17)];
  return new Uint8Array([...int(1, 8), ...str(2, 'onestep-bench'), ...bytes(7, graph), ...bytes(8, opset)]);
}
