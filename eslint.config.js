// ESLint (flat config): JavaScript's and typescript-eslint's recommended rules for the app, its
// workers, the tests, the benchmarks and the scripts. `npm run lint` checks, `npm run fix` fixes
// what can be fixed and formats with Prettier; `npm test` fails on any lint error.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'training/', 'public/', 'dev-dist/', 'bench/tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.worker } },
    rules: {
      // `_`-prefixed names are deliberately unused (a parameter an interface requires).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Node-side code: the e2e runner and harness, the benchmarks, build scripts and configs.
    files: ['tests/e2e/**', 'bench/**', 'scripts/**', '*.config.{js,ts}', 'tests/run-*.mjs'],
    languageOptions: { globals: { ...globals.node } },
  },
);
