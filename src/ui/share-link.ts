/** Prompt and seed live in the URL fragment so a link restores them (fragment: never sent to a server). */
export interface SharedState {
  prompt: string;
  seed: number | null;
}

export function readShared(hash: string): SharedState {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const seed = Number(params.get('seed'));
  return { prompt: params.get('prompt') ?? '', seed: params.has('seed') && Number.isInteger(seed) && seed >= 0 ? seed : null };
}

export function writeShared(state: { prompt: string; seed: number }): string {
  return `#${new URLSearchParams({ prompt: state.prompt, seed: String(state.seed) }).toString()}`;
}
