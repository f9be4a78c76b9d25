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
 * Where models may come from, besides our own origin.
 *
 * The app talks to its own origin only, until a person adds a model by URL ("Add a model", issue 6):
 * only then does the worker read a hub's listing and download from it. Every host it may reach is
 * named here and put into the Content-Security-Policy's connect-src at build time (vite.config.ts:
 * server headers and the page's meta tag; the service worker's headers), so widening it is a
 * deliberate, reviewed change, never something a page, a prompt or a typed URL can do. A URL on any
 * other host is refused before a request is made (HostNotAllowedError), rather than failing deep
 * in fetch with a CSP error.
 *
 * MODEL_HUBS: origins a person may add a model from (the hub API and its /resolve/ file URLs).
 */
export const MODEL_HUBS: readonly string[] = ['https://huggingface.co'];

/**
 * Where a hub's /resolve/ URLs redirect the file bytes (LFS and Xet storage, regional CDN edges).
 * CSP applies to every hop of a redirect, so these must be allowed too. Hugging Face moves them
 * (cdn-lfs.huggingface.co, cdn-lfs-us-1.hf.co, cas-bridge.xethub.hf.co, us.aws.cdn.hf.co, …), so
 * they are HF-owned domain suffixes rather than a host list that silently breaks downloads the
 * next time the CDN changes. No request goes there unless the hub itself redirects to it.
 */
export const MODEL_DOWNLOAD_HOSTS: readonly string[] = ['https://*.huggingface.co', 'https://*.hf.co'];

/** Every https source in connect-src besides 'self' (model hubs, then their download hosts). */
export const ALLOWED_MODEL_HOSTS: readonly string[] = [...MODEL_HUBS, ...MODEL_DOWNLOAD_HOSTS];

declare const __ONESTEP_LOOPBACK_MODELS__: boolean | undefined;

/**
 * Test builds only: plain-http model hosts on this machine (http://127.0.0.1:<port>,
 * http://localhost:<port>), for the e2e suite's local stand-in for the hub
 * (tests/e2e/lib/hub-server.mjs, random port). Set by building with ONESTEP_LOOPBACK_MODELS=1
 * (tests/e2e/run-e2e.mjs does); a normal build (`npm run build`, `npm run serve`) leaves it off,
 * so a shipped page's connect-src never names a local service, and such URLs are refused.
 * Loopback traffic never leaves the device, but a deployed page has no business reaching local
 * servers, and "no request leaves the origin" stays exactly true for what users get.
 */
export const LOOPBACK_MODEL_HOSTS: boolean = typeof __ONESTEP_LOOPBACK_MODELS__ === 'boolean' && __ONESTEP_LOOPBACK_MODELS__;

/** Model file chunk size in IndexedDB, and the step a cut-off download resumes from (4 MiB). */
export const DOWNLOAD_CHUNK_BYTES = 4 * 1024 * 1024;

/** A worker that crashes more often than this is left stopped (a crash loop helps nobody). */
export const WORKER_RESTART_LIMIT = { crashes: 3, withinMs: 60_000 };
