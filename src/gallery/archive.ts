/**
 * "Export all": one zip of the kept PNGs plus index.json, which says for each file what made it
 * (so an archive can be read, or imported elsewhere, without this app). fflate writes the zip; the
 * PNGs are stored as they are (already deflated), the index compressed.
 */
import { strToU8, zipSync, type Zippable } from 'fflate';
import type { ExploreRequest } from '../shared/types';
import { pngName } from '../shared/png-name';

export interface ArchiveItem {
  png: Uint8Array;
  prompt: string;
  seed: number;
  explore?: ExploreRequest;
  modelId: string;
  modelVersion: string;
  backend: string;
  time: number;
}

export interface ArchiveIndexRow {
  file: string;
  prompt: string;
  seed: number;
  explore: ExploreRequest | null;
  model: { id: string; version: string };
  backend: string;
  /** ISO 8601, UTC. */
  kept: string;
}

/** The download's file name (shared/png-name.ts), numbered so that equal prompts and seeds never collide. */
export function archiveFileName(n: number, prompt: string, seed: number): string {
  return `${String(n + 1).padStart(3, '0')}-${pngName(prompt, seed)}`;
}

export function galleryArchive(items: readonly ArchiveItem[]): Uint8Array {
  const files: Zippable = {};
  const index: ArchiveIndexRow[] = items.map((it, n) => {
    const file = archiveFileName(n, it.prompt, it.seed);
    files[`images/${file}`] = [it.png, { level: 0 }];
    return {
      file: `images/${file}`,
      prompt: it.prompt,
      seed: it.seed,
      explore: it.explore ?? null,
      model: { id: it.modelId, version: it.modelVersion },
      backend: it.backend,
      kept: new Date(it.time).toISOString(),
    };
  });
  files['index.json'] = strToU8(`${JSON.stringify({ app: 'onestep', images: index }, null, 2)}\n`);
  return zipSync(files, { level: 6 });
}
