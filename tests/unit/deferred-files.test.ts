// The page's side of the files a load left for after the first image (src/ui/deferred-files.ts):
// asked for once, their progress on the bar, a failure asked for again after the next image.
import { describe, expect, it } from 'vitest';
import type { FileInfo, LoadResult, ProgressCallback } from '../../src/shared/types';
import { deferredFiles } from '../../src/ui/deferred-files';

const loaded = (deferred: string[]) => ({ deferred }) as unknown as LoadResult;
const row = (file: string): FileInfo => ({ file, source: 'network', discarded: false, resumedFrom: 0 });

function setup(answers: (() => Promise<FileInfo[]>)[]) {
  const progress = { hidden: true, value: 0, dataset: {} as Record<string, string> };
  const rows: string[] = [];
  let calls = 0;
  const d = deferredFiles({
    fetch: (onProgress: ProgressCallback) => {
      onProgress({ phase: 'download', file: 'text_encoder', loaded: 5, total: 10, bytesPerSecond: 1, resumedFrom: 0 });
      expect(progress.hidden).toBe(false); // shown while the download runs
      return answers[calls++]();
    },
    progress: progress as unknown as HTMLProgressElement,
    addRow: (f) => rows.push(f.file),
  });
  return { d, progress, rows, calls: () => calls };
}

describe('deferred files', () => {
  it('are asked for once after the first image; their rows come and the bar hides', async () => {
    const t = setup([async () => [row('tokenizer'), row('text_encoder')]]);
    await t.d.painted(); // nothing loaded yet: nothing asked
    expect(t.calls()).toBe(0);
    t.d.loaded(loaded(['tokenizer', 'text_encoder']));
    const first = t.d.painted();
    expect(t.d.painted()).toBe(first); // a second image meanwhile waits for the same answer
    await first;
    expect(t.rows).toEqual(['tokenizer', 'text_encoder']);
    expect(t.progress.dataset.file).toBe('text_encoder');
    expect(t.progress.value).toBe(0.5);
    expect(t.progress.hidden).toBe(true);
    await t.d.painted();
    expect(t.calls()).toBe(1);
  });

  it('a failure is asked for again after the next image, not for a model loaded since', async () => {
    const t = setup([() => Promise.reject(new Error('offline')), async () => [row('text_encoder')]]);
    t.d.loaded(loaded(['text_encoder']));
    await t.d.painted();
    expect(t.rows).toEqual([]);
    await t.d.painted();
    expect(t.rows).toEqual(['text_encoder']);
    expect(t.calls()).toBe(2);

    const u = setup([() => Promise.reject(new Error('model changed'))]);
    u.d.loaded(loaded(['text_encoder']));
    const asked = u.d.painted();
    u.d.loaded(loaded([])); // another model, with nothing deferred, came meanwhile
    await asked;
    await u.d.painted();
    expect(u.calls()).toBe(1);
  });
});
