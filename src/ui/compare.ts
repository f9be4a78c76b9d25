/**
 * "Compare with teacher": the same prompt and seed through the one-step student and the teacher's
 * N-step sampler, side by side with both times.
 *
 * The teacher's file is not part of the model load (the first image does not need it): once the
 * loaded model's first image is painted, it is fetched in the background while images keep coming
 * (started any earlier, its download, hashing and storing compete with that first image: bench/),
 * and the button is offered when it is in. A failed fetch leaves the button on: a click tries again.
 */
import * as Comlink from 'comlink';
import type { GenerateResult, LoadResult, Progress, FileInfo } from '../shared/types';
import { paint } from './canvas';
import { errorMessage } from './error-message';
import { markTeacher } from './page-state';
import type { SupervisedGenerator } from './supervisor';

export interface CompareDeps {
  generator: Pick<SupervisedGenerator, 'generate' | 'generateTeacher' | 'prefetchTeacher'>;
  button: HTMLButtonElement;
  /** Gets `data-teacher` = none | loading | ready | failed (tests and the bench wait on it). */
  status: HTMLElement;
  current: () => { prompt: string; seed: number };
  /** Compare is offered only once an image is on screen. */
  hasImage: () => boolean;
  onDone: (student: GenerateResult, speedup: number) => void;
  onError: (err: unknown) => void;
  /** The teacher's file joins the list of the model's files (downloaded / from this device). */
  addFileRow: (info: FileInfo) => void;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export function initCompare(d: CompareDeps): { modelLoaded(r: LoadResult): void; painted(): void; update(): void; reset(): void } {
  let model: LoadResult | null = null;
  let teacher: 'none' | 'loading' | 'ready' | 'failed' = 'none';
  let running = false;
  /** Bumped by every model switch, so a late answer about an older model's teacher is dropped. */
  let epoch = 0;
  /** The loaded model's teacher waits for that model's first image. */
  let fetchPending = false;

  const update = () => {
    d.button.disabled = running || !(d.hasImage() && (teacher === 'ready' || teacher === 'failed'));
    markTeacher(d.status, teacher);
  };

  d.button.addEventListener('click', async () => {
    if (!model?.teacherDefaults || running) return;
    $('compare-panel').hidden = false;
    running = true;
    update();
    const { prompt, seed } = d.current();
    const { steps, guidance } = model.teacherDefaults;
    const { modelId } = model;
    const mine = epoch;
    try {
      // reuse: false: the student's time is measured, not the last image handed back again.
      const student = await d.generator.generate({ prompt, seed, count: 1, reuse: false });
      // Another model loaded meanwhile (calls wait in the worker's queue): this comparison is moot.
      if (mine !== epoch) return;
      paint($<HTMLCanvasElement>('student-canvas'), student.images[0]);
      $('student-caption').textContent = `Student, 1 step: ${Math.round(student.ms)} ms`;
      $('teacher-caption').textContent = `Teacher, ${steps} steps: running…`;
      const onStep = Comlink.proxy((p: Progress) => {
        if (p.phase === 'generate') $('teacher-caption').textContent = `Teacher, step ${p.step} of ${p.steps}…`;
      });
      if (teacher === 'failed') {
        // The background fetch failed: try it again first, outside the worker's run queue (so
        // typing keeps painting) and with its download progress shown.
        $('teacher-caption').textContent = 'Fetching the teacher model…';
        if (!(await fetchTeacher(mine))) {
          $('teacher-caption').textContent = 'Teacher: not available';
          throw new Error(d.button.title || 'the teacher model could not be fetched');
        }
      }
      const result = await d.generator.generateTeacher({ modelId, prompt, seed, steps, guidance }, onStep);
      if (mine !== epoch) return;
      paint($<HTMLCanvasElement>('teacher-canvas'), result.images[0]);
      $('teacher-caption').textContent = `Teacher, ${result.steps} steps: ${Math.round(result.ms)} ms`;
      d.onDone(student, result.ms / Math.max(student.ms, 1));
    } catch (err) {
      // About a model no longer loaded (ModelChangedError from the worker's check, or any other).
      if (mine === epoch) d.onError(err);
    } finally {
      running = false;
      update();
    }
  });

  /** A comparison on screen (or half done) belongs to the model being replaced. */
  function forgetModel(): void {
    epoch += 1;
    $('compare-panel').hidden = true;
  }

  function modelLoaded(r: LoadResult): void {
    forgetModel();
    model = r;
    teacher = r.hasTeacher ? 'loading' : 'none';
    fetchPending = r.hasTeacher;
    d.button.title = r.hasTeacher ? 'Fetching the teacher model…' : 'This model has no teacher to compare with.';
    update();
  }

  /** An image of the current model is on screen: time to fetch its teacher, if still to do. */
  function painted(): void {
    if (fetchPending) {
      fetchPending = false;
      void fetchTeacher(epoch);
    }
    update();
  }

  /** True when the teacher's file is in (for the model of epoch `mine`). */
  async function fetchTeacher(mine: number): Promise<boolean> {
    const onProgress = Comlink.proxy((p: Progress) => {
      if (mine !== epoch || p.phase !== 'download' || !p.total) return;
      d.button.title = `Fetching the teacher model… ${Math.floor((100 * p.loaded) / p.total)} %`;
      if (running) $('teacher-caption').textContent = d.button.title;
    });
    try {
      const info = await d.generator.prefetchTeacher(onProgress);
      if (mine !== epoch) return false;
      teacher = 'ready';
      d.button.title = '';
      if (info) d.addFileRow(info);
    } catch (err) {
      if (mine !== epoch) return false;
      teacher = 'failed';
      d.button.title = `The teacher model could not be fetched (${errorMessage(err)}); compare tries again.`;
    }
    update();
    return teacher === 'ready';
  }

  /** The worker is being replaced: nothing to compare until a model is loaded again. */
  function reset(): void {
    forgetModel();
    model = null;
    teacher = 'none';
    fetchPending = false;
    update();
  }

  return { modelLoaded, painted, update, reset };
}
