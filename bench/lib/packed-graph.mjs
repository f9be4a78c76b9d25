// The page's reader of packed graphs (workers/runtime/packed-graph.ts) for the benchmarks under
// Node: transpiled once by TypeScript (the file has no imports), so Node measures the same code.
//   const { graph, externalData } = await readGraphFile(path)   // plain ONNX: externalData []
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const source = fileURLToPath(new URL('../../workers/runtime/packed-graph.ts', import.meta.url));
let reader = null;

/** The reader module: unpackGraph, isPackedGraph. */
export async function packedGraphReader() {
  if (reader) return reader;
  const js = ts.transpileModule(fs.readFileSync(source, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'onestep-packed-')), 'packed-graph.mjs');
  fs.writeFileSync(out, js);
  return (reader = await import(pathToFileURL(out).href));
}

/** A graph file as ORT takes it (what workers/runtime/graph-input.ts does for the page). */
export async function readGraphFile(file) {
  const bytes = new Uint8Array(fs.readFileSync(file));
  const { isPackedGraph, unpackGraph } = await packedGraphReader();
  return isPackedGraph(bytes) ? unpackGraph(bytes) : { graph: bytes, externalData: [] };
}
