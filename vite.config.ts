import { defineConfig, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import pkg from './package.json' with { type: 'json' };
import { ALLOWED_MODEL_HOSTS } from './src/shared/config.ts';
import { contentSecurityPolicy, securityHeaders } from './src/shared/security-headers.ts';

// Test builds only (tests/e2e/run-e2e.mjs sets it): loopback http model hosts for the e2e suite's
// local hub, in connect-src and in the app's URL check alike (src/shared/config.ts explains why a
// normal build leaves it off). The same value reaches the page, the workers and the service worker
// through `define`, and the servers' headers below.
const loopbackModels = process.env.ONESTEP_LOOPBACK_MODELS === '1';
const csp = { modelHosts: ALLOWED_MODEL_HOSTS, loopbackModels };

// Headers for both servers: COOP + COEP (cross-origin isolation gives ORT's WASM its threads) and
// the strict CSP (src/shared/security-headers.ts). Dev relaxes only what HMR needs.
const devHeaders = securityHeaders({ ...csp, dev: true });
const previewHeaders = securityHeaders(csp);

// A build's name, shown in the footer; the e2e update test builds twice with different names.
const buildId = process.env.ONESTEP_BUILD_ID ?? pkg.version;

/** The CSP as a <meta> tag in the built page, so a static host that sets no headers is covered too. */
function cspMeta(): Plugin {
  return {
    name: 'onestep-csp-meta',
    apply: 'build',
    transformIndexHtml() {
      return [
        {
          tag: 'meta',
          attrs: { 'http-equiv': 'Content-Security-Policy', content: contentSecurityPolicy({ ...csp, meta: true }) },
          injectTo: 'head-prepend',
        },
      ];
    },
  };
}

export default defineConfig({
  server: { headers: devHeaders },
  preview: { headers: previewHeaders },
  define: { __ONESTEP_BUILD__: JSON.stringify(buildId), __ONESTEP_LOOPBACK_MODELS__: JSON.stringify(loopbackModels) },
  worker: { format: 'es' },
  // ORT ships prebuilt .mjs/.wasm that esbuild must not rewrite.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: {
    target: 'es2022',
    // The ORT wasm (~28 MB) is an asset, not a chunk; silence the size warning for the JS only.
    chunkSizeWarningLimit: 1024,
  },
  plugins: [
    cspMeta(),
    VitePWA({
      // Our own service worker source (workers/service-worker/sw.ts): Workbox precaching, plus
      // the security headers on every response it serves. vite-plugin-pwa injects the manifest.
      strategies: 'injectManifest',
      srcDir: 'workers/service-worker',
      filename: 'sw.ts',
      // "Update available — reload" is the user's choice (src/ui/pwa.ts), never a surprise reload.
      registerType: 'prompt',
      injectRegister: false,
      includeManifestIcons: false, // already matched by globPatterns below
      injectManifest: {
        // The app shell, ORT's wasm, icons, and the small model JSON (index and manifests) that a
        // load reads first. Model weights and tokenizers are NOT here: they live in IndexedDB.
        globPatterns: ['**/*.{html,js,css,wasm,png}', 'models/index.json', 'models/*/manifest.json'],
        globIgnores: ['models/**/*.onnx', 'models/**/*.pack', 'models/**/tokenizer/**'],
        maximumFileSizeToCacheInBytes: 64 * 1024 * 1024,
      },
      manifest: {
        name: 'Onestep',
        short_name: 'Onestep',
        description: pkg.description,
        id: '/',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        background_color: '#fafaf7',
        theme_color: '#2f6feb',
        icons: [
          { src: 'icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: 'icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: 'icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
    }),
  ],
});
