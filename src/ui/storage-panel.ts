/**
 * The storage panel: how much of the model lives on this device, where each file came from this
 * visit, and "clear downloaded models".
 */
import type { FileSource, LoadResult } from '../shared/types';
import { formatBytes } from './format';
import { markFileRow } from './page-state';
import type { SupervisedGenerator } from './supervisor';

type Say = (text: string, state: 'ready' | 'error') => void;

export function initStoragePanel(opts: {
  generator: SupervisedGenerator;
  summary: HTMLElement;
  files: HTMLElement;
  clear: HTMLButtonElement;
  say: Say;
}) {
  const { generator, summary, files } = opts;

  async function show(): Promise<void> {
    const info = await generator.cacheInfo();
    const quota = info.quota ? ` of ${formatBytes(info.quota)} allowed` : '';
    const kept = info.persisted ? 'kept until you clear it' : 'may be cleared by the browser when space runs low';
    summary.textContent = `${formatBytes(info.totalBytes)} of model files saved on this device${quota}; ${kept}.`;
  }

  opts.clear.addEventListener('click', async () => {
    try {
      await generator.clearCache();
    } catch (err) {
      opts.say(`Could not clear the downloaded models: ${(err as Error).message ?? err}`, 'error');
      return;
    }
    await show().catch(() => undefined);
    opts.say('Downloaded models cleared. They will download again on the next visit.', 'ready');
  });

  return {
    show,
    /** The files list for a load: one row per file, with where it came from (e2e reads data-source). */
    showFiles(r: LoadResult): void {
      files.replaceChildren(
        ...Object.entries(r.sources).map(([file, source]) => fileRow(file, source, r.discarded.includes(file), r.resumed[file] ?? 0)),
      );
    },
    addFile(file: string, source: FileSource, discarded: boolean, resumedFrom: number): void {
      files.append(fileRow(file, source, discarded, resumedFrom));
    },
  };
}

function fileRow(file: string, source: FileSource, discarded: boolean, resumedFrom: number): HTMLLIElement {
  const li = document.createElement('li');
  markFileRow(li, file, source, resumedFrom);
  const again = discarded ? ' (saved copy was damaged, fetched again)' : '';
  const resumed = resumedFrom ? ` (resumed: ${formatBytes(resumedFrom)} were already saved)` : '';
  li.textContent = `${file}: ${source === 'cache' ? 'from this device' : 'downloaded'}${again}${resumed}`;
  return li;
}
