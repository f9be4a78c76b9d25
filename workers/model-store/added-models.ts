/**
 * Models a person added by URL, kept in IndexedDB (their own database, so the file store's schema
 * never changes). The record holds the validated manifest and the folder URL its paths are
 * relative to, so a later visit loads the model from the file cache with no network at all.
 */
import { createStore, get, keys, set, type UseStore } from 'idb-keyval';
import type { Manifest } from '../../src/shared/types';

export interface AddedModel {
  id: string;
  manifest: Manifest;
  /** Base URL the manifest's file paths resolve against (…/resolve/main/ on a hub). */
  baseUrl: string;
  source: string;
  license: string;
  addedAt: number;
}

let store: UseStore | null = null;
const db = () => (store ??= createStore('onestep-added-models', 'models'));

export async function getAdded(id: string): Promise<AddedModel | null> {
  try {
    return (await get<AddedModel>(id, db())) ?? null;
  } catch {
    return null; // no IndexedDB (some private modes): nothing was ever added
  }
}

export async function putAdded(model: AddedModel): Promise<void> {
  await set(model.id, model, db());
}

export async function listAdded(): Promise<{ id: string; name: string; source: string; license: string }[]> {
  try {
    const ids = (await keys<string>(db())).filter((k) => typeof k === 'string');
    const all = await Promise.all(ids.map((id) => get<AddedModel>(id, db())));
    return all.flatMap((m) => (m ? [{ id: m.id, name: m.manifest.name, source: m.source, license: m.license }] : []));
  } catch {
    return [];
  }
}
