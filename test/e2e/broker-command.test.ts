import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBrokerState } from '../../src/broker/broker-state.js';
import { attachLocalNode, findRabbitmqServer, isPortAnswering } from '../../src/broker/local-node.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { runCli } from '../support/cli.js';
import { closedPort } from '../support/ports.js';

/**
 * `qtool broker start|restart|status|stop` for real: a node of its own on free ports, the state file
 * in a folder of this test (QTOOL_STATE_DIR), and the test broker as "someone else's broker" that
 * qtool must leave alone.
 */
const canStartNode = findRabbitmqServer() !== null;
const broker = testBroker();

describe.skipIf(!canStartNode)('qtool broker', () => {
  let stateDir: string;
  let env: Record<string, string>;
  let amqpPort: number;
  let managementPort: number;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'qtool-broker-state-'));
    env = { QTOOL_STATE_DIR: stateDir };
    amqpPort = await closedPort();
    managementPort = await closedPort();
  });

  afterAll(async () => {
    // Whatever a failed test left running: stop it through its state file, as `broker stop` would.
    const state = await readBrokerState(join(stateDir, 'broker.json')).catch(() => null);
    if (state?.kind === 'local') await attachLocalNode(state).stop();
    await rm(stateDir, { recursive: true, force: true });
  }, 120_000);

  const broker$ = (args: string[], timeoutMs = 30_000) => runCli(['broker', ...args], { env, timeoutMs });
  const qtool = (queue: string, args: string[]) =>
    runCli([...args, '--port', String(amqpPort), '--queue', queue], { env });

  it('says nothing was started before start, and stop then touches nothing', async () => {
    const status = await broker$(['status']);
    expect(status.exitCode).toBe(1);
    expect(status.stdout).toContain('qtool has not started a broker');

    const stop = await broker$(['stop']);
    expect(stop.exitCode).toBe(1);
    expect(stop.stderr).toContain('It only stops a broker it started');
    // The test broker, which qtool did not start, still answers.
    const { port } = new URL(broker.amqpUrl);
    expect(await isPortAnswering('127.0.0.1', Number(port || 5672), 2000)).toBe(true);
  });

  it('starts nothing where a broker already answers, and says so', async () => {
    const { port } = new URL(broker.amqpUrl);
    const result = await broker$(['start', '--port', port || '5672']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(`A broker already answers on 127.0.0.1:${port || '5672'}`);
    expect(result.stdout).toContain('qtool started nothing');
    expect(existsSync(join(stateDir, 'broker.json'))).toBe(false);
    // And stop still refuses: that broker is not qtool's.
    expect((await broker$(['stop'])).exitCode).toBe(1);
  });

  it('starts a node with the management plugin, restarts it keeping durable data, and stops only it', async () => {
    const start = await broker$(
      ['start', '--port', String(amqpPort), '--management-port', String(managementPort)],
      120_000,
    );
    expect(start.exitCode, start.stderr).toBe(0);
    expect(start.stdout).toMatch(/Started RabbitMQ node qtool-broker-\d+@localhost/);
    expect(start.stdout).toContain(`amqp://guest@localhost:${amqpPort}/%2F`);
    expect(start.stdout).toContain(`http://localhost:${managementPort}/`);
    const state = await readBrokerState(join(stateDir, 'broker.json'));
    if (state?.kind !== 'local') throw new Error(`expected a local node in the state file, got ${state}`);
    expect(start.stdout).toContain(`data:        ${state.baseDir}`);
    expect(existsSync(state.baseDir)).toBe(true);
    expect(`${start.stdout}${start.stderr}`).not.toContain('guest:guest');

    // It is a real broker, with the management API on.
    const status = await broker$(['status']);
    expect(status.exitCode, status.stdout).toBe(0);
    expect(status.stdout).toContain('is running');
    const queues = await fetch(`http://127.0.0.1:${managementPort}/api/queues`, {
      headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
    });
    expect(queues.status).toBe(200);
    // status finds that management port (not 15672) through the record, without --management-url.
    const found = await runCli(['status', '--port', String(amqpPort), '--json'], { env });
    expect(found.exitCode, found.stderr).toBe(0);
    expect(JSON.parse(found.stdout)).toMatchObject({ source: 'management' });
    expect(found.stderr).toContain(`management API at http://localhost:${managementPort}`);

    // A second start on the same port starts nothing; on another port it is refused.
    const again = await broker$(['start', '--port', String(amqpPort)]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain(`qtool's broker already runs on port ${amqpPort}; nothing started.`);
    const other = await broker$(['start', '--port', String(await closedPort())]);
    expect(other.exitCode).toBe(1);
    expect(other.stderr).toContain(`qtool already started a broker on port ${amqpPort}`);

    // restart: the lab's durability section on this node.
    const queue = uniqueName('broker-durable');
    expect((await qtool(queue, ['send', '--persistent', 'keep-me'])).exitCode).toBe(0);
    expect((await qtool(queue, ['send', 'forget-me'])).exitCode).toBe(0);
    const restart = await broker$(['restart'], 120_000);
    expect(restart.exitCode, restart.stderr).toBe(0);
    expect(restart.stdout).toContain('Restarted the broker qtool started');
    const after = await qtool(queue, ['receive', '--idle-timeout', '1']);
    expect(after.exitCode, after.stderr).toBe(0);
    expect(after.stdout).toBe('keep-me\n');

    // stop: the node is gone, its data removed, the record cleared; the test broker still answers.
    const stop = await broker$(['stop'], 120_000);
    expect(stop.exitCode, stop.stderr).toBe(0);
    expect(stop.stdout).toContain(`Stopped RabbitMQ node ${state.nodeName} and removed its data`);
    expect(await isPortAnswering('127.0.0.1', amqpPort, 1000)).toBe(false);
    expect(existsSync(state.baseDir)).toBe(false);
    expect(existsSync(join(stateDir, 'broker.json'))).toBe(false);
    const { port } = new URL(broker.amqpUrl);
    expect(await isPortAnswering('127.0.0.1', Number(port || 5672), 2000)).toBe(true);

    const gone = await broker$(['status']);
    expect(gone.exitCode).toBe(1);
  }, 300_000);

  it('refuses a port held by something that is not a broker', async () => {
    const server = createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as { port: number };
      const result = await broker$(['start', '--port', String(port)]);
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toContain(
        `port ${port} on 127.0.0.1 is taken by something that is not an AMQP broker`,
      );
      expect(result.stderr).not.toMatch(/\n\s+at /);
    } finally {
      server.close();
    }
  });

  it('reads a state file it cannot understand as a plain error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qtool-broker-bad-'));
    try {
      await writeFile(join(dir, 'broker.json'), '{"kind":"x"}');
      const result = await runCli(['broker', 'status'], { env: { QTOOL_STATE_DIR: dir } });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toContain(`cannot read ${join(dir, 'broker.json')}`);
      expect(await readFile(join(dir, 'broker.json'), 'utf8')).toBe('{"kind":"x"}');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
