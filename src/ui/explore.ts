/**
 * The explore panel: two sliders that move the image from its own seed and prompt (position 0)
 * toward another seed and another prompt (position 1). Every slider event asks for one image
 * through the same newest-wins queue as typing, so dragging paints as fast as the model answers
 * and never builds a backlog. The worker does the mixing (workers/pipeline/explore.ts); this
 * module only reads the controls and keeps them in the share link.
 *
 * Sliders run 0…1000 (thousandths, as in the link); the arrow keys move 1 %, Page Up/Down 10 %.
 * "Save video" plays the morph and records each painted frame (morph-video.ts).
 */
import type { ExploreRequest } from '../shared/types';
import { downloadBlob } from './canvas';
import { errorMessage } from './error-message';
import { sayIn } from './page-state';
import { parseSeed, SEED_RULE } from './seed';

export interface ExploreControls {
  panel: HTMLDetailsElement;
  toSeed: HTMLInputElement;
  seedMix: HTMLInputElement;
  toPrompt: HTMLInputElement;
  promptMix: HTMLInputElement;
  morph: HTMLButtonElement;
  save: HTMLButtonElement;
  reset: HTMLButtonElement;
  hint: HTMLElement;
  status: HTMLElement;
}

/** The panel's elements in index.html. */
export function exploreControls(): ExploreControls {
  const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  return {
    panel: $('explore-panel'),
    toSeed: $('explore-to-seed'),
    seedMix: $('explore-seed-mix'),
    toPrompt: $('explore-to-prompt'),
    promptMix: $('explore-prompt-mix'),
    morph: $('explore-morph'),
    save: $('explore-save'),
    reset: $('explore-reset'),
    hint: $('explore-hint'),
    status: $('explore-status'),
  };
}

export interface ExploreDeps {
  controls: ExploreControls;
  /** Paint the image for the current controls (coalesced by the caller). */
  request: () => void;
  /** Resolves once the image for the newest request is on the canvas. */
  painted: () => Promise<void>;
  /** The start seed: the morph's default target is the next seed. */
  seed: () => number;
  /** The canvas the morph paints on (recorded by "Save video"). */
  canvas: HTMLCanvasElement;
  /** The saved video's file name. */
  videoName: () => string;
}

const STEPS = 1000;
const KEY_STEP: Record<string, number> = { ArrowRight: 10, ArrowUp: 10, ArrowLeft: -10, ArrowDown: -10, PageUp: 100, PageDown: -100 };
/** Frames of a morph (positions 0, 1/(n-1), …, 1). */
export const MORPH_FRAMES = 21;

export class Explore {
  private lastGoodSeed: number | null = null;
  private playing = false;

  constructor(private readonly d: ExploreDeps) {
    const c = d.controls;
    for (const slider of [c.seedMix, c.promptMix]) {
      slider.min = '0';
      slider.max = String(STEPS);
      slider.step = '1';
      slider.addEventListener('input', () => d.request());
      slider.addEventListener('keydown', (e) => this.onKey(e, slider));
    }
    c.toSeed.addEventListener('input', () => {
      if (this.readSeed() && this.mix(c.seedMix) > 0) d.request();
    });
    c.toPrompt.addEventListener('input', () => {
      if (this.mix(c.promptMix) > 0) d.request();
    });
    c.reset.addEventListener('click', () => {
      c.seedMix.value = '0';
      c.promptMix.value = '0';
      d.request();
    });
    c.morph.addEventListener('click', () => void this.morph());
    c.save.addEventListener('click', () => void this.save());
  }

  /** The point to paint, or undefined at the start (both sliders at 0). */
  get point(): ExploreRequest | undefined {
    const c = this.d.controls;
    const seedMix = this.mix(c.seedMix);
    const promptMix = this.mix(c.promptMix);
    if (seedMix === 0 && promptMix === 0) return undefined;
    return { toSeed: this.toSeed, seedMix, toPrompt: c.toPrompt.value, promptMix };
  }

  /** A link's or a kept image's explore point: its controls are set and the panel opened (none: back to the start). */
  restore(point: ExploreRequest | undefined): void {
    const c = this.d.controls;
    if (!point) {
      c.seedMix.value = '0';
      c.promptMix.value = '0';
      return;
    }
    c.toSeed.value = String(point.toSeed);
    this.readSeed();
    c.toPrompt.value = point.toPrompt;
    c.seedMix.value = String(Math.round(point.seedMix * STEPS));
    c.promptMix.value = String(Math.round(point.promptMix * STEPS));
    c.panel.open = true;
  }

  /** A start seed was chosen: an empty target seed becomes the next one. */
  seedChanged(seed: number): void {
    if (this.d.controls.toSeed.value.trim() === '') {
      this.d.controls.toSeed.value = String((seed + 1) >>> 0);
      this.readSeed();
    }
  }

  /**
   * Plays the morph from position 0 to 1 (the prompt slider if a target prompt is typed, else the
   * seed slider), one painted frame after another; resolves with the positions painted.
   */
  async morph(frame?: () => Promise<void>): Promise<number[]> {
    if (this.playing) return [];
    const c = this.d.controls;
    const slider = c.toPrompt.value.trim() ? c.promptMix : c.seedMix;
    this.playing = true;
    c.morph.disabled = c.save.disabled = true;
    const shown: number[] = [];
    try {
      for (let i = 0; i < MORPH_FRAMES; i++) {
        slider.value = String(Math.round((i * STEPS) / (MORPH_FRAMES - 1)));
        this.d.request();
        await this.d.painted();
        await frame?.();
        shown.push(this.mix(slider));
      }
    } finally {
      this.playing = false;
      c.morph.disabled = c.save.disabled = false;
    }
    return shown;
  }

  /** Plays the morph and saves it as a WebM video (a clear message where the browser cannot encode). */
  async save(): Promise<void> {
    const c = this.d.controls;
    if (this.playing) return;
    const say = (text: string, error: string | null) => sayIn(c.status, text, error);
    try {
      const { recordMorph } = await import('./morph-video');
      const video = await recordMorph(this.d.canvas, (frame) => this.morph(frame));
      downloadBlob(video, this.d.videoName());
      say(`Saved the morph as ${this.d.videoName()} (${MORPH_FRAMES} frames).`, null);
    } catch (err) {
      say(errorMessage(err), (err as Error).name ?? 'Error');
    }
  }

  private get toSeed(): number {
    return this.lastGoodSeed ?? (this.d.seed() + 1) >>> 0;
  }

  private mix(slider: HTMLInputElement): number {
    const v = Number(slider.value);
    return Number.isFinite(v) ? Math.min(STEPS, Math.max(0, Math.round(v))) / STEPS : 0;
  }

  /** The target seed box keeps the seed rule; a bad value keeps the last good one and says so. */
  private readSeed(): boolean {
    const c = this.d.controls;
    const seed = parseSeed(c.toSeed.value);
    c.hint.hidden = seed !== null;
    c.toSeed.setAttribute('aria-invalid', String(seed === null));
    if (seed === null) c.hint.textContent = `The target seed must be ${SEED_RULE}; exploring keeps seed ${this.toSeed}.`;
    else this.lastGoodSeed = seed;
    return seed !== null;
  }

  private onKey(e: KeyboardEvent, slider: HTMLInputElement): void {
    const step = KEY_STEP[e.key];
    if (step === undefined) return;
    e.preventDefault();
    slider.value = String(Math.min(STEPS, Math.max(0, Number(slider.value) + step)));
    this.d.request();
  }
}
