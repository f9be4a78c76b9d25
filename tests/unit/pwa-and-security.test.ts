import { describe, expect, it } from 'vitest';
import { ALLOWED_MODEL_HOSTS, LOOPBACK_MODEL_HOSTS, MODEL_HUBS } from '../../src/shared/config';
import { checkModelHost, contentSecurityPolicy, hostAllowed, securityHeaders } from '../../src/shared/security-headers';
import { installTrustedTypesPolicy, ownScriptUrl } from '../../src/shared/trusted-types';
import { shouldRestart } from '../../src/ui/restart-policy';
import { cachesToDelete } from '../../workers/service-worker/caches';
import { keepsCachedResponse, precachedUrlFor } from '../../workers/service-worker/routing';
import { singleFlight } from '../../workers/model-store/share';

describe('Content-Security-Policy', () => {
  const csp = contentSecurityPolicy({ modelHosts: [] });
  const directive = (name: string) => csp.split('; ').find((d) => d.startsWith(`${name} `));

  it('allows scripts only from our origin, WebAssembly compilation, and no inline script', () => {
    expect(directive('script-src')).toBe("script-src 'self' 'wasm-unsafe-eval'");
    expect(csp).not.toContain("'unsafe-inline'");
    expect(csp).not.toContain("'unsafe-eval'");
    expect(directive('object-src')).toBe("object-src 'none'");
  });

  it('limits connections to our origin plus explicitly allowed https model hosts', () => {
    expect(directive('connect-src')).toBe("connect-src 'self'");
    const withHost = contentSecurityPolicy({ modelHosts: ['https://models.example.org'] });
    expect(withHost).toContain("connect-src 'self' https://models.example.org");
    expect(() => checkModelHost('http://models.example.org')).toThrow(/https/);
    expect(() => checkModelHost('https://models.example.org/path')).toThrow();
    expect(() => checkModelHost('*')).toThrow();
  });

  it('allows the model hubs and their download hosts (wildcards of HF-owned domains), loopback only in test builds', () => {
    expect(MODEL_HUBS).toEqual(['https://huggingface.co']);
    expect(LOOPBACK_MODEL_HOSTS).toBe(false); // unit tests run without the e2e build flag
    const app = contentSecurityPolicy({ modelHosts: ALLOWED_MODEL_HOSTS });
    expect(app).toContain("connect-src 'self' https://huggingface.co https://*.huggingface.co https://*.hf.co;");
    expect(app).not.toContain('http://');
    expect(contentSecurityPolicy({ modelHosts: ALLOWED_MODEL_HOSTS, loopbackModels: true })).toContain(
      'https://*.hf.co http://127.0.0.1:* http://localhost:*;',
    );
    expect(checkModelHost('https://*.hf.co')).toBe('https://*.hf.co');
    expect(() => checkModelHost('https://*.co')).toThrow(/wide/);
    expect(() => checkModelHost('http://*.hf.co')).toThrow();
    // The hosts resolve/ redirects to (LFS, Xet bridge, CDN edges), and nothing else.
    for (const u of [
      'https://huggingface.co/a',
      'https://cdn-lfs.huggingface.co/x',
      'https://cdn-lfs-us-1.hf.co/x',
      'https://cas-bridge.xethub.hf.co/x',
      'https://us.aws.cdn.hf.co/x',
    ]) {
      expect(hostAllowed(new URL(u), ALLOWED_MODEL_HOSTS)).toBe(true);
    }
    for (const u of ['http://huggingface.co/a', 'https://hf.co.evil.example/x', 'https://evilhf.co/x', 'https://example.org/x']) {
      expect(hostAllowed(new URL(u), ALLOWED_MODEL_HOSTS)).toBe(false);
    }
  });

  it('leaves frame-ancestors out of the meta form, and relaxes only HMR needs in dev', () => {
    expect(contentSecurityPolicy({ modelHosts: [], meta: true })).not.toContain('frame-ancestors');
    expect(csp).toContain("frame-ancestors 'none'");
    const dev = contentSecurityPolicy({ modelHosts: [], dev: true });
    expect(dev).toContain('ws:');
    expect(dev).toContain("style-src 'self' 'unsafe-inline'");
    expect(dev).toContain("script-src 'self' 'wasm-unsafe-eval'");
  });

  it('requires Trusted Types with one default policy, except in dev (Vite overlay)', () => {
    expect(directive('require-trusted-types-for')).toBe("require-trusted-types-for 'script'");
    expect(directive('trusted-types')).toBe('trusted-types default');
    expect(contentSecurityPolicy({ modelHosts: [], dev: true })).not.toContain('trusted-types');
  });

  it('says the same in the header and the meta tag, directive by directive (frame-ancestors is header-only)', () => {
    const parse = (p: string) => new Map(p.split('; ').map((d) => [d.split(' ')[0], d] as const));
    const options = { modelHosts: ALLOWED_MODEL_HOSTS, loopbackModels: true };
    const header = parse(contentSecurityPolicy(options));
    const meta = parse(contentSecurityPolicy({ ...options, meta: true }));
    expect([...header.keys()].filter((k) => !meta.has(k))).toEqual(['frame-ancestors']);
    for (const [name, d] of meta) expect(header.get(name)).toBe(d);
  });

  it('sends cross-origin isolation with every response', () => {
    const h = securityHeaders({ modelHosts: [] });
    expect(h['Cross-Origin-Opener-Policy']).toBe('same-origin');
    expect(h['Cross-Origin-Embedder-Policy']).toBe('require-corp');
  });
});

