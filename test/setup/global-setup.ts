/**
 * Vitest global setup of the end-to-end projects: provides one RabbitMQ broker to every test file of
 * a project (read it with testBroker() from test/support/broker.ts). The thin files beside this one
 * pick what each project gets:
 *  - broker-3.10.ts (project e2e-3.10): a throwaway node from the host's rabbitmq-server (Debian 12: 3.10);
 *  - broker-4.0.ts (project e2e-4.0): a throwaway node from RabbitMQ 4.0 in a Debian 13 root (chroot),
 *    built by .ci/rabbitmq-4.0-root when missing;
 *  - broker-env.ts (project e2e, when AMQP_URL is set): that broker, whatever its version.
 * Either version falls back to a testcontainers RabbitMQ of that version when Docker answers, and
 * fails with instructions otherwise.
 */
import { execFile } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { findRabbitmqServer, type LocalNode, startLocalNode } from '../../src/broker/local-node.js';
import { brokerVersion } from '../support/amqp.js';
import type { BrokerCtl, TestBrokerInfo } from '../support/broker.js';
import { ensureRabbitmq40Root } from './rabbitmq-4.0-root.js';

declare module 'vitest' {
  export interface ProvidedContext {
    broker: TestBrokerInfo;
  }
}

/** The RabbitMQ release series an end-to-end project runs against. */
export type RabbitmqSeries = '3.10' | '4.0';

/** 16 MiB, RabbitMQ 4.x's default max_message_size, so "message too large" tests behave alike on 3.x. */
const MAX_MESSAGE_SIZE = String(16 * 1024 * 1024);

type Teardown = () => Promise<void>;

function dockerAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('docker', ['info'], { timeout: 15_000 }, (error) => resolve(error === null));
  });
}

function announcer(project: TestProject): (line: string) => void {
  return (line) => console.log(`[qtool tests ${project.name}] ${line}`);
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable AMQP_URL)';
  }
}

async function provide(
  project: TestProject,
  info: Omit<TestBrokerInfo, 'version'>,
  series: RabbitmqSeries | null,
): Promise<void> {
  const version = await brokerVersion(info.amqpUrl).catch((error: Error) => {
    throw new Error(`The test broker at ${redact(info.amqpUrl)} did not answer: ${error.message}`);
  });
  project.provide('broker', { ...info, version });
  if (series !== null && !version.startsWith(`${series}.`)) {
    announcer(project)(
      `warning: project ${project.name} runs against RabbitMQ ${version}, not ${series}.x: the broker found here is of another version`,
    );
  }
}

/** AMQP_URL from the environment (QTOOL_TEST_NODE may name a local node for rabbitmqctl). */
export async function provideEnvBroker(project: TestProject): Promise<Teardown> {
  const amqpUrl = process.env.AMQP_URL ?? '';
  const nodeName = process.env.QTOOL_TEST_NODE;
  const ctl: BrokerCtl = nodeName === undefined || nodeName === '' ? null : { kind: 'local', nodeName };
  await provide(
    project,
    { amqpUrl, ctl, source: 'env', ownNodes: findRabbitmqServer() === null ? null : { rootDir: null } },
    null,
  );
  announcer(project)(
    `broker: AMQP_URL ${redact(amqpUrl)} (${ctl === null ? 'no rabbitmqctl: set QTOOL_TEST_NODE for it' : `rabbitmqctl -n ${ctl.nodeName}`})`,
  );
  return async () => {};
}

/** A throwaway node of `series`: the host's rabbitmq-server for 3.10, the Debian 13 root's for 4.0. */
export async function provideBrokerOf(project: TestProject, series: RabbitmqSeries): Promise<Teardown> {
  const announce = announcer(project);
  let rootDir: string | null = null;
  let unavailable: Error | null = null;
  if (series === '4.0') {
    rootDir = await ensureRabbitmq40Root(announce).catch((error: Error) => {
      unavailable = error;
      return null;
    });
  } else if (findRabbitmqServer() === null) {
    unavailable = new Error(
      [
        'The RabbitMQ 3.10 tests (project e2e-3.10) start throwaway nodes from a local rabbitmq-server, and none was found',
        '(looked for on PATH, in /usr/sbin and /usr/lib/rabbitmq/bin). Install it: apt-get install -y rabbitmq-server',
        '(Debian 12 ships 3.10), or point the tests at a running broker: AMQP_URL=amqp://guest:guest@localhost:5672.',
      ].join('\n'),
    );
  }

  if (unavailable === null) {
    const startedAt = Date.now();
    const node: LocalNode = await startLocalNode({
      watchdogOwnerPid: process.pid,
      extraConfig: { max_message_size: MAX_MESSAGE_SIZE },
      ...(rootDir === null ? {} : { rootDir }),
    });
    try {
      await provide(
        project,
        {
          amqpUrl: node.url,
          ctl: { kind: 'local', nodeName: node.nodeName, ...(rootDir === null ? {} : { rootDir }) },
          source: 'local',
          ownNodes: { rootDir },
        },
        series,
      );
    } catch (error) {
      await node.stop();
      throw error;
    }
    announce(
      `broker: throwaway RabbitMQ ${series} node ${node.nodeName} at ${node.url} ` +
        `(started in ${((Date.now() - startedAt) / 1000).toFixed(1)} s, data in ${node.baseDir})`,
    );
    return () => node.stop();
  }

  if (await dockerAnswers()) {
    const image = `rabbitmq:${series}-management`;
    const { RabbitMQContainer } = await import('@testcontainers/rabbitmq');
    const container = await new RabbitMQContainer(image).withStartupTimeout(120_000).start();
    const amqpUrl = `amqp://guest:guest@${container.getHost()}:${container.getMappedPort(5672)}`;
    await provide(
      project,
      {
        amqpUrl,
        ctl: { kind: 'docker', containerId: container.getId() },
        source: 'docker',
        // Tests that start nodes of their own need a local install of this version, and there is none.
        ownNodes: null,
      },
      series,
    );
    announce(`broker: Docker container ${image} ${container.getId().slice(0, 12)} at ${amqpUrl}`);
    return async () => {
      await container.stop();
    };
  }

  throw new Error(
    `${(unavailable as Error).message}\n(With Docker running, a rabbitmq:${series}-management container would be used instead.)`,
  );
}
