import { defineConfig } from 'vitest/config';

// `npm run test:agents`: the real Claude Code and Codex CLIs against the scripted local API.
export default defineConfig({
  test: {
    include: ['test/agents/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One daemon environment at a time: the scenarios set the CLIs' environment in process.env.
    maxWorkers: 1,
    fileParallelism: false,
  },
});
