/**
 * The seed box: the seed the image uses is the last value that kept the rule (seed.ts); a box
 * being edited or holding a bad value keeps it, and the hint beside the box says the rule.
 */
import { parseSeed, SEED_RULE } from './seed';

export class SeedBox {
  private lastGood = 0;

  constructor(
    private readonly input: HTMLInputElement,
    private readonly hint: HTMLElement,
  ) {}

  /** The seed in use: the box's last value that kept the rule. */
  get current(): number {
    return this.lastGood;
  }

  /** Reads the box; false (and the rule shown beside it) when it breaks the rule. */
  read(): boolean {
    const seed = parseSeed(this.input.value);
    this.hint.hidden = seed !== null;
    this.input.setAttribute('aria-invalid', String(seed === null));
    if (seed === null) this.hint.textContent = `The seed must be ${SEED_RULE}; the image keeps seed ${this.lastGood}.`;
    else this.lastGood = seed;
    return seed !== null;
  }

  set(seed: number): void {
    this.input.value = String(seed);
    this.read();
  }

  /** A shared link's seed broke the rule: say so (a random seed is used instead). */
  linkSeedRefused(bad: string): void {
    this.hint.hidden = false;
    this.hint.textContent = `The link's seed "${bad}" is not ${SEED_RULE}, so a random seed is used.`;
  }
}
