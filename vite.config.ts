import { defineConfig } from 'vite';

// Cross-origin isolation (COOP + COEP) gives the page SharedArrayBuffer, which multi-threaded
// WASM in onnxruntime-web needs. Both servers send it: dev for work, preview for the e2e tests.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  server: { headers: isolation },
  preview: { headers: isolation },
  worker: { format: 'es' },
  // ORT ships prebuilt .mjs/.wasm that esbuild must not rewrite.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: {
    target: 'es2022',
    // The ORT wasm (~28 MB) is an asset, not a chunk; silence the size warning for the JS only.
    chunkSizeWarningLimit: 1024,
  },
});
