/**
 * What a person can do with the image on the canvas: download it as PNG, copy it, copy the link
 * that restores it, and a grid of variations (the same prompt, the next seeds).
 */
import { VARIATION_COUNT } from '../shared/config';
import { pngName } from '../shared/png-name';
import { canvasToPng, downloadPng, paint } from './canvas';
import { errorMessage } from './error-message';
import type { SupervisedGenerator } from './supervisor';

type Say = (text: string, state: 'ready' | 'error') => void;

export interface OutputActions {
  generator: SupervisedGenerator;
  canvas: HTMLCanvasElement;
  buttons: { download: HTMLButtonElement; copy: HTMLButtonElement; share: HTMLButtonElement; variations: HTMLButtonElement };
  variations: { panel: HTMLElement; grid: HTMLElement };
  /** The prompt and seed on the canvas (null before the first image). */
  painted: () => { prompt: string; seed: number } | null;
  /** What the variations are made of: the prompt in the box and the current seed. */
  current: () => { prompt: string; seed: number };
  /** A variation was picked: make its seed the current one and paint it. */
  pick: (seed: number) => void;
  say: Say;
  /** The status line's model part, to which the variations' time is added. */
  readyLine: () => string;
}

export function initOutputActions(o: OutputActions): void {
  const { buttons, canvas } = o;
  buttons.download.addEventListener('click', () => {
    const p = o.painted();
    if (p) void downloadPng(canvas, pngName(p.prompt, p.seed));
  });

  buttons.copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.write([new ClipboardItem({ 'image/png': canvasToPng(canvas) })]);
      o.say('Image copied.', 'ready');
    } catch {
      o.say('This browser did not allow copying the image.', 'error');
    }
  });

  buttons.share.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      o.say('Link copied: it restores this prompt and seed.', 'ready');
    } catch {
      o.say(`Share this link: ${location.href}`, 'ready');
    }
  });

  buttons.variations.addEventListener('click', async () => {
    o.variations.panel.hidden = false;
    buttons.variations.disabled = true;
    try {
      const { prompt, seed } = o.current();
      const result = await o.generator.generate({ prompt, seed, count: VARIATION_COUNT });
      o.variations.grid.replaceChildren(
        ...result.images.map((image) => {
          const b = document.createElement('button');
          b.type = 'button';
          const c = document.createElement('canvas');
          paint(c, image);
          c.setAttribute('role', 'img');
          c.setAttribute('aria-label', `Variation with seed ${image.seed}`);
          const label = document.createElement('span');
          label.textContent = `seed ${image.seed}`;
          b.append(c, label);
          b.addEventListener('click', () => o.pick(image.seed));
          return b;
        }),
      );
      o.say(`${o.readyLine()} · ${result.images.length} variations in ${Math.round(result.ms)} ms`, 'ready');
    } catch (err) {
      o.say(errorMessage(err), 'error');
    } finally {
      buttons.variations.disabled = false;
    }
  });
}
