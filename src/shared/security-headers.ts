/**
 * The HTTP headers that keep the page isolated and locked down. One definition, used by the dev
 * and preview servers (vite.config.ts), the built index.html (a CSP meta tag) and the service
 * worker, which adds them to every response it serves, so offline pages are locked down too.
 *
 * - COOP + COEP make the page cross-origin isolated: SharedArrayBuffer, so ORT's WASM can use
 *   threads.
 * - The CSP allows scripts only from our own origin ('wasm-unsafe-eval' lets WebAssembly compile;
 *   it does not allow JS eval), no inline script, and network access (connect-src) only to our
 *   origin plus the model hosts in config.ts (and, in test builds only, loopback http for the e2e
 *   hub). Prompts therefore cannot leave the page even if some future bug rendered one as HTML.
 * - Trusted Types: no string becomes markup or script except a same-origin script URL
 *   (trusted-types.ts), so a prompt rendered as HTML by some future bug would throw, not parse.
 */

export interface CspOptions {
  /** Extra https origins allowed in connect-src (model hosts); `https://*.domain` covers its subdomains. */
  modelHosts: readonly string[];
  /** Test builds: http://127.0.0.1:* and http://localhost:* too (config.ts LOOPBACK_MODEL_HOSTS). */
  loopbackModels?: boolean;
  /** Vite's dev server: HMR needs a websocket and injects <style> tags. Never in a build. */
  dev?: boolean;
  /** For a <meta> tag: browsers ignore frame-ancestors there (and warn), so leave it out. */
  meta?: boolean;
}

/** The CSP sources for model hosts on this machine (test builds only). */
export const LOOPBACK_SOURCES = ['http://127.0.0.1:*', 'http://localhost:*'] as const;

/**
 * Only bare https origins may be allowed, or a subdomain wildcard of a registrable domain
 * (https://*.hf.co: at least two labels after the "*."). No path, no bare "*", no scheme-only
 * source: anything else is a typo or worse.
 */
export function checkModelHost(origin: string): string {
  const wildcard = origin.startsWith('https://*.');
  let url: URL;
  try {
    url = new URL(wildcard ? `https://x.${origin.slice('https://*.'.length)}` : origin);
  } catch {
    throw new Error(`model host "${origin}" is not a URL`);
  }
  const expected = wildcard ? `https://x.${origin.slice('https://*.'.length)}` : origin;
  if (url.protocol !== 'https:' || url.origin !== expected.replace(/\/$/, '')) {
    throw new Error(`model host "${origin}" must be a bare https origin such as https://models.example.org`);
  }
  if (wildcard && url.hostname.split('.').length < 3) throw new Error(`model host "${origin}" is too wide a wildcard`);
  return wildcard ? `https://*.${url.hostname.slice(2)}` : url.origin;
}

/** Does a URL's origin match one of the allowed host sources (exact origin or https://*.domain)? */
export function hostAllowed(url: URL, sources: readonly string[]): boolean {
  return sources.some((s) => {
    if (!s.startsWith('https://*.')) return url.origin === s;
    return url.protocol === 'https:' && !url.port && url.hostname.endsWith(`.${s.slice('https://*.'.length)}`);
  });
}

export function contentSecurityPolicy({ modelHosts, loopbackModels = false, dev = false, meta = false }: CspOptions): string {
  const hosts = [...modelHosts.map(checkModelHost), ...(loopbackModels ? LOOPBACK_SOURCES : [])];
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
    // Trusted Types (trusted-types.ts): strings reach script sinks only through our one policy.
    // Not in dev: Vite's error overlay writes innerHTML.
    ...(dev ? {} : { 'require-trusted-types-for': ["'script'"], 'trusted-types': ['default'] }),
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
