import type { ExploreRequest } from '../shared/types';
import { parseSeed } from './seed';

/**
 * Prompt, seed and explore point live in the URL fragment so a link restores them (a fragment is
 * never sent to a server):  #prompt=…&seed=…[&toseed=…&seedmix=0.25&toprompt=…&promptmix=0.5]
 */
export interface SharedState {
  prompt: string;
  /** null: the link has no seed, or one that breaks the seed rule (seed.ts; see `badSeed`) */
  seed: number | null;
  /** the link's seed text when it breaks the rule, so the page can say why it was not used */
  badSeed?: string;
  /** where between this image and another seed / prompt (only when the link has a valid one) */
  explore?: ExploreRequest;
}

export function readShared(hash: string): SharedState {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const seed = parseSeed(params.get('seed'));
  const bad = params.has('seed') && seed === null ? { badSeed: (params.get('seed') ?? '').slice(0, 40) } : {};
  const explore = readExplore(params);
  return { prompt: params.get('prompt') ?? '', seed, ...bad, ...(explore ? { explore } : {}) };
}

/** A position in thousandths from a link: anything that is not a number in [0, 1] is 0. */
function position(text: string | null): number {
  const v = Number(text);
  return text !== null && Number.isFinite(v) && v >= 0 && v <= 1 ? Math.round(v * 1000) / 1000 : 0;
}

function readExplore(params: URLSearchParams): ExploreRequest | undefined {
  const toSeed = parseSeed(params.get('toseed'));
  const seedMix = toSeed === null ? 0 : position(params.get('seedmix'));
  const promptMix = position(params.get('promptmix'));
  if (seedMix === 0 && promptMix === 0) return undefined;
  return { toSeed: toSeed ?? 0, seedMix, toPrompt: params.get('toprompt') ?? '', promptMix };
}

export function writeShared(state: { prompt: string; seed: number; explore?: ExploreRequest }): string {
  const params = new URLSearchParams({ prompt: state.prompt, seed: String(state.seed) });
  const x = state.explore;
  if (x) {
    if (x.seedMix > 0) {
      params.set('toseed', String(x.toSeed));
      params.set('seedmix', String(x.seedMix));
    }
    if (x.promptMix > 0) {
      params.set('toprompt', x.toPrompt);
      params.set('promptmix', String(x.promptMix));
    }
  }
  return `#${params.toString()}`;
}

/** This page's address opened on another model (`?model=`) at a link state: a kept image made with that model. */
export function linkWithModel(modelId: string, state: { prompt: string; seed: number; explore?: ExploreRequest }): string {
  const url = new URL(location.href);
  url.searchParams.set('model', modelId);
  url.hash = writeShared(state);
  return url.href;
}
