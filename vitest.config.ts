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
  },
});
