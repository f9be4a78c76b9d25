/**
 * Service worker registration and its two messages: "ready to work offline" (the app shell and
 * ORT's wasm are cached) and "update available — reload" (a new build is waiting; it takes over
 * only when the user says so, so a half-typed prompt is never lost to a surprise reload).
 *
 * Registration waits for the first image (or a failed load, or START_AT_MOST_AFTER_MS): installing
 * the worker precaches the app shell and both of ORT's wasm builds (42 MB), and on a first visit
 * that competed with the model's download and the runtime's start for the network and the CPU.
 */
import { registerSW } from 'virtual:pwa-register';
import { markAppState } from './page-state';

export type PwaState = 'offline-ready' | 'update-available' | 'unsupported' | 'error';

export interface PwaView {
  show(state: PwaState, text: string, reload?: () => void): void;
}

/** The page's #app-state line: its text, its state attribute and a Reload button when one is offered. */
export function appStateView(line: HTMLElement, text: HTMLElement, reloadButton: HTMLButtonElement): PwaView {
  return {
    show(state, message, reload) {
      line.hidden = false;
      markAppState(line, state);
      text.textContent = message;
      reloadButton.hidden = !reload;
      reloadButton.onclick = reload ?? null;
    },
  };
}

/** The longest the registration waits for the first image (a very slow first visit still gets offline support). */
export const START_AT_MOST_AFTER_MS = 30_000;

export async function startOfflineSupport(view: PwaView, after: Promise<unknown>): Promise<void> {
  await Promise.race([after.catch(() => undefined), new Promise((r) => setTimeout(r, START_AT_MOST_AFTER_MS))]);
  if (!('serviceWorker' in navigator)) {
    view.show('unsupported', 'This browser cannot keep the app for offline use.');
    return;
  }
  const update = registerSW({
    immediate: true,
    onOfflineReady: () => view.show('offline-ready', 'Ready to work offline.'),
    onNeedRefresh: () => view.show('update-available', 'An update is available.', () => void update(true)),
    onRegisterError: (err: unknown) => view.show('error', `Offline support is off: ${(err as Error)?.message ?? err}`),
  });
}
