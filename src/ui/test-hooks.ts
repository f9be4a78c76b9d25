/**
 * Hooks for the end-to-end tests, installed only when the page URL carries ?testhooks=1. They
 * drive the same paths a user does (the typing scheduler, the canvas); nothing here is reachable
 * from a prompt or a shared link (the link lives in the fragment, the flag in the query).
 */
export interface TestHooks {
  /** Generates `prompt` with `seed` through the typing path and resolves once it is painted. */
  paint(prompt: string, seed: number): Promise<{ ms: number; generation: number; state: string }>;
  /**
   * Asks the worker for a 2-step teacher image naming `modelId` as the model it is for; resolves
   * to 'ok' or the error's name (a model other than the loaded one must be refused).
   */
  teacherFor(modelId: string): Promise<string>;
  /** The loaded model's id. */
  modelId(): string | undefined;
  /** Makes the worker throw an uncaught error (the supervisor must replace it). */
  crashWorker(): Promise<void>;
  /** Terminates the worker from outside (the supervisor must notice and replace it). */
  killWorker(): void;
  restarts(): number;
}

export function installTestHooks(hooks: TestHooks): void {
  if (new URLSearchParams(location.search).get('testhooks') !== '1') return;
  (window as unknown as { __onestep: TestHooks }).__onestep = hooks;
}
