/** The broker the global setup provides (test/setup/global-setup.ts), and helpers around it. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { rabbitmqctl, resolveRabbitmqToolsInRoot } from '../../src/broker/local-node.js';

/** How rabbitmqctl reaches the test broker, if it can; `rootDir` for a node run in another system root. */
export type BrokerCtl =
  | { kind: 'local'; nodeName: string; rootDir?: string }
  | { kind: 'docker'; containerId: string }
  | null;

/** What the global setup provides under the key `broker`. */
export interface TestBrokerInfo {
  amqpUrl: string;
  ctl: BrokerCtl;
  source: 'env' | 'local' | 'docker';
  /** The RabbitMQ version the broker reports, e.g. `3.10.8` or `4.0.5`. */
  version: string;
  /**
   * How tests start nodes of their own, of the same version (test/support/nodes.ts): `rootDir` null
   * for the host's rabbitmq-server, a system root for RabbitMQ 4.0; null when they cannot.
   */
  ownNodes: { rootDir: string | null } | null;
}

export interface TestBroker extends Omit<TestBrokerInfo, 'ctl'> {
  /** The major version, for the few places where RabbitMQ 3.x and 4.x truly differ. */
  major: number;
  /** How rabbitmqctl reaches the broker (the provided `ctl`), or null when it cannot. */
  ctlTarget: BrokerCtl;
  /** Whether ctl() can work; use with it.skipIf(!broker.hasCtl). */
  hasCtl: boolean;
  /** Runs rabbitmqctl against the test broker and resolves its stdout; rejects with its stderr. */
  ctl(args: string[]): Promise<string>;
}

/**
 * Closes, with rabbitmqctl's close_connection (as the broker itself would), every connection that
 * the qtool running as process `pid` has on the broker `ctl` reaches: qtool names its connections
 * `qtool <command> (pid N)`. Resolves how many it closed.
 */
export async function closeConnectionsOf(ctl: TestBroker['ctl'], pid: number | undefined): Promise<number> {
  if (pid === undefined) throw new Error('no pid: the process never started');
  const listing = await ctl([
    'list_connections',
    '--quiet',
    '--no-table-headers',
    'pid',
    'client_properties',
  ]);
  const connections = listing
    .split('\n')
    .filter((line) => new RegExp(`"qtool [^"]*\\(pid ${pid}\\)"`).test(line))
    .map((line) => line.split('\t')[0] ?? '');
  for (const connection of connections) await ctl(['close_connection', connection, 'test kill']);
  return connections.length;
}

function dockerRabbitmqctl(containerId: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'docker',
      ['exec', containerId, 'rabbitmqctl', ...args],
      { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) resolve(stdout);
        else
          reject(
            new Error(
              `docker exec ${containerId} rabbitmqctl ${args.join(' ')} failed: ${stderr || error.message}`,
            ),
          );
      },
    );
  });
}

/** Runs rabbitmqctl against whatever `ctl` describes. */
export function runCtl(ctl: BrokerCtl, args: string[]): Promise<string> {
  if (ctl === null) {
    return Promise.reject(
      new Error(
        `This test needs rabbitmqctl (it ran: rabbitmqctl ${args.join(' ')}), but the test broker came from AMQP_URL ` +
          'without QTOOL_TEST_NODE. Set QTOOL_TEST_NODE=rabbit@<host> for a local broker, or unset AMQP_URL ' +
          'so the tests start their own node.',
      ),
    );
  }
  if (ctl.kind === 'docker') return dockerRabbitmqctl(ctl.containerId, args);
  if (ctl.rootDir !== undefined) {
    return rabbitmqctl(ctl.nodeName, args, { tools: resolveRabbitmqToolsInRoot(ctl.rootDir) });
  }
  return rabbitmqctl(ctl.nodeName, args);
}

/** The test broker: its URL, version, where it came from, and rabbitmqctl access. */
export function testBroker(): TestBroker {
  const info = inject('broker');
  return {
    amqpUrl: info.amqpUrl,
    source: info.source,
    version: info.version,
    major: Number.parseInt(info.version, 10),
    ownNodes: info.ownNodes,
    ctlTarget: info.ctl,
    hasCtl: info.ctl !== null,
    ctl: (args) => runCtl(info.ctl, args),
  };
}

/** A name no other test (or test run) uses: the prefix and a random suffix, e.g. `orders-1a2b3c4d5e6f`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}
