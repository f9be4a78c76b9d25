/**
 * The model's tokenizer, read on first need instead of during the load. A first image whose
 * prompt's embedding is stored or shipped under its exact text needs no token ids (nor the
 * encoder), so the tokenizer's file (0.47 MB for the default model) is read right after that
 * image. A failed read is tried again by the next caller (a cut download resumes then).
 */
import type { PromptTokenizer } from './tokenize';

export class LazyTokenizer {
  private value: PromptTokenizer | null = null;
  private reading: Promise<PromptTokenizer> | null = null;

  constructor(
    /** Known from the manifest before the file is read: prompts are clipped by it. */
    readonly maxLength: number,
    private read: (() => Promise<PromptTokenizer>) | null,
  ) {}

  /** The tokenizer if it has been read, else null (no read starts). */
  get ready(): PromptTokenizer | null {
    return this.value;
  }

  get(): Promise<PromptTokenizer> {
    if (this.value) return Promise.resolve(this.value);
    if (!this.reading) {
      const attempt = this.read!();
      this.reading = attempt;
      attempt.then(
        (t) => {
          this.value = t;
          this.read = null; // its closure holds the load's file reads
        },
        () => void (this.reading === attempt && (this.reading = null)),
      );
    }
    return this.reading;
  }
}
