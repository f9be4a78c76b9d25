/**
 * Requests the page's Content-Security-Policy blocked, as the browser reports them to this worker.
 * A model host that redirects a download to a host outside connect-src fails in fetch() with a
 * bare "Failed to fetch"; the violation report says where it was sent, so the person is told why.
 */
let last: { uri: string; at: number } | null = null;

if (typeof self !== 'undefined' && typeof self.addEventListener === 'function') {
  self.addEventListener('securitypolicyviolation', (e) => {
    const v = e as SecurityPolicyViolationEvent;
    if (v.effectiveDirective === 'connect-src') last = { uri: v.blockedURI, at: performance.now() };
  });
}

/** The URL the policy blocked at or after `since` (performance.now()), if any. */
export function blockedSince(since: number): string | null {
  return last && last.at >= since ? last.uri : null;
}
