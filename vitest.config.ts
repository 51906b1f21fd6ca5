import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    globalSetup: ['./test/support/global-setup.ts'],
    setupFiles: ['./test/support/quiet-runtime.ts', './test/support/fixed-clock.ts'],
    // End-to-end tests run the real CLI, servers, bt and evals; on 2 cores beside the other fork (and the 60-date
    // diagnosis test) one run of the example can take well over a minute.
    testTimeout: 300_000,
    hookTimeout: 180_000,
    // Two cores: real servers (Temporal, DuckDB, bt subprocesses) contend, so keep files in two forks.
    maxWorkers: 2,
  },
});
