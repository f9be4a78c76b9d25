import { parseSeed } from './seed';

/** Prompt and seed live in the URL fragment so a link restores them (fragment: never sent to a server). */
export interface SharedState {
  prompt: string;
  /** null: the link has no seed, or one that breaks the seed rule (seed.ts; see `badSeed`) */
  seed: number | null;
  /** the link's seed text when it breaks the rule, so the page can say why it was not used */
  badSeed?: string;
}

export function readShared(hash: string): SharedState {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const seed = parseSeed(params.get('seed'));
  const bad = params.has('seed') && seed === null ? { badSeed: (params.get('seed') ?? '').slice(0, 40) } : {};
  return { prompt: params.get('prompt') ?? '', seed, ...bad };
}

export function writeShared(state: { prompt: string; seed: number }): string {
  return `#${new URLSearchParams({ prompt: state.prompt, seed: String(state.seed) }).toString()}`;
}
