/** The one place the UI thread creates the generator worker; it imports only the worker's type. */
import type { GeneratorApi } from '../../workers/generator.worker';

export type { GeneratorApi };

export function createGeneratorWorker(): Worker {
  return new Worker(new URL('../../workers/generator.worker.ts', import.meta.url), { type: 'module', name: 'generator' });
}
