import { defineConfig } from 'vitest/config';

// Unit tests cover the pure parts (no browser, no ORT); the browser is exercised by tests/e2e.
export default defineConfig({
  test: {
    include: ['tests/unit/**/*.test.ts'],
    environment: 'node',
  },
});
