import * as Comlink from 'comlink';
import type { Progress } from '../shared/types';

/**
 * A progress callback for one load that goes quiet once the load has settled. When one file of a
 * load fails, the worker lets the others finish downloading and storing (so the next try only
 * fetches what is missing); their progress must not overwrite the error (or the ready line).
 */
export function loadProgress(fn: (p: Progress) => void): { callback: (p: Progress) => void; end(): void } {
  let open = true;
  return {
    callback: Comlink.proxy((p: Progress) => {
      if (open) fn(p);
    }),
    end: () => void (open = false),
  };
}
