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
