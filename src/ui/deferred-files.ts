/**
 * The files a load left for after the first image (LoadResult.deferred: the tokenizer and the text
 * encoder, when the first prompt's embedding was kept). They are asked for once that image is up:
 * their download shows on the progress bar only (the status line keeps describing the image on
 * screen), and their rows join the files list when they are in. One that fails (offline, a cut
 * connection) is asked for again after the next image, which resumes its download.
 * painted() settles when they are in (or failed): the teacher's download waits for that, so the
 * files the next prompt needs do not share the connection with one a compare may need.
 */
import type { FileInfo, LoadResult, Progress, ProgressCallback } from '../shared/types';
import { loadProgress } from './load-progress';
import { markDownloading } from './page-state';

export interface DeferredFilesDeps {
  fetch: (onProgress: ProgressCallback) => Promise<FileInfo[]>;
  progress: HTMLProgressElement;
  addRow: (f: FileInfo) => void;
}

export function deferredFiles({ fetch, progress, addRow }: DeferredFilesDeps) {
  let pending = false;
  let asking: Promise<void> | null = null;
  let loads = 0; // a failure for a model no longer loaded is not asked again
  return {
    loaded(r: LoadResult): void {
      loads += 1;
      pending = r.deferred.length > 0;
    },
    painted(): Promise<void> {
      if (asking) return asking;
      if (!pending) return Promise.resolve();
      pending = false;
      const load = loads;
      let shown: string | null = null;
      const watch = loadProgress((p: Progress) => {
        if (p.phase !== 'download') return;
        progress.hidden = false;
        progress.value = p.total ? p.loaded / p.total : 0;
        markDownloading(progress, (shown = p.file));
      });
      asking = fetch(watch.callback)
        .then(
          (files) => files.forEach(addRow),
          () => void (load === loads && (pending = true)), // the next image that needs the file reports why
        )
        .finally(() => {
          watch.end();
          asking = null;
          // Hidden only if still ours: a load begun meanwhile owns the bar now.
          if (shown !== null && progress.dataset.file === shown) progress.hidden = true;
        });
      return asking;
    },
  };
}
