import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real processes and servers; keep the 2-core CI machine from thrashing.
    maxWorkers: 2,
    globalSetup: ['test/support/global-setup.ts'],
  },
});
