/**
 * The service worker: the app shell and ORT's wasm come from a Workbox precache, so the page loads
 * and runs offline; model weights are not here (they live in IndexedDB, read by the generator).
 *
 * It answers only for files in the precache and lets everything else (model downloads with their
 * Range requests) go to the network untouched. Every page and script it serves carries the security
 * headers, so an offline page stays cross-origin isolated and under the same CSP; ORT's wasm is
 * served exactly as cached, so V8 can reuse its compiled code (routing.ts keepsCachedResponse).
 */
/// <reference lib="webworker" />
import { cacheNames, clientsClaim } from 'workbox-core';
import { getCacheKeyForURL, matchPrecache, precache, type PrecacheEntry } from 'workbox-precaching';
import { ALLOWED_MODEL_HOSTS, LOOPBACK_MODEL_HOSTS } from '../../src/shared/config';
import { securityHeaders } from '../../src/shared/security-headers';
import { cachesToDelete } from './caches';
import { keepsCachedResponse, precachedUrlFor } from './routing';

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: (PrecacheEntry | string)[] };

const HEADERS = securityHeaders({ modelHosts: ALLOWED_MODEL_HOSTS, loopbackModels: LOOPBACK_MODEL_HOSTS });

// Install: fetch and store every precache entry (a new build's files, old ones untouched).
precache(self.__WB_MANIFEST);

// Activate: drop every cache that is not this version's precache (older app versions, older
// Workbox formats); Workbox itself removes stale entries inside the precache.
self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys().then((names) => Promise.all(cachesToDelete(names, cacheNames.precache).map((n) => caches.delete(n)))));
});
// The very first install takes control of open pages at once, so they work offline without a reload.
clientsClaim();

// "Update available — reload": the page asks the waiting worker to take over.
self.addEventListener('message', (event) => {
  if ((event.data as { type?: string } | null)?.type === 'SKIP_WAITING') void self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const url = precachedUrlFor(event.request, self.location.origin, self.registration.scope, getCacheKeyForURL);
  if (!url) return; // not ours: the network answers as if there were no service worker
  event.respondWith(
    matchPrecache(url).then((cached) => {
      if (!cached) return fetch(event.request);
      return keepsCachedResponse(url) ? cached : withHeaders(cached);
    }),
  );
});

function withHeaders(res: Response): Response {
  const headers = new Headers(res.headers);
  for (const [k, v] of Object.entries(HEADERS)) headers.set(k, v);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}
