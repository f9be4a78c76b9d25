/**
 * Which model the page opens: the one a link names (`?model=`) if this device ships or has added
 * it, else the default shipped model. A link's id is only looked up, never fetched: a link naming
 * an unknown host or junk opens the default model with a note.
 */
import { FALLBACK_MODEL_ID, MODELS_PATH } from '../shared/config';
import type { ModelIndexEntry } from '../shared/types';

export async function readModelIndex(): Promise<ModelIndexEntry[]> {
  try {
    const res = await fetch(`${import.meta.env.BASE_URL}${MODELS_PATH}index.json`);
    return ((await res.json()) as { models: ModelIndexEntry[] }).models;
  } catch {
    return [];
  }
}

/** The default shipped model (remote entries are offered in the add-model panel, never loaded by default). */
export function defaultModelId(index: ModelIndexEntry[]): string {
  const shipped = index.filter((m) => !m.url);
  return (shipped.find((m) => m.default) ?? shipped[0])?.id ?? FALLBACK_MODEL_ID;
}

/**
 * The model to open for the link's `?model=` value (null: none named), and the note to show when
 * the link named one this device cannot open. `addedIds` is asked only when the index does not know it.
 */
export async function chooseModel(
  linked: string | null,
  index: ModelIndexEntry[],
  addedIds: () => Promise<string[]>,
): Promise<{ modelId: string; note: string | null }> {
  if (linked === null || index.length === 0) return { modelId: linked ?? defaultModelId(index), note: null };
  if (index.some((e) => e.id === linked && !e.url) || (await addedIds().catch((): string[] => [])).includes(linked)) {
    return { modelId: linked, note: null };
  }
  const shown = linked.length > 60 ? `${linked.slice(0, 60)}…` : linked;
  return {
    modelId: defaultModelId(index),
    note: `The link asks for the model "${shown}", which this device neither ships nor has added, so the default model is open.`,
  };
}

/**
 * The model the page opens at start. A link naming a model this device neither ships nor has
 * added (or junk) opens the default one: the `?model=` is dropped from the address and the note shown.
 */
export async function startingModel(
  linked: string | null,
  index: ModelIndexEntry[],
  addedIds: () => Promise<string[]>,
  notice: HTMLElement,
): Promise<string> {
  const chosen = await chooseModel(linked, index, addedIds);
  if (chosen.note) {
    const url = new URL(location.href);
    url.searchParams.delete('model');
    history.replaceState(null, '', url);
    notice.hidden = false;
    notice.textContent = chosen.note;
  }
  return chosen.modelId;
}
