import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // The Dockerfile's build (npm ci, a native build) runs on its own after the rest
    // (scripts/test.sh), not beside timing-sensitive suites.
    exclude: process.env.PM_MCP_DEPLOY_TESTS === '1' ? [] : ['tests/deploy/**'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more workers only add contention to the database- and network-bound suites.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
