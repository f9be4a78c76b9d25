/**
 * Trusted Types: the CSP (security-headers.ts) sends `require-trusted-types-for 'script'`, so every
 * string that becomes script (innerHTML, a script's src, a Worker's or service worker's URL) must pass
 * a policy, and `trusted-types default` allows only this one. The app and ORT write no HTML and no
 * script text; they only start scripts by URL (our generator worker, ORT's WebAssembly threads, the
 * service worker). So the policy lets through script URLs of our own origin and nothing else: a
 * string of markup or a foreign script URL that reached a sink through some future bug throws.
 *
 * Installed once per global scope, first thing: in the page (main.ts) and in the generator worker,
 * whose own CSP header enforces the same rule on ORT's thread workers.
 */

/** The part of the Trusted Types API used here (TypeScript's DOM library does not declare it yet). */
interface TrustedTypePolicyFactoryLike {
  defaultPolicy: unknown;
  createPolicy(name: string, rules: { createScriptURL(url: string): string }): unknown;
}

/** The rule: an absolute or relative URL of `origin` (blob: URLs made by our own code included). */
export function ownScriptUrl(url: string, base: string): string {
  const parsed = new URL(url, base);
  if (parsed.origin !== new URL(base).origin) {
    throw new TypeError(`refused to start a script from ${parsed.origin}: only this site's own scripts may run`);
  }
  return parsed.href;
}

/** Creates the `default` policy where the browser supports Trusted Types; a no-op elsewhere. */
export function installTrustedTypesPolicy(
  scope: { trustedTypes?: TrustedTypePolicyFactoryLike; location: { href: string } } = globalThis as never,
): void {
  const factory = scope.trustedTypes;
  if (!factory || factory.defaultPolicy) return;
  factory.createPolicy('default', { createScriptURL: (url) => ownScriptUrl(url, scope.location.href) });
}
