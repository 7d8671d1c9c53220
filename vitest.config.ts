import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real-CLI contract tests are opt-in: npm run test:agents (test/agents/vitest.config.ts).
    exclude: ['test/agents/**', 'node_modules/**', 'dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // A throwaway PostgreSQL for the cluster tests (test/pg), started once for the whole run.
    globalSetup: ['test/pg/global-setup.ts'],
    pool: 'forks',
    // Integration tests spawn agents and git; two cores, so keep parallelism modest.
    maxWorkers: 2,
  },
});
