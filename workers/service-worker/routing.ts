/**
 * Which precached file answers a request (pure, unit-tested). Only GETs to our own origin are
 * ours; a page navigation inside the scope is answered with the app shell (index.html, whatever
 * the query: ?backend=wasm, ?testhooks=1); any other URL only when that exact file is precached.
 * Everything else returns null and goes to the network untouched (model downloads, Range requests).
 */
export interface RequestLike {
  method: string;
  mode: string;
  url: string;
}

export function precachedUrlFor(request: RequestLike, origin: string, scope: string, isPrecached: (url: string) => unknown): string | null {
  if (request.method !== 'GET') return null;
  const url = new URL(request.url);
  if (url.origin !== origin || !url.href.startsWith(scope)) return null;
  const shell = new URL('index.html', scope).href;
  if (request.mode === 'navigate') {
    const path = url.pathname.slice(new URL(scope).pathname.length);
    if (path === '' || path === 'index.html') return isPrecached(shell) ? shell : null;
    return null;
  }
  const bare = `${url.origin}${url.pathname}`; // hashed file names: the query never picks a version
  return isPrecached(bare) ? bare : null;
}

/**
 * Whether the worker adds the security headers to a precached file's response. Pages and scripts
 * need them (a document's or a worker's CSP and COEP come from its own response). WebAssembly does
 * not, and is served exactly as cached: a Response rebuilt with new headers loses V8's compiled-code
 * cache, so each visit compiled ORT's 14 MB module again (measured: ~8 s of background compile on
 * 2 cores, and the first image of a return visit 4.2 s instead of 2.7 s).
 */
export function keepsCachedResponse(url: string): boolean {
  return new URL(url).pathname.endsWith('.wasm');
}
