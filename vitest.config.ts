import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    globalSetup: ['./test/support/global-setup.ts'],
    setupFiles: ['./test/support/quiet-runtime.ts', './test/support/fixed-clock.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Two cores: real servers (Temporal, DuckDB, bt subprocesses) contend, so keep files in two forks.
    maxWorkers: 2,
  },
});
