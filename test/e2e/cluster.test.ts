/**
 * The three-node cluster support (test/support/cluster.ts) does what cluster tests rely on: the
 * nodes really form one cluster, and a quorum queue on it survives losing any one node. Plain
 * amqplib, no qtool: this checks the support, not qtool.
 */
import * as amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/amqp.js';
import { uniqueName } from '../support/broker.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { canStartTestNodes } from '../support/nodes.js';

async function publishPersistent(url: string, queue: string, bodies: string[]): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    for (const body of bodies) channel.sendToQueue(queue, Buffer.from(body), { persistent: true });
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }
}

/** The ready count as one node reports it, or null while it cannot tell (no quorum, no leader yet). */
async function readyCount(url: string, queue: string): Promise<number | null> {
  let connection: amqp.ChannelModel | undefined;
  try {
    connection = await amqp.connect(url);
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    return (await channel.checkQueue(queue)).messageCount;
  } catch {
    return null;
  } finally {
    await connection?.close().catch(() => {});
  }
}

async function takeAll(url: string, queue: string): Promise<string[]> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    const bodies: string[] = [];
    for (;;) {
      const message = await channel.get(queue, { noAck: true });
      if (message === false) return bodies;
      bodies.push(message.content.toString());
    }
  } finally {
    await connection.close();
  }
}

describe.skipIf(!canStartTestNodes()).sequential('a three-node cluster of the test version', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startCluster();
  }, 240_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 120_000);

  it('is one cluster of three running nodes', async () => {
    const [first, second, third] = cluster.nodes;
    const status = await third.ctl(['cluster_status', '--formatter', 'json']);
    const running = (JSON.parse(status) as { running_nodes: string[] }).running_nodes;
    expect([...running].sort()).toEqual([first.nodeName, second.nodeName, third.nodeName].sort());
  });

  it('keeps the messages of a quorum queue while any one node is stopped', async () => {
    const queue = uniqueName('quorum');
    const bodies = ['one', 'two', 'three', 'four', 'five'];
    await publishPersistent(cluster.nodes[0].url, queue, bodies);

    // Each node in turn, the first (where the queue was declared) last; all but the last come back
    // before the next one goes, so two of three are always up.
    for (const [index, stopped] of [...cluster.nodes].reverse().entries()) {
      await stopped.stop();
      const other = stopped === cluster.nodes[0] ? cluster.nodes[1] : cluster.nodes[0];
      await eventually(
        async () => (await readyCount(other.url, queue)) === bodies.length,
        `${bodies.length} messages in ${queue} on ${other.nodeName} while ${stopped.nodeName} is down`,
        30_000,
      );
      if (index < 2) await stopped.start();
    }

    // With the first node still down, the messages are all there, once and in order.
    expect(await takeAll(cluster.nodes[1].url, queue)).toEqual(bodies);
  }, 240_000);
});
