/**
 * Does a created session take and give what the manifest says? Checked once per graph when its
 * session is made, so a repository whose manifest names tensors the graph does not have (or whose
 * graph wants inputs the app never feeds, or in a type it cannot make) is refused at load with a
 * ManifestError naming them, instead of failing inside ORT on the first keystroke. And every run's
 * output is checked for the size the manifest's shapes promise before it is read as an image.
 */
import type * as ort from 'onnxruntime-web';
import { LayoutError, ManifestError } from '../../src/shared/errors';

/** The part of a session this check reads (ORT's InferenceSession has it). */
export type GraphSignature = Pick<ort.InferenceSession, 'inputNames' | 'outputNames'> & {
  inputMetadata?: ort.InferenceSession['inputMetadata'];
};

/** Element types the app can build or read (workers/pipeline/tensors.ts). */
const SUPPORTED_TYPES = new Set(['float32', 'float16', 'int64', 'int32']);

export function checkGraphContract(session: GraphSignature, tensors: { inputs: object; outputs: object }, graph: string): void {
  const named = (list: readonly string[]) => list.map((n) => `"${n.slice(0, 40)}"`).join(', ');
  const wantIn = Object.keys(tensors.inputs);
  const wantOut = Object.keys(tensors.outputs);
  const problems: string[] = [];
  const absent = wantIn.filter((n) => !session.inputNames.includes(n));
  if (absent.length) problems.push(`it has no input ${named(absent)} (its inputs: ${named(session.inputNames)})`);
  const unfed = session.inputNames.filter((n) => !wantIn.includes(n));
  if (unfed.length) problems.push(`it needs inputs the manifest does not describe: ${named(unfed)}`);
  const noOut = wantOut.filter((n) => !session.outputNames.includes(n));
  if (noOut.length) problems.push(`it has no output ${named(noOut)} (its outputs: ${named(session.outputNames)})`);
  let meta: ort.InferenceSession['inputMetadata'] | undefined;
  try {
    meta = session.inputMetadata;
  } catch {
    meta = undefined; // older ORT builds: the types are checked when the tensors are made
  }
  for (const m of meta ?? []) {
    if (m.isTensor && !SUPPORTED_TYPES.has(m.type)) problems.push(`its input "${m.name}" is ${m.type}, which this app cannot feed`);
  }
  if (problems.length) throw new ManifestError(`the ${graph} graph does not match the manifest: ${problems.join('; ')}`);
}

/** A run's output must have exactly the values the manifest's shapes give, or nothing is drawn from it. */
export function checkOutputLength(values: Float32Array, expected: number, graph: string, shape: string): Float32Array {
  if (values.length !== expected) {
    throw new LayoutError(`the ${graph} graph returned ${values.length} values; the manifest's shape ${shape} needs ${expected}`);
  }
  return values;
}
