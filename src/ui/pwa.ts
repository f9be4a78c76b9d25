/**
 * Service worker registration and its two messages: "ready to work offline" (the app shell and
 * ORT's wasm are cached) and "update available — reload" (a new build is waiting; it takes over
 * only when the user says so, so a half-typed prompt is never lost to a surprise reload).
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

export function startOfflineSupport(view: PwaView): void {
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
