import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real-CLI contract tests are opt-in: npm run test:agents (test/agents/vitest.config.ts).
    exclude: ['test/agents/**', 'node_modules/**', 'dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Integration tests spawn agents and git; two cores, so keep parallelism modest.
    maxWorkers: 2,
  },
});
