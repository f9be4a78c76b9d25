/**
 * The last few prompts' text embeddings kept in IndexedDB, so the first image of a visit (the
 * prompt of the link, or the default one) needs no text encoder: its session (~0.4 s on 2 cores)
 * is made after that image instead of before it (runtime/lazy-session.ts).
 *
 * One record per model and backend in the "onestep-embeddings" database (a WASM fallback keeps
 * the WebGPU record), valid only for the text encoder file (its sha256) that computed it, so a
 * stored embedding is exactly what the encoder would give now. Each entry keeps the prompt's
 * text beside its token ids: a first image whose text is found needs no tokenizer either. The visit's first prompt is written at once (it is the likeliest to open the
 * next visit, and a page may close right after its first image); later ones a moment after typing
 * pauses (the prompt someone stopped at, not every prefix typed on the way). It is a cache: a record that is unreadable, of another file or of the
 * wrong size is ignored and replaced, and a write that fails (quota) loses nothing but the speed-up.
 */
import { clear, createStore, delMany, get, set, type UseStore } from 'idb-keyval';

/** Prompts kept per model: the one on load is nearly always among the last few someone paused at. */
const KEEP = 6;
/** Typing pauses this long before the prompt's embedding is written. */
const WRITE_AFTER_MS = 1000;

/** key: the prompt's token ids joined (prompt-caches.ts); text: the prompt as clipped for the tokenizer. */
export interface StoredEntry {
  key: string;
  text: string;
  data: Float32Array;
}

interface StoredRecord {
  fingerprint: string;
  /** Oldest first. */
  entries: StoredEntry[];
}

/** A shipped embedding (manifest.prompt_embeddings): its token key is known once the tokenizer is read. */
interface ShippedEntry {
  key: string | null;
  text: string;
  data: Float32Array;
}

let store: UseStore | null = null;
const db = () => (store ??= createStore('onestep-embeddings', 'embeddings'));

function valid(r: unknown, fingerprint: string, length: number): r is StoredRecord {
  if (!r || typeof r !== 'object') return false;
  const { fingerprint: f, entries } = r as Partial<StoredRecord>;
  return (
    f === fingerprint &&
    Array.isArray(entries) &&
    entries.every(
      (e) => typeof e?.key === 'string' && typeof e.text === 'string' && e.data instanceof Float32Array && e.data.length === length,
    )
  );
}

export class StoredEmbeddings {
  private entries: StoredEntry[];
  private pending: StoredEntry | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private written = false;

  private constructor(
    /** The record's key: model id and backend. */
    private readonly recordKey: string,
    private readonly fingerprint: string,
    /** Values per embedding (tokens × width): anything else is not this encoder's output. */
    private readonly length: number,
    entries: StoredEntry[],
  ) {
    this.entries = entries;
  }

  /**
   * The embeddings kept for this model on this backend; none when the record is missing, stale or
   * unreadable (it is dropped, off the caller's path, as is a record of the former one-per-model kind).
   */
  static async open(modelId: string, backend: string, fingerprint: string, length: number): Promise<StoredEmbeddings> {
    const recordKey = `${modelId}|${backend}`;
    // Without IndexedDB (some private modes) opening the store throws at once: then nothing is kept.
    const record: unknown = await (async () => get(recordKey, db()))().catch(() => null);
    const ok = valid(record, fingerprint, length);
    const stale = record !== undefined && record !== null && !ok ? [recordKey] : [];
    void (async () => delMany([...stale, modelId], db()))().catch(() => undefined);
    return new StoredEmbeddings(recordKey, fingerprint, length, ok ? record.entries : []);
  }

  /** The model's own (manifest.prompt_embeddings): looked up like stored ones, never written. */
  private shipped: ShippedEntry[] = [];

  /** Shipped embeddings by text; their token keys come with keyShipped once the tokenizer is read. */
  addShipped(entries: { text: string; data: Float32Array }[]): void {
    const fresh = entries.filter((e) => e.data.length === this.length && !this.shipped.some((s) => s.text === e.text));
    this.shipped.push(...fresh.map((e) => ({ key: null, ...e })));
  }

  keyShipped(keyOf: (text: string) => string): void {
    for (const e of this.shipped) e.key ??= keyOf(e.text);
  }

  has(key: string): boolean {
    return this.find(key, 'key') !== undefined;
  }

  /** Whether a prompt (clipped for the tokenizer) is kept under its exact text. */
  hasText(text: string): boolean {
    return this.find(text, 'text') !== undefined;
  }

  /** A copy of the stored (or shipped) embedding of these token ids, or null. */
  lookup(key: string): Float32Array | null {
    return this.find(key, 'key')?.data.slice() ?? null;
  }

  /** A copy of the stored (or shipped) embedding of this exact (clipped) prompt text, or null. */
  lookupText(text: string): Float32Array | null {
    return this.find(text, 'text')?.data.slice() ?? null;
  }

  private find(value: string, by: 'key' | 'text'): { data: Float32Array } | undefined {
    return this.entries.find((e) => e[by] === value) ?? this.shipped.find((e) => e[by] === value);
  }

  /** Keeps this embedding: the visit's first at once, later ones once typing pauses (a newer one takes its place). */
  remember(key: string, text: string, data: Float32Array): void {
    if (data.length !== this.length) return;
    this.pending = { key, text, data: data.slice() };
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), this.written ? WRITE_AFTER_MS : 0);
    this.written = true;
  }

  /** Forgets every kept embedding here too ("clear downloaded models" cleared the database). */
  forget(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
    this.entries = [];
  }

  /** Writes the pending embedding now (also used before the model is released). */
  async flush(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const p = this.pending;
    this.pending = null;
    if (!p) return;
    this.entries = [...this.entries.filter((e) => e.key !== p.key), p].slice(-KEEP);
    const record: StoredRecord = { fingerprint: this.fingerprint, entries: this.entries };
    await (async () => set(this.recordKey, record, db()))().catch(() => undefined);
  }
}

/** "Clear downloaded models" clears these too: they belong to the models' files. */
export async function clearStoredEmbeddings(): Promise<void> {
  await (async () => clear(db()))().catch(() => undefined); // nothing kept without IndexedDB
}
