import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Every test/**\/*.test.ts file runs, in one of two projects, so that only end-to-end files wait for a
 * broker: `vitest run test/unit` starts none, while any run that includes test/e2e gets one from
 * test/setup/global-setup.ts (read it with testBroker() from test/support/broker.ts).
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/support/plain-summary-reporter.ts'],
    pool: 'forks',
    // End-to-end files mostly wait on child processes and the broker, not the CPU: run several at once.
    maxWorkers: 4,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/e2e/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/setup/global-setup.ts'],
        },
      },
    ],
  },
});
