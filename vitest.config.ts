import { defineConfig } from 'vitest/config';

// CORDON_TEST_BACKENDS=pglite,postgres chooses the backends every storage test runs on (default pglite).
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The children that run sources through tsx (the crash worker, the lock contenders) keep no
    // compile cache in the temp directory: a test run leaves nothing behind there.
    env: { TSX_DISABLE_CACHE: '1' },
  },
});
