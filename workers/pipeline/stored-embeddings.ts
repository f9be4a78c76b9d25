/**
 * The last few prompts' text embeddings kept in IndexedDB, so the first image of a visit (the
 * prompt of the link, or the default one) needs no text encoder: its session (~0.4 s on 2 cores)
 * is made after that image instead of before it (runtime/lazy-session.ts).
 *
 * One record per model in the "onestep-embeddings" database, valid only for the text encoder file
 * (its sha256) and backend that computed it, so a stored embedding is exactly what the encoder
 * would give now. The visit's first prompt is written at once (it is the likeliest to open the
 * next visit, and a page may close right after its first image); later ones a moment after typing
 * pauses (the prompt someone stopped at, not every prefix typed on the way). It is a cache: a record that is unreadable, of another file or of the
 * wrong size is ignored and replaced, and a write that fails (quota) loses nothing but the speed-up.
 */
import { clear, createStore, del, get, set, type UseStore } from 'idb-keyval';

/** Prompts kept per model: the one on load is nearly always among the last few someone paused at. */
const KEEP = 6;
/** Typing pauses this long before the prompt's embedding is written. */
const WRITE_AFTER_MS = 1000;

interface StoredRecord {
  fingerprint: string;
  /** Oldest first; key = the prompt's token ids joined (prompt-caches.ts). */
  entries: { key: string; data: Float32Array }[];
}

let store: UseStore | null = null;
const db = () => (store ??= createStore('onestep-embeddings', 'embeddings'));

function valid(r: unknown, fingerprint: string, length: number): r is StoredRecord {
  if (!r || typeof r !== 'object') return false;
  const { fingerprint: f, entries } = r as Partial<StoredRecord>;
  return (
    f === fingerprint &&
    Array.isArray(entries) &&
    entries.every((e) => typeof e?.key === 'string' && e.data instanceof Float32Array && e.data.length === length)
  );
}

export class StoredEmbeddings {
  private entries: StoredRecord['entries'];
  private pending: { key: string; data: Float32Array } | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private written = false;

  private constructor(
    private readonly modelId: string,
    private readonly fingerprint: string,
    /** Values per embedding (tokens × width): anything else is not this encoder's output. */
    private readonly length: number,
    entries: StoredRecord['entries'],
  ) {
    this.entries = entries;
  }

  /** This model's stored embeddings; none when the record is missing, stale or unreadable. */
  static async open(modelId: string, fingerprint: string, length: number): Promise<StoredEmbeddings> {
    // Without IndexedDB (some private modes) opening the store throws at once: then nothing is kept.
    const record: unknown = await (async () => get(modelId, db()))().catch(() => null);
    if (record !== undefined && record !== null && !valid(record, fingerprint, length))
      await (async () => del(modelId, db()))().catch(() => undefined);
    return new StoredEmbeddings(modelId, fingerprint, length, valid(record, fingerprint, length) ? record.entries : []);
  }

  /** The model's own (manifest.prompt_embeddings): looked up like stored ones, never written. */
  private shipped: StoredRecord['entries'] = [];

  addShipped(entries: { key: string; data: Float32Array }[]): void {
    this.shipped = entries.filter((e) => e.data.length === this.length);
  }

  has(key: string): boolean {
    return this.entries.some((e) => e.key === key) || this.shipped.some((e) => e.key === key);
  }

  /** A copy of the stored (or shipped) embedding of these token ids, or null. */
  lookup(key: string): Float32Array | null {
    const hit = this.entries.find((e) => e.key === key) ?? this.shipped.find((e) => e.key === key);
    return hit?.data.slice() ?? null;
  }

  /** Keeps this embedding: the visit's first at once, later ones once typing pauses (a newer one takes its place). */
  remember(key: string, data: Float32Array): void {
    if (data.length !== this.length) return;
    this.pending = { key, data: data.slice() };
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
    await (async () => set(this.modelId, record, db()))().catch(() => undefined);
  }
}

/** "Clear downloaded models" clears these too: they belong to the models' files. */
export async function clearStoredEmbeddings(): Promise<void> {
  await (async () => clear(db()))().catch(() => undefined); // nothing kept without IndexedDB
}
