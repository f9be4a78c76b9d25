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
