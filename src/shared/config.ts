/** App settings in one place (both threads import this; data only). */

/** Model folder under the site root (Vite's `public/models/`). */
export const MODELS_PATH = 'models/';

/** Used when index.json marks no default. */
export const FALLBACK_MODEL_ID = 'onestep-emoji';

/** Images in the variations grid (one batch, seeds seed … seed + n − 1). */
export const VARIATION_COUNT = 4;

/** The most images one generate() call may ask for (memory bound on phones). */
export const MAX_BATCH = 8;

/**
 * Pause after a keystroke before generating. 0: start at once. The coalescer already keeps at
 * most one waiting request, so a pause only delays the image: the benchmark (bench/) measured the
 * former 60 ms as pure added keystroke-to-pixels latency.
 */
export const TYPE_DEBOUNCE_MS = 0;

/**
 * Origins (https only) that remote models may be downloaded from. Empty: the app talks to its own
 * origin only. Every origin listed here is added to the Content-Security-Policy's connect-src at
 * build time (vite.config.ts, the service worker), so adding a model host is a deliberate,
 * reviewed change, never something a page or a prompt can do.
 */
export const ALLOWED_MODEL_HOSTS: readonly string[] = [];

/** Model file chunk size in IndexedDB, and the step a cut-off download resumes from (4 MiB). */
export const DOWNLOAD_CHUNK_BYTES = 4 * 1024 * 1024;

/** A worker that crashes more often than this is left stopped (a crash loop helps nobody). */
export const WORKER_RESTART_LIMIT = { crashes: 3, withinMs: 60_000 };
