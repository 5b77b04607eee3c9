import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { deleteQueueIfExists, queueCounts } from '../amqp/queue.js';
import type { Session } from '../amqp/session.js';
import { findRabbitmqServer, isPortAnswering, type LocalNode, startLocalNode } from '../broker/local-node.js';
import { type ConnectionSettings, hostAndPort, maskedUrl, resolveConnection } from '../config/connection.js';
import { settingsEnvironment } from '../config/schema.js';
import { QtoolError } from '../errors.js';
import { type CommandIo, writeLine } from './io.js';
import { withSession } from './with-session.js';

const QTOOL_BIN = fileURLToPath(new URL('../../bin/qtool.js', import.meta.url));
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1']);
const DEMO_MESSAGES = ['hello', 'a', 'work queues', 'ok', 'fair dispatch', 'hi'];
/** How long the demo waits for the workers before giving up. */
const DEMO_DEADLINE_MS = 60_000;

/**
 * `qtool demo`: a sender and two workers on a fresh queue, in one terminal. When no broker
 * answers on localhost it starts a throwaway local node (the code the tests use) and stops it
 * afterwards, so a new user sees qtool work before setting anything up.
 */
export async function runDemo(requested: ConnectionSettings, io: CommandIo): Promise<number> {
  let node: LocalNode | null = null;
  let settings = requested;
  if (!(await isPortAnswering(requested.hostname, requested.port, 2000))) {
    if (!LOCAL_HOSTS.has(requested.hostname) || findRabbitmqServer() === null) {
      throw new QtoolError(`no RabbitMQ answers at ${hostAndPort(requested)}`, {
        hint: 'Start one with `docker compose up -d`, or install a local one (Debian: apt-get install rabbitmq-server) and run the demo again.',
      });
    }
    writeLine(
      io.stderr,
      `No broker answers at ${hostAndPort(requested)}: starting a throwaway local RabbitMQ node for this demo...`,
    );
    try {
      node = await startLocalNode({ watchdogOwnerPid: process.pid });
    } catch (error) {
      throw new QtoolError(`could not start a throwaway RabbitMQ node: ${(error as Error).message}`, {
        cause: error,
      });
    }
    writeLine(
      io.stderr,
      `Started ${node.nodeName} on port ${node.amqpPort} (data in ${node.baseDir}); it is stopped when the demo ends.`,
    );
    settings = resolveConnection({ url: node.url }, {}).settings;
  }
  const queue = `qtool-demo-${randomBytes(3).toString('hex')}`;
  try {
    return await runScenario({ ...settings, queue }, io);
  } finally {
    await withSession({ ...settings, queue }, 'demo', (session) =>
      deleteQueueIfExists(session.model, queue),
    ).catch(() => {});
    if (node !== null) {
      writeLine(io.stderr, `Stopping the throwaway node ${node.nodeName}...`);
      await node.stop();
    }
  }
}

async function runScenario(settings: ConnectionSettings, io: CommandIo): Promise<number> {
  const say = (text: string) => writeLine(io.stderr, `\n== ${text}`);
  say(
    `Two workers share queue '${settings.queue}' on ${maskedUrl(settings)} (acks, prefetch 1, 0.2 s per character)`,
  );
  const workers = ['alice', 'bob'].map((name) =>
    spawnQtool(
      ['qprocessor', '--name', name, '--acknowledge', '--prefetch', '1', '--delay-per-char', '0.2'],
      settings,
      io,
    ),
  );
  try {
    await withSession(settings, 'demo', async (session) => {
      await waitUntil(async () => (await consumersOf(session, settings)) === 2, 'both workers to start');
      say(`qtool send ${DEMO_MESSAGES.map((m) => JSON.stringify(m)).join(' ')}`);
      const sender = spawnQtool(['send', ...DEMO_MESSAGES], settings, io);
      const [code] = (await once(sender, 'exit')) as [number | null];
      if (code !== 0) throw new QtoolError('the demo sender failed; see its message above');
      await waitUntil(
        async () => (await queueCounts(session.model, settings.queue, settings)).messageCount === 0,
        'the queue to drain',
      );
    });
    say('Queue drained: Ctrl-C to the workers; each finishes the message in hand and prints its tally');
  } finally {
    await Promise.all(workers.map(stopGracefully));
  }
  say('Done. Next: the README walks through each section of the lab with these commands.');
  return 0;
}

async function consumersOf(session: Session, settings: ConnectionSettings): Promise<number | null> {
  try {
    return (await queueCounts(session.model, settings.queue, settings)).consumerCount;
  } catch {
    return null; // the workers have not declared it yet
  }
}

/**
 * Runs qtool as a child, sharing this terminal. Every setting (TLS and heartbeat included) travels
 * in the environment, derived from the one schema: the password is never in argv, and no profile
 * or inherited variable can steer the child elsewhere.
 */
function spawnQtool(args: string[], settings: ConnectionSettings, io: CommandIo): ChildProcess {
  return spawn(process.execPath, [QTOOL_BIN, ...args], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...io.env, ...settingsEnvironment(settings) },
  });
}

async function stopGracefully(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function waitUntil(probe: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + DEMO_DEADLINE_MS;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new QtoolError(`the demo gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
