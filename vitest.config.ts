import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // One test file at a time: many files start real servers, PostgreSQL, Redis or Prometheus and drive floods
    // whose admitted rates the quota tests assert. On a 2-core machine, files in parallel steal each other's CPU
    // and make those assertions depend on luck; serially the suite takes minutes, far inside CI's budget.
    fileParallelism: false,
    reporters: ['default', './test/support/closing-line-reporter.ts'],
  },
});
