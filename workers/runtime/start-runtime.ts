/**
 * Starts onnxruntime-web's WebAssembly (fetch, compile, instantiate, spawn its threads) before the
 * first model session needs it, so that cost overlaps reading the model files instead of adding to
 * them. ORT has no public "init" call: its runtime starts with the first InferenceSession, so this
 * creates one on the smallest possible graph (y = Identity(x)) and releases it.
 */
import type { Backend } from '../../src/shared/types';
import { loadOrtBuild } from './ort';

/** Protobuf field `n` holding bytes (wire type 2) or a varint (wire type 0). */
function field(n: number, value: Uint8Array | string | number): number[] {
  const bytes = typeof value === 'number' ? null : typeof value === 'string' ? new TextEncoder().encode(value) : value;
  // every number and length here is below 128: a one-byte varint
  if ((bytes ? bytes.length : (value as number)) > 127) throw new Error('identity model: a field outgrew a one-byte varint');
  return bytes ? [(n << 3) | 2, bytes.length, ...bytes] : [(n << 3) | 0, value as number];
}
const msg = (...fields: number[][]) => new Uint8Array(fields.flat());

/** ONNX ModelProto: opset 17, one Identity node on a float tensor of shape [1]. */
function identityModel(): Uint8Array {
  const floatOfShape1 = msg(field(1, msg(field(1, 1 /* FLOAT */), field(2, msg(field(1, msg(field(1, 1))))))));
  const valueInfo = (name: string) => msg(field(1, name), field(2, floatOfShape1));
  const node = msg(field(1, 'x'), field(2, 'y'), field(4, 'Identity'));
  const graph = msg(field(1, node), field(2, 'start'), field(11, valueInfo('x')), field(12, valueInfo('y')));
  return msg(field(1, 8 /* IR version */), field(7, graph), field(8, msg(field(1, ''), field(2, 17))));
}

const started: Partial<Record<Backend, Promise<void>>> = {};

/** Once per build: resolves when the runtime can create sessions (a failure is tried again next time). */
export function startRuntime(backend: Backend, threads: number): Promise<void> {
  started[backend] ??= (async () => {
    const ort = await loadOrtBuild(backend, threads);
    const session = await ort.InferenceSession.create(identityModel(), { executionProviders: ['wasm'] });
    await session.release();
  })().catch((err: unknown) => {
    delete started[backend];
    throw err;
  });
  return started[backend];
}
