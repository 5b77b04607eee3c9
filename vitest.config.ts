import { configDefaults, defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import { SKIP_VARIABLE } from './test/setup/rabbitmq-4.0-root.js';

/**
 * Every test/**\/*.test.ts file runs, so that only end-to-end files wait for a broker: the `unit` project
 * starts none, while test/e2e runs once per RabbitMQ version qtool is tested with, each project with a
 * broker of its version from its global setup (test/setup/global-setup.ts; tests read it, and its
 * version, with testBroker() from test/support/broker.ts):
 *  - e2e-3.10: Debian 12's rabbitmq-server, installed on the machine;
 *  - e2e-4.0: RabbitMQ 4.0 from a Debian 13 root run with chroot (.ci/rabbitmq-4.0-root builds it).
 * With AMQP_URL set, one project `e2e` runs against that broker instead.
 * `vitest run test/unit` starts no broker; `vitest run --project e2e-4.0 test/e2e/x.test.ts` one version.
 */
const E2E = 'test/e2e/**/*.test.ts';

const skip40 = process.env[SKIP_VARIABLE] === '1';
if (skip40 && process.env.CI !== undefined && process.env.CI !== '') {
  throw new Error(`${SKIP_VARIABLE}=1 is for local runs only: CI must test RabbitMQ 4.0 too.`);
}
if (skip40) console.warn(`[qtool tests] ${SKIP_VARIABLE}=1: the RabbitMQ 4.0 end-to-end tests are left out`);

function e2e(name: string, globalSetup: string, exclude: string[] = []): TestProjectInlineConfiguration {
  return {
    extends: true,
    test: {
      name,
      include: [E2E],
      exclude: [...configDefaults.exclude, ...exclude],
      globalSetup: [globalSetup],
    },
  };
}

const e2eProjects =
  process.env.AMQP_URL !== undefined && process.env.AMQP_URL !== ''
    ? [e2e('e2e', 'test/setup/broker-env.ts')]
    : [
        e2e('e2e-3.10', 'test/setup/broker-3.10.ts'),
        ...(skip40
          ? []
          : [
              // Not again on 4.0: `qtool broker` always runs the host's own rabbitmq-server, and
              // completion, help pages and the CLI's loader talk to no broker.
              e2e('e2e-4.0', 'test/setup/broker-4.0.ts', [
                'test/e2e/broker-command.test.ts',
                'test/e2e/completion.test.ts',
                'test/e2e/help-pages.test.ts',
                'test/e2e/cli-loader.test.ts',
              ]),
            ]),
      ];

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
      ...e2eProjects,
    ],
  },
});
