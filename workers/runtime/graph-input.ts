// The one place a manifest's graph file becomes a session's input (the load's graphs and the teacher's).
import { LayoutError } from '../../src/shared/errors';
import type { ManifestFile } from '../../src/shared/types';
import { PackedGraphError, unpackGraph, type UnpackedGraph } from './packed-graph';

/** What ORT is handed for a graph's file: its bytes as they are, or, packed, the graph and its weights. */
export function graphInput(entry: ManifestFile, bytes: Uint8Array): UnpackedGraph {
  if (entry.format !== 'onnx-pack') return { graph: bytes, externalData: [] };
  try {
    return unpackGraph(bytes);
  } catch (err) {
    if (!(err instanceof PackedGraphError)) throw err;
    throw new LayoutError(`${entry.path} is not a packed graph this app can read (${err.message})`);
  }
}
