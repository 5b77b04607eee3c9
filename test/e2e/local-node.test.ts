/**
 * Real throwaway RabbitMQ nodes, no mocks, of the project's version (in e2e-4.0 from the Debian 13
 * root, through chroot). Skipped where the project cannot start nodes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import * as amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BrokerStartError,
  isPortAnswering,
  type LocalNode,
  RabbitmqctlError,
} from '../../src/broker/local-node.js';
import { processesWithEnvironment } from '../../src/broker/processes.js';
import { uniqueName } from '../support/broker.js';
import { canStartTestNodes, nodeTmpDir, startTestNode } from '../support/nodes.js';

const haveRabbitmq = canStartTestNodes();

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(250);
  }
}

describe.skipIf(!haveRabbitmq)('a throwaway local RabbitMQ node', () => {
  let node: LocalNode;
  const progress: string[] = [];

  beforeAll(async () => {
    node = await startTestNode({
      management: true,
      onLog: (line) => progress.push(line),
    });
  });

  afterAll(async () => {
    await node?.stop();
  });

  it('listens for AMQP and the management API on its own ports, on 127.0.0.1', async () => {
    expect(node.nodeName).toMatch(/^qtool-[0-9a-f]+@localhost$/);
    expect(node.url).toBe(`amqp://guest:guest@127.0.0.1:${node.amqpPort}`);
    expect(node.managementPort).not.toBeNull();
    expect(node.managementPort).not.toBe(node.amqpPort);
    expect(await isPortAnswering('127.0.0.1', node.amqpPort)).toBe(true);
    expect(await isPortAnswering('127.0.0.1', node.managementPort ?? 0)).toBe(true);

    const response = await fetch(`http://127.0.0.1:${node.managementPort}/api/overview`, {
      headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { node: string }).node).toBe(node.nodeName);
    expect(progress.some((line) => line.includes(`starting RabbitMQ node ${node.nodeName}`))).toBe(true);
  });

  it('runs rabbitmqctl against this node, passing arguments through unchanged', async () => {
    expect(await node.ctl(['list_vhosts'])).toMatch(/^\/$/m);
    expect((await node.ctl(['eval', 'node().'])).trim()).toBe(`'${node.nodeName}'`);
    // $, backslashes, quotes and backquotes survive Debian's su wrapper.
    expect((await node.ctl(['eval', '[$a, "x\\"y", "`id`", "$HOME"].'])).trim()).toBe(
      '[97,"x\\"y","`id`","$HOME"]',
    );
    const failure = await node.ctl(['no_such_command']).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RabbitmqctlError);
    expect((failure as RabbitmqctlError).stderr + (failure as RabbitmqctlError).stdout).toMatch(
      /no_such_command/,
    );
  });

  it('keeps a durable queue and its persistent message across a real restart', async () => {
    const queue = uniqueName('durable');
    const before = await amqp.connect(node.url);
    try {
      const channel = await before.createConfirmChannel();
      await channel.assertQueue(queue, { durable: true });
      channel.sendToQueue(queue, Buffer.from('survivor'), { persistent: true });
      await channel.waitForConfirms();
    } finally {
      await before.close();
    }
    const pidBefore = (await node.ctl(['eval', 'os:getpid().'])).trim();

    await node.restart();

    expect((await node.ctl(['eval', 'os:getpid().'])).trim()).not.toBe(pidBefore);
    expect(await isPortAnswering('127.0.0.1', node.managementPort ?? 0)).toBe(true);
    const after = await amqp.connect(node.url);
    try {
      const channel = await after.createChannel();
      expect((await channel.checkQueue(queue)).messageCount).toBe(1);
      const message = await channel.get(queue, { noAck: true });
      expect(message === false ? null : message.content.toString()).toBe('survivor');
    } finally {
      await after.close();
    }
  });

  it('runs side by side with another node, whose watchdog stops it once its owner is gone, even after a stop and start', async () => {
    const owner: ChildProcess = spawn('sleep', ['600'], { stdio: 'ignore' });
    let other: LocalNode | undefined;
    try {
      other = await startTestNode({ watchdogOwnerPid: owner.pid ?? 0 });
      expect(other.nodeName).not.toBe(node.nodeName);
      expect(other.amqpPort).not.toBe(node.amqpPort);
      expect((await other.ctl(['eval', 'node().'])).trim()).toBe(`'${other.nodeName}'`);
      expect((await node.ctl(['eval', 'node().'])).trim()).toBe(`'${node.nodeName}'`);
      const connection = await amqp.connect(other.url);
      await connection.close();
      // stop() ends the watchdog with the node; started again, the node must be watched again.
      await other.stop({ keepData: true });
      await other.restart();

      owner.kill('SIGKILL');
      const { amqpPort, baseDir } = other;
      await until(
        async () => !(await isPortAnswering('127.0.0.1', amqpPort)),
        'the watchdog to stop the node',
      );
      await until(async () => !existsSync(baseDir), 'the watchdog to remove the data folder');
      // The first node is untouched.
      expect(await isPortAnswering('127.0.0.1', node.amqpPort)).toBe(true);
    } finally {
      owner.kill('SIGKILL');
      await other?.stop();
    }
    // Two starts, a stop and the watchdog at work: a minute or more on a busy machine.
  }, 150_000);

  it('stops: the port goes quiet, the Erlang VM is gone and the data folder is removed', async () => {
    const { amqpPort, baseDir } = node;
    const vmPid = Number((await node.ctl(['eval', 'list_to_integer(os:getpid()).'])).trim());
    expect(existsSync(join(baseDir, 'mnesia'))).toBe(true);

    await node.stop();

    expect(existsSync(baseDir)).toBe(false);
    expect(await isPortAnswering('127.0.0.1', amqpPort)).toBe(false);
    expect(() => process.kill(vmPid, 0)).toThrow();
  });
});

describe.skipIf(!haveRabbitmq)('a throwaway node that cannot start', () => {
  it('fails fast with BrokerStartError carrying the log, and removes its own folder', async () => {
    const startedAt = Date.now();
    const error = await startTestNode({
      extraConfig: { max_message_size: 'not-a-number' },
      startTimeoutMs: 60_000,
    }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(BrokerStartError);
    const message = (error as BrokerStartError).message;
    expect(message).toMatch(/did not come up/);
    expect(message).toMatch(/max_message_size/);
    expect(message).toMatch(/not-a-number/);
    expect((error as BrokerStartError).baseDir).toBeNull();
    expect(Date.now() - startedAt).toBeLessThan(60_000);
  });

  it('gives up at the deadline and leaves no process of the node behind', async () => {
    const nodeName = `qtool-deadline-${Date.now().toString(36)}@localhost`;
    const error = await startTestNode({ nodeName, startTimeoutMs: 1500 }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(BrokerStartError);
    expect((error as BrokerStartError).message).toMatch(/did not answer within 1\.5 s/);
    await delay(500);
    expect(await processesWithEnvironment(`RABBITMQ_NODENAME=${nodeName}`)).toEqual([]);
  });

  it('keeps a baseDir it was given, with the logs in it', async () => {
    const parent = await mkdtemp(join(nodeTmpDir(), 'qtool-broker-test-'));
    await chmod(parent, 0o755); // mkdtemp makes it 0700; as root, the node runs as `rabbitmq`
    const baseDir = join(parent, 'node');
    try {
      const error = await startTestNode({ baseDir, extraConfig: { 'no.such.setting': '1' } }).catch(
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(BrokerStartError);
      expect((error as BrokerStartError).message).toMatch(/no\.such\.setting/);
      expect((error as BrokerStartError).baseDir).toBe(baseDir);
      expect(await readdir(baseDir)).toContain('startup_log');
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('refuses a port that is already taken', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      await expect(startTestNode({ amqpPort: port })).rejects.toThrow(/already in use/);
    } finally {
      server.close();
    }
  });
});
