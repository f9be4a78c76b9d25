/**
 * Which caches an activating service worker deletes (pure, unit-tested): every cache of this
 * origin except the current precache. Nothing else of ours uses Cache Storage (models are in
 * IndexedDB), so anything else is an older version's leftover taking up the user's quota.
 */
export function cachesToDelete(names: readonly string[], keep: string): string[] {
  return names.filter((n) => n !== keep);
}
