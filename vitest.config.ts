import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{protocol,device-drivers,agent,hub,test}/**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start real brokers and simulators on free loopback ports; two workers fit
    // the 2-core machines CI runs on.
    maxWorkers: 2,
    coverage: {
      provider: 'v8',
      // The rules every party verifies by, and the ledger that keeps them, are held to a high line.
      include: ['protocol/**/*.ts', 'hub/ledger/**/*.ts'],
      exclude: ['**/*.test.ts', 'protocol/index.ts', 'protocol/verify-cli.ts'],
      reporter: ['text-summary'],
      thresholds: { lines: 95, branches: 90, functions: 95, statements: 95 },
    },
  },
});
