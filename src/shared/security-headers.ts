/**
 * The HTTP headers that keep the page isolated and locked down. One definition, used by the dev
 * and preview servers (vite.config.ts), the built index.html (a CSP meta tag) and the service
 * worker, which adds them to every response it serves, so offline pages are locked down too.
 *
 * - COOP + COEP make the page cross-origin isolated: SharedArrayBuffer, so ORT's WASM can use
 *   threads.
 * - The CSP allows scripts only from our own origin ('wasm-unsafe-eval' lets WebAssembly compile;
 *   it does not allow JS eval), no inline script, and network access (connect-src) only to our
 *   origin plus the model hosts in config.ts. Prompts therefore cannot leave the page even if some
 *   future bug rendered one as HTML.
 */

export interface CspOptions {
  /** Extra https origins allowed in connect-src (model hosts). */
  modelHosts: readonly string[];
  /** Vite's dev server: HMR needs a websocket and injects <style> tags. Never in a build. */
  dev?: boolean;
  /** For a <meta> tag: browsers ignore frame-ancestors there (and warn), so leave it out. */
  meta?: boolean;
}

/** Only plain https origins (no path, no wildcard) may be allowed: anything else is a typo or worse. */
export function checkModelHost(origin: string): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new Error(`model host "${origin}" is not a URL`);
  }
  if (url.protocol !== 'https:' || url.origin !== origin.replace(/\/$/, '')) {
    throw new Error(`model host "${origin}" must be a bare https origin such as https://models.example.org`);
  }
  return url.origin;
}

export function contentSecurityPolicy({ modelHosts, dev = false, meta = false }: CspOptions): string {
  const hosts = modelHosts.map(checkModelHost);
  const directives: Record<string, string[]> = {
    'default-src': ["'self'"],
    'script-src': ["'self'", "'wasm-unsafe-eval'"],
    'worker-src': ["'self'"],
    'connect-src': ["'self'", ...hosts, ...(dev ? ['ws:', 'wss:'] : [])],
    'img-src': ["'self'", 'data:', 'blob:'],
    'style-src': ["'self'", ...(dev ? ["'unsafe-inline'"] : [])],
    'font-src': ["'self'"],
    'manifest-src': ["'self'"],
    'object-src': ["'none'"],
    'base-uri': ["'none'"],
    'form-action': ["'none'"],
    ...(meta ? {} : { 'frame-ancestors': ["'none'"] }),
  };
  return Object.entries(directives)
    .map(([k, v]) => `${k} ${v.join(' ')}`)
    .join('; ');
}

export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** Every header the app's responses carry (servers and the service worker). */
export function securityHeaders(options: CspOptions): Record<string, string> {
  return {
    ...ISOLATION_HEADERS,
    'Content-Security-Policy': contentSecurityPolicy(options),
    // Nothing the page loads needs to know which page asked (and the URL fragment holds the prompt).
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };
}
