/**
 * Vitest global setup: provides one RabbitMQ broker to every test file, the first of
 *  1. AMQP_URL from the environment (QTOOL_TEST_NODE may name a local node for rabbitmqctl);
 *  2. a throwaway local node, when rabbitmq-server is installed;
 *  3. a testcontainers RabbitMQ 4 container, when Docker answers;
 * and fails with instructions otherwise. Tests read it with testBroker() from test/support/broker.ts.
 */
import { execFile } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { findRabbitmqServer, type LocalNode, startLocalNode } from '../../src/broker/local-node.js';
import type { TestBrokerInfo } from '../support/broker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    broker: TestBrokerInfo;
  }
}

/** 16 MiB, RabbitMQ 4.x's default max_message_size, so "message too large" tests behave alike on 3.x. */
const MAX_MESSAGE_SIZE = String(16 * 1024 * 1024);
const DOCKER_IMAGE = 'rabbitmq:4-management';

function dockerAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('docker', ['info'], { timeout: 15_000 }, (error) => resolve(error === null));
  });
}

function announce(line: string): void {
  console.log(`[qtool tests] ${line}`);
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

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const envUrl = process.env.AMQP_URL;
  if (envUrl !== undefined && envUrl !== '') {
    const nodeName = process.env.QTOOL_TEST_NODE;
    const ctl = nodeName === undefined || nodeName === '' ? null : { kind: 'local' as const, nodeName };
    project.provide('broker', { amqpUrl: envUrl, ctl, source: 'env' });
    announce(
      `broker: AMQP_URL ${redact(envUrl)} (${ctl === null ? 'no rabbitmqctl: set QTOOL_TEST_NODE for it' : `rabbitmqctl -n ${ctl.nodeName}`})`,
    );
    return async () => {};
  }

  if (findRabbitmqServer() !== null) {
    const startedAt = Date.now();
    const node: LocalNode = await startLocalNode({
      watchdogOwnerPid: process.pid,
      extraConfig: { max_message_size: MAX_MESSAGE_SIZE },
    });
    project.provide('broker', {
      amqpUrl: node.url,
      ctl: { kind: 'local', nodeName: node.nodeName },
      source: 'local',
    });
    announce(
      `broker: throwaway local node ${node.nodeName} at ${node.url} ` +
        `(started in ${((Date.now() - startedAt) / 1000).toFixed(1)} s, data in ${node.baseDir})`,
    );
    return () => node.stop();
  }

  if (await dockerAnswers()) {
    const { RabbitMQContainer } = await import('@testcontainers/rabbitmq');
    const container = await new RabbitMQContainer(DOCKER_IMAGE).withStartupTimeout(120_000).start();
    const amqpUrl = `amqp://guest:guest@${container.getHost()}:${container.getMappedPort(5672)}`;
    project.provide('broker', {
      amqpUrl,
      ctl: { kind: 'docker', containerId: container.getId() },
      source: 'docker',
    });
    announce(`broker: Docker container ${DOCKER_IMAGE} ${container.getId().slice(0, 12)} at ${amqpUrl}`);
    return async () => {
      await container.stop();
    };
  }

  throw new Error(
    [
      'The end-to-end tests need a RabbitMQ broker, and none was found. Any one of these works:',
      '  - install RabbitMQ so a throwaway node can be started: apt-get install -y rabbitmq-server',
      '    (rabbitmq-server is looked for on PATH, in /usr/sbin and /usr/lib/rabbitmq/bin);',
      '  - point the tests at a running broker: AMQP_URL=amqp://guest:guest@localhost:5672',
      '    (and QTOOL_TEST_NODE=rabbit@<host> to let tests use rabbitmqctl on it);',
      '  - start Docker, so a rabbitmq:4-management container can be used (`docker info` must succeed).',
    ].join('\n'),
  );
}