describe('service worker routing', () => {
  const scope = 'https://app.test/';
  const precached = new Set(['https://app.test/index.html', 'https://app.test/assets/a.js', 'https://app.test/models/index.json']);
  const route = (url: string, mode = 'no-cors', method = 'GET') =>
    precachedUrlFor({ url, mode, method }, 'https://app.test', scope, (u) => precached.has(u));

  it('answers navigations to the app with the shell, whatever the query', () => {
    expect(route('https://app.test/', 'navigate')).toBe('https://app.test/index.html');
    expect(route('https://app.test/?backend=wasm#prompt=x', 'navigate')).toBe('https://app.test/index.html');
    expect(route('https://app.test/index.html', 'navigate')).toBe('https://app.test/index.html');
    expect(route('https://app.test/other', 'navigate')).toBeNull();
  });

  it('answers precached files and leaves everything else to the network', () => {
    expect(route('https://app.test/assets/a.js')).toBe('https://app.test/assets/a.js');
    expect(route('https://app.test/models/index.json', 'cors')).toBe('https://app.test/models/index.json');
    expect(route('https://app.test/models/m/unet/model.onnx', 'cors')).toBeNull(); // weights: IndexedDB, not the SW
    expect(route('https://elsewhere.test/assets/a.js')).toBeNull();
    expect(route('https://app.test/assets/a.js', 'no-cors', 'POST')).toBeNull();
  });

  it('serves wasm exactly as cached (V8 code cache) and pages and scripts with the security headers', () => {
    expect(keepsCachedResponse('https://app.test/assets/ort-wasm-simd-threaded-abc.wasm')).toBe(true);
    expect(keepsCachedResponse('https://app.test/assets/generator.worker-abc.js')).toBe(false);
    expect(keepsCachedResponse('https://app.test/index.html')).toBe(false);
    expect(keepsCachedResponse('https://app.test/assets/x.js?v=.wasm')).toBe(false);
  });

  it('deletes every cache but the current precache on activate', () => {
    expect(cachesToDelete(['workbox-precache-v2-x', 'onestep-old', 'workbox-precache-x'], 'workbox-precache-v2-x')).toEqual([
      'onestep-old',
      'workbox-precache-x',
    ]);
  });
});

describe('worker restarts and shared downloads', () => {
  it('restarts a crashed worker unless it crashed too often lately', () => {
    const limit = { crashes: 3, withinMs: 60_000 };
    expect(shouldRestart([], 100_000, limit)).toBe(true);
    expect(shouldRestart([50_000, 60_000], 100_000, limit)).toBe(true);
    expect(shouldRestart([50_000, 60_000, 70_000], 100_000, limit)).toBe(false);
    expect(shouldRestart([1_000, 2_000, 3_000], 100_000, limit)).toBe(true); // old crashes are forgiven
  });

  it('concurrent loads of one key share one job', async () => {
    const flight = singleFlight<number>();
    let runs = 0;
    const job = () => new Promise<number>((r) => setTimeout(() => r(++runs), 10));
    const [a, b] = await Promise.all([flight('unet', job), flight('unet', job)]);
    expect([a, b, runs]).toEqual([1, 1, 1]);
    expect(await flight('unet', job)).toBe(2); // finished jobs are not cached
  });
});

describe('Trusted Types policy', () => {
  const base = 'https://app.example/onestep/index.html';

  it('lets through script URLs of our own origin and refuses every other', () => {
    expect(ownScriptUrl('assets/worker.js', base)).toBe('https://app.example/onestep/assets/worker.js');
    expect(ownScriptUrl('https://app.example/sw.js', base)).toBe('https://app.example/sw.js');
    expect(ownScriptUrl('blob:https://app.example/1234', base)).toBe('blob:https://app.example/1234');
    for (const bad of [
      'https://evil.example/x.js',
      '//evil.example/x.js',
      'blob:https://evil.example/1',
      'data:text/javascript,1',
      'javascript:alert(1)',
    ]) {
      expect(() => ownScriptUrl(bad, base)).toThrow(/only this site's own scripts/);
    }
  });

  it('creates the default policy once, and does nothing where the browser has no Trusted Types', () => {
    const made: string[] = [];
    const factory = {
      defaultPolicy: null as unknown,
      createPolicy(name: string, rules: { createScriptURL(url: string): string }) {
        made.push(name);
        factory.defaultPolicy = rules;
        return rules;
      },
    };
    installTrustedTypesPolicy({ trustedTypes: factory, location: { href: base } });
    installTrustedTypesPolicy({ trustedTypes: factory, location: { href: base } });
    expect(made).toEqual(['default']);
    expect((factory.defaultPolicy as { createScriptURL(u: string): string }).createScriptURL('a.js')).toBe(
      'https://app.example/onestep/a.js',
    );
    expect(() => installTrustedTypesPolicy({ location: { href: base } })).not.toThrow();
  });
});
