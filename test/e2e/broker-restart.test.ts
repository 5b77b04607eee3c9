import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRabbitmqServer, type LocalNode, startLocalNode } from '../../src/broker/local-node.js';
import { drain, queueState, withChannel } from '../support/amqp.js';
import { uniqueName } from '../support/broker.js';
import { runCli, startCli } from '../support/cli.js';

/**
 * Tests that restart or stop the broker, or shorten its consumer timeout, get a node of their
 * own so the shared test broker is never disturbed. They run in order: the node is stopped last.
 */
const canStartNode = findRabbitmqServer() !== null;

describe.skipIf(!canStartNode).sequential('on a broker of its own', () => {
  let node: LocalNode;
  let env: Record<string, string>;

  beforeAll(async () => {
    node = await startLocalNode({
      watchdogOwnerPid: process.pid,
      // Short enough to see the consumer timeout within a test; RabbitMQ 3.10 checks it once a minute.
      extraConfig: { consumer_timeout: '2000' },
    });
    env = { AMQP_URL: node.url };
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
  }, 120_000);

  it('a worker whose work outlasts consumer_timeout is told why the broker closed its channel', async () => {
    const queue = uniqueName('ctimeout');
    await runCli(['send', '--queue', queue, 'abc'], { env });
    const worker = startCli(['qprocessor', '--queue', queue, '--acknowledge', '--delay-per-char', '100'], {
      env,
    });
    const result = await worker.finished(150_000);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/not acknowledged within its consumer timeout/);
    expect(result.stderr).toMatch(/goes back to the queue/);
    expect((await queueState(node.url, queue))?.messageCount).toBe(1);
  }, 180_000);

  it('keeps persistent messages in a durable queue across a restart, and only those', async () => {
    const durable = uniqueName('durable');
    const transientQueue = uniqueName('transient-queue');
    expect((await runCli(['send', '--queue', durable, '--persistent', 'p1', 'p2'], { env })).exitCode).toBe(
      0,
    );
    expect((await runCli(['send', '--queue', durable, 'not-persistent'], { env })).exitCode).toBe(0);
    const nonDurable = await runCli(
      ['send', '--queue', transientQueue, '--no-durable', '--persistent', 'x'],
      { env },
    );
    expect(nonDurable.exitCode, nonDurable.stderr).toBe(0);

    await node.restart();

    expect(await drain(node.url, durable)).toEqual(['p1', 'p2']);
    expect(await queueState(node.url, transientQueue)).toBeNull();
  }, 180_000);

  it('tells connected clients plainly that the broker is shutting down', async () => {
    const queue = uniqueName('shutdown');
    const worker = startCli(['qprocessor', '--queue', queue, '--acknowledge', '--delay-per-char', '0'], {
      env,
    });
    await worker.waitFor(/waiting for messages/, { stream: 'stderr' });
    const receiver = startCli(['receive', '--queue', queue], { env });
    await receiver.waitFor(/Waiting for messages/, { stream: 'stderr' });
    await withChannel(node.url, async (channel) => channel.checkQueue(queue));

    await node.stop();

    for (const client of [worker, receiver]) {
      const result = await client.finished(30_000);
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(/shutting down|connection .* (closed|reset|lost)/);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  }, 120_000);
});
