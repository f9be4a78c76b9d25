// The shipped prompt embeddings (training/factory/prompt_embeddings.py) are what the shipped text
// encoder gives on onnxruntime-web's WASM build (the browser's CPU kernels, here under Node) for
// the app's own token ids: a first visit's first image from them is the image the encoder would give.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/shared/types';
import { validateManifest } from '../../workers/model-store/manifest';
import { graphInput } from '../../workers/runtime/graph-input';
import { promptTokens } from '../../workers/pipeline/prompt-caches';
import { createTokenizer } from '../../workers/pipeline/tokenize';

const dir = new URL('../../public/models/onestep-emoji/', import.meta.url);
const manifest: Manifest = validateManifest(JSON.parse(readFileSync(new URL('manifest.json', dir), 'utf8')));
const read = (key: string) => readFileSync(new URL(manifest.files[key].path, dir));

ort.env.wasm.numThreads = 1;

describe('shipped prompt embeddings', () => {
  it('the default model ships the empty prompt (the box a first visit opens with)', () => {
    expect(manifest.prompt_embeddings?.prompts).toContain('');
  });

  it('equal the shipped encoder on WASM for the app tokenizer’s ids, to rounding', async () => {
    const spec = manifest.prompt_embeddings!;
    const { max_length: L, pad_id: pad } = manifest.tokenizer;
    const tokenizer = createTokenizer(JSON.parse(read('tokenizer').toString('utf8')) as object, L, pad);
    const bytes = read(spec.file);
    const size = L * 384;
    expect(bytes.length).toBe(spec.prompts.length * size * 4);
    const shipped = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    // the graph as the worker hands it over (a packed graph: its weights rebuilt by the page's reader)
    const { graph, externalData } = graphInput(manifest.files.text_encoder, new Uint8Array(read('text_encoder')));
    const encoder = await ort.InferenceSession.create(graph, {
      externalData,
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    });
    try {
      for (const [i, prompt] of spec.prompts.entries()) {
        const ids = new ort.Tensor('int64', promptTokens(tokenizer, prompt).ids, [1, L]);
        const mine = (await encoder.run({ input_ids: ids })).last_hidden_state.data as Float32Array;
        let worst = 0;
        for (let j = 0; j < size; j++) worst = Math.max(worst, Math.abs(mine[j] - shipped[i * size + j]));
        console.log(`shipped embedding of "${prompt}": max |Δ| to WASM ${worst.toExponential(2)}`);
        expect(worst, `prompt "${prompt}": max |Δ| ${worst}`).toBeLessThan(1e-4);
      }
    } finally {
      await encoder.release();
    }
  });
});
