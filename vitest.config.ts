import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests spawn real MCP servers and talk to real databases; two cores cannot take many at once.
    maxWorkers: 2,
    pool: 'forks',
  },
});
