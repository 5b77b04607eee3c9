/**
 * A three-node RabbitMQ cluster on this machine, of the project's version (test/support/nodes.ts):
 * each node with its own name, ports and folder, the 2nd and 3rd joined to the 1st. For tests of
 * what clients see when one node of a cluster goes away.
 */
import { randomBytes } from 'node:crypto';
import type { LocalNode } from '../../src/broker/local-node.js';
import { startTestNode } from './nodes.js';

/** One node of a test cluster. */
export interface ClusterNode {
  readonly nodeName: string;
  /** amqp://guest:guest@127.0.0.1:PORT of this node. */
  readonly url: string;
  readonly amqpPort: number;
  /** `rabbitmqctl -n NODE ...args` on this node. */
  ctl(args: string[]): Promise<string>;
  /** Stops this node's Erlang VM, keeping its data (its cluster membership with it). */
  stop(): Promise<void>;
  /** Starts the node again after stop(); it rejoins the cluster on its own. */
  start(): Promise<void>;
}

export interface TestCluster {
  /** The first node is the one the others joined. */
  readonly nodes: readonly [ClusterNode, ClusterNode, ClusterNode];
  /** Stops every node and removes their folders. */
  stop(): Promise<void>;
}

function clusterNode(node: LocalNode): ClusterNode {
  return {
    nodeName: node.nodeName,
    url: node.url,
    amqpPort: node.amqpPort,
    ctl: (args) => node.ctl(args),
    stop: () => node.stop({ keepData: true }),
    start: () => node.restart(),
  };
}

/**
 * Starts three nodes (at once) and clusters them: on the 2nd and 3rd `stop_app; join_cluster
 * FIRST; start_app`. About 20 s on two cores. Each node has a watchdog, so the cluster goes with
 * the test process even when stop() is never reached.
 */
export async function startCluster(options: { startTimeoutMs?: number } = {}): Promise<TestCluster> {
  const prefix = `qtool-cluster-${randomBytes(3).toString('hex')}`;
  const started = await Promise.allSettled(
    ['a', 'b', 'c'].map((letter) =>
      startTestNode({
        nodeName: `${prefix}-${letter}@localhost`,
        ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
      }),
    ),
  );
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stopAll = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  const failed = started.find((result) => result.status === 'rejected');
  if (failed !== undefined) {
    await stopAll();
    throw failed.reason;
  }
  const [first, second, third] = nodes as [LocalNode, LocalNode, LocalNode];
  try {
    for (const node of [second, third]) {
      await node.ctl(['stop_app']);
      await node.ctl(['join_cluster', first.nodeName]);
      await node.ctl(['start_app']);
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  return {
    nodes: [clusterNode(first), clusterNode(second), clusterNode(third)],
    stop: stopAll,
  };
}
