/**
 * "Add a model by URL": read the repository, show name, licence and size, say whether this device
 * can run it (checked before any download), and download only when the person says so.
 * Known public exports from index.json are offered as one-click fill-ins.
 * Everything is set as textContent: repository names and licences come from other people's servers.
 */
import type { LoadResult, ModelIndexEntry, Progress, RemoteModelPlan } from '../shared/types';
import { errorMessage } from './error-message';
import { formatBytes } from './format';
import { markError, markPlan, markStatus } from './page-state';
import type { SupervisedGenerator } from './supervisor';

export interface AddModelDeps {
  /** The page's supervised worker (a crash rejects the call with WorkerCrashedError). */
  generator: Pick<SupervisedGenerator, 'inspect' | 'add' | 'cancelLoad'>;
  /** A progress callback for one download (shown in the page's status, and given to `watch`), silenced (`end`) once it settled. */
  loadProgress: (watch: (p: Progress) => void) => { callback: (p: Progress) => void; end(): void };
  /** Called with the loaded model; the page switches to it. */
  onLoaded: (result: LoadResult, id: string) => void;
  /** A download failed: the page's current model is still loaded; clear the load progress. */
  onFailed: () => void;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const RULES = { euler: 'SD-Turbo one-step rule (Euler, σ·noise at t = 999)', ddpm: 'DMD2 one-step rule (DDPM form)' } as const;

export function initAddModel({ generator, loadProgress, onLoaded, onFailed }: AddModelDeps): {
  showKnown(entries: ModelIndexEntry[]): void;
} {
  const form = $<HTMLFormElement>('add-model-form');
  const input = $<HTMLInputElement>('model-url');
  const checkButton = $<HTMLButtonElement>('check-model');
  const plan = $<HTMLDivElement>('model-plan');
  const download = $<HTMLButtonElement>('download-model');
  const stop = $<HTMLButtonElement>('stop-download');
  const status = $<HTMLParagraphElement>('add-model-status');
  let current: RemoteModelPlan | null = null;
  // What `current` was read from: the field may be edited after the check.
  let currentInput = '';
  // Checks can overlap (a known model's Check button while another check runs): the last one asked wins.
  let checks = 0;

  const say = (text: string, state: 'checking' | 'ready' | 'loading' | 'added' | 'stopped' | 'error', errorName?: string) => {
    status.textContent = text;
    markStatus(status, state);
    markError(status, errorName ?? null);
  };

  function render(p: RemoteModelPlan): void {
    plan.hidden = false;
    $('plan-name').textContent = `${p.name} — ${p.source}`;
    const license = $('plan-license');
    license.textContent = `Licence: ${p.license}${p.licenseUrl ? ` (${p.licenseUrl})` : ''}. Read it before using the images.`;
    const size = $('plan-size');
    size.textContent = `Download: ${formatBytes(p.totalBytes)} in ${p.files.length} files · ${RULES[p.rule]}${p.webgpuFeatures.length ? ` · needs WebGPU ${p.webgpuFeatures.join(', ')}` : ''}`;
    markPlan(license, size, p);
    $('plan-files').replaceChildren(
      ...p.files.map((f) => {
        const li = document.createElement('li');
        li.textContent = `${f.path}: ${formatBytes(f.bytes)}`;
        return li;
      }),
    );
    $('plan-assumed').textContent = p.assumed.length ? `Not published by the repository, so assumed: ${p.assumed.join('; ')}.` : '';
    download.disabled = p.refusal !== null;
    if (p.refusal) say(`This device cannot run it: ${errorMessage(p.refusal)}`, 'error', p.refusal.name);
    else say(`This device can run it. Download ${formatBytes(p.totalBytes)}?`, 'ready');
  }

  // While a download runs, the panel stays on it: a new check would hide its Stop button.
  let downloading = false;
  let stopPressed = false;

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (downloading) return;
    const mine = ++checks;
    const asked = input.value;
    current = null;
    plan.hidden = true;
    download.disabled = true;
    checkButton.disabled = true;
    say('Reading the repository…', 'checking');
    try {
      const p = await generator.inspect(asked);
      if (mine !== checks) return;
      [current, currentInput] = [p, asked];
      render(p);
    } catch (err) {
      if (mine === checks) say(errorMessage(err), 'error', (err as { name?: string }).name ?? 'Error');
    } finally {
      if (mine === checks) checkButton.disabled = false;
    }
  });

  download.addEventListener('click', async () => {
    if (!current) return;
    const id = current.id;
    download.disabled = true;
    downloading = true;
    checkButton.disabled = true;
    stop.hidden = false;
    stop.disabled = false;
    say(`Downloading ${current.name}…`, 'loading');
    stopPressed = false;
    const progressOf = loadProgress((p) => {
      // Every file is in and the model in use is being let go: from then on there is nothing a
      // stop could keep, so the button says so.
      if (p.phase === 'switch') stop.disabled = true;
    });
    try {
      const result = await generator.add({ id, fingerprint: current.fingerprint, input: currentInput }, progressOf.callback);
      progressOf.end();
      // A stop that reached the worker after its last check (the files were all in) changed nothing.
      const late = stopPressed ? 'Stop came too late: every file was already in. ' : '';
      say(`${late}${result.name} is saved on this device and ready.`, 'added');
      onLoaded(result, id);
    } catch (err) {
      progressOf.end();
      const name = (err as { name?: string }).name ?? 'Error';
      // Stopping is the person's choice, not a failure: say what was kept and how to go on.
      if (name === 'LoadCancelledError')
        say('Download stopped. The parts already saved stay on this device: "Download and use" continues from there.', 'stopped', name);
      else say(errorMessage(err), 'error', name);
      // A plan the repository no longer matches (LayoutError) would be refused again: it goes.
      if (name === 'LayoutError') {
        current = null;
        plan.hidden = true;
      } else download.disabled = false;
      onFailed();
    } finally {
      downloading = false;
      checkButton.disabled = false;
      stop.hidden = true;
    }
  });

  // Stops every file of this download; the model in use keeps running.
  stop.addEventListener('click', () => {
    stopPressed = true;
    stop.disabled = true;
    void generator.cancelLoad().catch(() => undefined);
  });

  return {
    showKnown(entries: ModelIndexEntry[]): void {
      $('known-models').replaceChildren(
        ...entries
          .filter((m) => m.url)
          .map((m) => {
            const li = document.createElement('li');
            const b = document.createElement('button');
            b.type = 'button';
            b.textContent = 'Check';
            b.addEventListener('click', () => {
              input.value = m.url!;
              form.requestSubmit();
            });
            const text = document.createElement('span');
            text.textContent = ` ${m.name} — ${formatBytes(m.bytes)}, licence ${m.license ?? 'unknown'}`;
            li.append(b, text);
            return li;
          }),
      );
    },
  };
}
