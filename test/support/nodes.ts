/**
 * Throwaway RabbitMQ nodes of a test's own, of the version its project runs against: from the
 * host's rabbitmq-server in e2e-3.10, from the Debian 13 root (chroot) in e2e-4.0. For tests that
 * disturb a broker (restart, alarms, config) and must leave the shared test broker alone.
 */
import { relative, resolve, sep } from 'node:path';
import { inject } from 'vitest';
import { type LocalNode, type LocalNodeOptions, startLocalNode } from '../../src/broker/local-node.js';

function ownNodes(): { rootDir: string | null } | null {
  return inject('broker').ownNodes;
}

/** Whether this project can start nodes of its own; use with describe.skipIf(!canStartTestNodes()). */
export function canStartTestNodes(): boolean {
  return ownNodes() !== null;
}

/** The system root the project's own nodes run in, or null for the host's install. */
export function testNodeRoot(): string | null {
  return ownNodes()?.rootDir ?? null;
}

/**
 * Starts a node of the project's version. Its watchdog stops it when this test process dies; stop()
 * ends it earlier (the test kills what it started, by its pid). Options as startLocalNode's.
 */
export function startTestNode(options: Omit<LocalNodeOptions, 'rootDir'> = {}): Promise<LocalNode> {
  const nodes = ownNodes();
  if (nodes === null) {
    throw new Error('This project cannot start RabbitMQ nodes of its own: skip with canStartTestNodes()');
  }
  return startLocalNode({
    watchdogOwnerPid: process.pid,
    ...options,
    ...(nodes.rootDir === null ? {} : { rootDir: nodes.rootDir }),
  });
}

/** A folder for files a node must read (certificates, a baseDir): inside the root the node sees. */
export function nodeTmpDir(): string {
  const rootDir = testNodeRoot();
  return rootDir === null ? '/tmp' : resolve(rootDir, 'tmp');
}

/** `path` (under nodeTmpDir()) as the node sees it: the path to write into its config. */
export function pathAsNodeSees(path: string): string {
  const rootDir = testNodeRoot();
  if (rootDir === null) return path;
  const inside = relative(rootDir, resolve(path));
  if (inside.startsWith('..')) throw new Error(`${path} is outside ${rootDir}, where the test nodes run`);
  return `/${inside.split(sep).join('/')}`;
}
