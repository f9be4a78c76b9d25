/**
 * The on-device gallery: the images a person kept, with what made them (prompt, seed, explore
 * point, model id and version, backend, time), in IndexedDB.
 *
 * Its own database ('onestep-gallery'), apart from the model files ('onestep-models', written by
 * the worker): "clear downloaded models" never touches it, an app update never touches it, and a
 * full disk refuses a new entry (GalleryFullError) instead of evicting a model or an older entry.
 * Each entry is one record written in one transaction, so a refused write leaves nothing half-kept.
 */
import { clear, createStore, del, entries, set, type UseStore } from 'idb-keyval';
import { GalleryFullError, GalleryUnavailableError, isQuotaExceeded } from '../shared/errors';
import type { Backend, ExploreRequest } from '../shared/types';

export const GALLERY_DB = 'onestep-gallery';
const STORE = 'entries';

/** What a kept image restores: everything the share link holds, plus the model it was made with. */
export interface GalleryEntry {
  /** Sortable and unique: the time it was kept, then a random suffix. */
  id: string;
  /** The painted pixels, lossless (PNG): also the thumbnail. */
  png: Blob;
  width: number;
  height: number;
  prompt: string;
  seed: number;
  explore?: ExploreRequest;
  modelId: string;
  modelVersion: string;
  backend: Backend;
  /** When it was kept (ms since the epoch). */
  time: number;
}

export type NewEntry = Omit<GalleryEntry, 'id' | 'time'>;

export class Gallery {
  private constructor(private readonly store: UseStore) {}

  /** The gallery, or GalleryUnavailableError where IndexedDB is missing or throws. */
  static open(): Gallery {
    try {
      if (typeof indexedDB === 'undefined') throw new Error('no IndexedDB');
      return new Gallery(createStore(GALLERY_DB, STORE));
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** Every entry, newest first. */
  async list(): Promise<GalleryEntry[]> {
    const all = await guard(entries<string, GalleryEntry>(this.store));
    return all.map(([, e]) => e).sort((a, b) => (a.id < b.id ? 1 : -1));
  }

  /** Keeps one image; GalleryFullError when storage refuses it (nothing else changes). */
  async add(entry: NewEntry, now = Date.now()): Promise<GalleryEntry> {
    const id = `${now.toString(36).padStart(9, '0')}-${Math.random().toString(36).slice(2, 8)}`;
    const kept: GalleryEntry = { ...entry, id, time: now };
    await guard(set(id, kept, this.store));
    return kept;
  }

  remove(id: string): Promise<void> {
    return guard(del(id, this.store));
  }

  removeAll(): Promise<void> {
    return guard(clear(this.store));
  }
}

/** Bytes the entries' images take (what the gallery says it holds). */
export function galleryBytes(list: readonly GalleryEntry[]): number {
  return list.reduce((sum, e) => sum + e.png.size, 0);
}

async function guard<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (isQuotaExceeded(err)) throw new GalleryFullError((err as Error).message || 'quota exceeded');
    throw unavailable(err);
  }
}

function unavailable(err: unknown): GalleryUnavailableError {
  return new GalleryUnavailableError((err as Error)?.message || String(err));
}
