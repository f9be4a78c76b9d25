/** The one place the UI thread creates the generator worker; it imports only the worker's type. */
import * as Comlink from 'comlink';
import type { GeneratorApi } from '../../workers/generator.worker';

export type { GeneratorApi };

export function startGenerator(): Comlink.Remote<GeneratorApi> {
  const worker = new Worker(new URL('../../workers/generator.worker.ts', import.meta.url), { type: 'module', name: 'generator' });
  return Comlink.wrap<GeneratorApi>(worker);
}
