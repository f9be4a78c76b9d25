/**
 * The gallery panel and the Keep button: keep the image on the canvas (gallery/store.ts), list
 * what was kept with thumbnails, reopen one (the page repaints it from its prompt, seed and explore
 * point), delete one or all, and export all as one zip (gallery/archive.ts).
 */
import { galleryArchive } from '../gallery/archive';
import { Gallery, galleryBytes, type GalleryEntry, type NewEntry } from '../gallery/store';
import { canvasToPng, downloadBlob } from './canvas';
import { errorMessage } from './error-message';
import { formatBytes } from './format';
import { markGallery, markGalleryEntry, sayIn } from './page-state';

export interface GalleryControls {
  keep: HTMLButtonElement;
  panel: HTMLDetailsElement;
  summary: HTMLElement;
  list: HTMLElement;
  exportAll: HTMLButtonElement;
  removeAll: HTMLButtonElement;
  status: HTMLElement;
}

export function galleryControls(): GalleryControls {
  const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  return {
    keep: $('keep'),
    panel: $('gallery-panel'),
    summary: $('gallery-summary'),
    list: $('gallery-list'),
    exportAll: $('gallery-export'),
    removeAll: $('gallery-clear'),
    status: $('gallery-status'),
  };
}

export interface GalleryDeps {
  controls: GalleryControls;
  canvas: HTMLCanvasElement;
  /** What made the image on the canvas, without its pixels (null before the first image). */
  painted: () => Omit<NewEntry, 'png' | 'width' | 'height'> | null;
  /** Repaint a kept image: its prompt, seed, explore point and model. */
  open: (entry: GalleryEntry) => void;
}

export function initGallery(d: GalleryDeps): { imagePainted: () => void } {
  const c = d.controls;
  const say = (text: string, error: string | null = null) => sayIn(c.status, text, error);
  let gallery: Gallery;
  try {
    gallery = Gallery.open();
  } catch (err) {
    say(errorMessage(err), (err as Error).name);
    c.keep.disabled = true;
    for (const b of [c.exportAll, c.removeAll]) b.disabled = true;
    return { imagePainted: () => undefined };
  }
  let thumbs: string[] = [];

  async function show(): Promise<GalleryEntry[]> {
    const list = await gallery.list();
    for (const url of thumbs) URL.revokeObjectURL(url);
    thumbs = [];
    c.list.replaceChildren(...list.map(row));
    const bytes = galleryBytes(list);
    const free = await freeSpace();
    c.summary.textContent =
      list.length === 0
        ? 'Nothing kept yet: press Keep under an image.'
        : `${list.length} image${list.length === 1 ? '' : 's'}, ${formatBytes(bytes)} on this device${free}.`;
    markGallery(c.summary, list.length, bytes);
    c.exportAll.disabled = c.removeAll.disabled = list.length === 0;
    return list;
  }

  function row(entry: GalleryEntry): HTMLLIElement {
    const li = document.createElement('li');
    markGalleryEntry(li, entry);
    const img = document.createElement('img');
    const url = URL.createObjectURL(entry.png);
    thumbs.push(url);
    img.src = url;
    img.width = 64;
    img.height = 64;
    img.alt = `Kept image: ${entry.prompt || '(empty prompt)'}`;
    const text = document.createElement('span');
    const where = entry.explore ? ' · explored' : '';
    text.textContent = `“${entry.prompt}” · seed ${entry.seed}${where} · ${entry.modelId} ${entry.modelVersion} · ${new Date(entry.time).toLocaleString()}`;
    const open = button('Open', `Open “${entry.prompt}”, seed ${entry.seed}`, () => d.open(entry));
    open.dataset.action = 'open';
    const remove = button('Delete', `Delete “${entry.prompt}”, seed ${entry.seed}`, () =>
      run(async () => {
        await gallery.remove(entry.id);
        await show();
        say('Deleted one image from the gallery.');
      }),
    );
    remove.dataset.action = 'delete';
    li.append(img, text, open, remove);
    return li;
  }

  /** Runs a gallery action; its failure is said in the gallery's status line, nothing else changes. */
  async function run(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (err) {
      say(errorMessage(err), (err as Error).name ?? 'Error');
      await show().catch(() => undefined);
    }
  }

  c.keep.addEventListener('click', () =>
    run(async () => {
      const facts = d.painted();
      if (!facts) return;
      c.keep.disabled = true;
      try {
        const png = await canvasToPng(d.canvas);
        await gallery.add({ ...facts, png, width: d.canvas.width, height: d.canvas.height });
      } finally {
        c.keep.disabled = false;
      }
      const list = await show();
      say(`Kept in the gallery (${list.length} image${list.length === 1 ? '' : 's'}).`);
    }),
  );

  c.exportAll.addEventListener('click', () =>
    run(async () => {
      const list = await gallery.list();
      // Stored PNGs go in as they are (no compression): a zip of a few MB takes milliseconds.
      const items = await Promise.all(list.map(async (e) => ({ ...e, png: new Uint8Array(await e.png.arrayBuffer()) })));
      const zip = galleryArchive(items) as Uint8Array<ArrayBuffer>; // fflate allocates a plain ArrayBuffer
      downloadBlob(new Blob([zip], { type: 'application/zip' }), 'onestep-gallery.zip');
      say(`Exported ${list.length} image${list.length === 1 ? '' : 's'} as onestep-gallery.zip.`);
    }),
  );

  c.removeAll.addEventListener('click', () =>
    run(async () => {
      const n = (await gallery.list()).length;
      if (!confirm(`Delete all ${n} kept images from this device? This cannot be undone.`)) return;
      await gallery.removeAll();
      await show();
      say('The gallery is empty.');
    }),
  );

  void show().catch((err) => say(errorMessage(err), (err as Error).name));
  c.keep.disabled = true;
  return {
    imagePainted: () => {
      c.keep.disabled = false;
    },
  };
}

function button(text: string, label: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

async function freeSpace(): Promise<string> {
  try {
    const e = await navigator.storage?.estimate?.();
    if (!e?.quota) return '';
    return `; ${formatBytes(Math.max(0, e.quota - (e.usage ?? 0)))} free for this site`;
  } catch {
    return '';
  }
}
