/**
 * An ORT session made on first use instead of during the load. The text encoder's is one: on a
 * return visit the first image's prompt embedding is usually stored (pipeline/stored-embeddings.ts),
 * so the UNet and decoder sessions alone stand between opening the page and the first image, and
 * the encoder's session is made right after it, before the next keystroke needs it.
 */
import type * as ort from 'onnxruntime-web';
import { ModelNotLoadedError } from '../../src/shared/errors';

export class LazySession {
  private made: Promise<ort.InferenceSession> | null = null;
  private released = false;

  /** Dropped once the session exists: its closure holds the load's file reads and sessions list. */
  private create: (() => Promise<ort.InferenceSession>) | null;

  constructor(create: () => Promise<ort.InferenceSession>) {
    this.create = create;
  }

  /** The session, made now if it was not yet (a failed attempt is tried again on the next call). */
  get(): Promise<ort.InferenceSession> {
    if (this.released) return Promise.reject(new ModelNotLoadedError('the model was released'));
    if (!this.made) {
      const attempt = this.create!();
      this.made = attempt;
      attempt.then(
        () => void (this.made === attempt && (this.create = null)),
        () => void (this.made === attempt && (this.made = null)),
      );
    }
    return this.made;
  }

  /** Whether creating it has begun (the load made it, or something asked for it). */
  get started(): boolean {
    return this.made !== null;
  }

  /** Frees the session once it exists (also one still being made); later get() calls refuse. */
  async release(): Promise<void> {
    this.released = true;
    this.create = null;
    const made = this.made;
    this.made = null;
    const session = await made?.catch(() => null);
    await session?.release().catch(() => undefined);
  }
}
