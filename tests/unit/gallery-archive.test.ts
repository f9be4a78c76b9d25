// "Export all" (src/gallery/archive.ts): the zip holds every PNG byte for byte, stored as is, plus
// an index.json whose rows name each file and what made it; equal prompts and seeds never collide.
import { strFromU8, unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { archiveFileName, galleryArchive, type ArchiveItem } from '../../src/gallery/archive';

const png = (n: number) => Uint8Array.from({ length: 300 + n }, (_, i) => (i * 7 + n) & 255);
const item = (n: number, prompt: string, explore?: ArchiveItem['explore']): ArchiveItem => ({
  png: png(n),
  prompt,
  seed: 40 + n,
  explore,
  modelId: 'onestep-emoji',
  modelVersion: '1.2.3',
  backend: 'wasm',
  time: Date.UTC(2026, 11, 4, 12, 0, n),
});

describe('gallery archive', () => {
  it('holds every PNG unchanged and an index that matches it row by row', () => {
    const items = [item(0, 'red apple'), item(1, 'rocket', { toSeed: 9, seedMix: 0.25, toPrompt: 'cat', promptMix: 0.5 })];
    const files = unzipSync(galleryArchive(items));
    const index = JSON.parse(strFromU8(files['index.json']));
    expect(index.app).toBe('onestep');
    expect(index.images).toHaveLength(2);
    index.images.forEach((row: { file: string; prompt: string; seed: number }, n: number) => {
      expect(files[row.file]).toEqual(items[n].png);
      expect(row.prompt).toBe(items[n].prompt);
      expect(row.seed).toBe(items[n].seed);
    });
    expect(index.images[1].explore).toEqual({ toSeed: 9, seedMix: 0.25, toPrompt: 'cat', promptMix: 0.5 });
    expect(index.images[0].explore).toBeNull();
    expect(index.images[0].model).toEqual({ id: 'onestep-emoji', version: '1.2.3' });
    expect(index.images[0].kept).toBe('2026-12-04T12:00:00.000Z');
    expect(Object.keys(files).sort()).toEqual(['images/001-red-apple-40.png', 'images/002-rocket-41.png', 'index.json']);
  });

  it('names files safely and uniquely, whatever the prompt', () => {
    const names = [archiveFileName(0, '../../etc/passwd', 1), archiveFileName(1, '../../etc/passwd', 1), archiveFileName(2, '🍎🍎', 7)];
    expect(new Set(names).size).toBe(3);
    for (const name of names) expect(name).toMatch(/^\d{3}-[a-z0-9-]+-\d+\.png$/);
  });

  it('an empty gallery gives a valid zip with an empty index', () => {
    const files = unzipSync(galleryArchive([]));
    expect(JSON.parse(strFromU8(files['index.json'])).images).toEqual([]);
  });
});
