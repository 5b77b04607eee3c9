import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readBrokerState } from '../../src/broker/broker-state.js';
import { attachLocalNode, findRabbitmqServer, isPortAnswering } from '../../src/broker/local-node.js';
import { processesWithEnvironment, signalProcess, waitForPidExit } from '../../src/broker/processes.js';
import { eventually } from '../support/amqp.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { type RunningCli, runCli, startCli } from '../support/cli.js';
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

  describe('an interrupted start', () => {
    // Each test has a state folder of its own, so one that fails leaves nothing for the next.
    let dir: string;
    let interruptedEnv: Record<string, string>;
    let statePath: string;
    let port: number;
    let managementPort: number;
    const baseDirs: string[] = [];

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'qtool-broker-interrupted-'));
      interruptedEnv = { QTOOL_STATE_DIR: dir };
      statePath = join(dir, 'broker.json');
      port = await closedPort();
      managementPort = await closedPort();
    });

    const clis: RunningCli[] = [];

    afterEach(async () => {
      // Whatever a failed test left, and only that: its qtool processes, the nodes they started.
      for (const cli of clis.splice(0)) cli.signal('SIGKILL');
      const recorded = await readBrokerState(statePath).catch(() => null);
      if (recorded?.kind === 'local') baseDirs.push(recorded.baseDir);
      for (const baseDir of baseDirs.splice(0)) await removeLeftovers(baseDir);
      await rm(dir, { recursive: true, force: true });
    }, 60_000);

    const startBroker = (args: string[]) => {
      const cli = startCli(['broker', 'start', ...args], { env: interruptedEnv });
      clis.push(cli);
      return cli;
    };
    const start = () => startBroker(['--port', String(port), '--management-port', String(managementPort)]);

    /** Waits for the "starting RabbitMQ node" line and returns that node's name and folder. */
    async function booting(cli: RunningCli): Promise<{ nodeName: string; baseDir: string }> {
      const line = await cli.waitFor(/starting RabbitMQ node \S+ on port .*\(data in [^)]+\)\.\.\./, {
        stream: 'stderr',
        timeoutMs: 30_000,
      });
      const [, nodeName, baseDir] = /node (\S+) .*\(data in ([^)]+)\)/.exec(line) as unknown as [
        string,
        string,
        string,
      ];
      baseDirs.push(baseDir);
      return { nodeName, baseDir };
    }

    const nodeProcesses = (baseDir: string) =>
      processesWithEnvironment(`RABBITMQ_PID_FILE=${join(baseDir, 'rabbitmq.pid')}`);

    it.each([
      { signal: 'SIGINT' as const, when: 'as soon as it says it is starting' },
      { signal: 'SIGTERM' as const, when: 'once the Erlang VM runs' },
    ])(
      '$signal $when stops the half-started node and removes its folder',
      async ({ signal, when }) => {
        const cli = start();
        const { nodeName, baseDir } = await booting(cli);
        // Recorded before rabbitmq-server ran, so even a SIGKILL now would leave something to stop.
        const record = await readBrokerState(statePath);
        expect(record).toMatchObject({ kind: 'local', status: 'starting', nodeName, baseDir });
        if (when === 'once the Erlang VM runs') {
          await eventually(
            () => existsSync(join(baseDir, 'rabbitmq.pid')),
            'the VM to write its pid file',
            30_000,
          );
        }

        cli.signal(signal);
        const result = await cli.finished(60_000);
        expect(result.exitCode, result.stderr).toBe(130);
        expect(result.stderr).toContain(
          `interrupted: stopped the half-started node ${nodeName} and removed its data (${baseDir}).\n`,
        );
        expect(await nodeProcesses(baseDir)).toEqual([]);
        expect(existsSync(baseDir)).toBe(false);
        expect(existsSync(statePath)).toBe(false);
        expect(await isPortAnswering('127.0.0.1', port, 1000)).toBe(false);
        expect(result.stderr).not.toMatch(/\n\s+at /);
      },
      120_000,
    );

    it('killed outright, it leaves a record that `broker stop` acts on', async () => {
      const cli = start();
      const { nodeName, baseDir } = await booting(cli);
      cli.signal('SIGKILL');
      await cli.finished(10_000).catch(() => {});

      const status = await runCli(['broker', 'status'], { env: interruptedEnv });
      expect(status.exitCode).toBe(1);
      expect(status.stdout).toContain(
        `RabbitMQ node ${nodeName} did not finish starting: its \`qtool broker start\` was interrupted.`,
      );
      const restart = await runCli(['broker', 'restart'], { env: interruptedEnv });
      expect(restart.exitCode).toBe(1);
      expect(restart.stderr).toContain('did not finish starting, so there is nothing to restart');

      const stop = await runCli(['broker', 'stop'], { env: interruptedEnv, timeoutMs: 90_000 });
      expect(stop.exitCode, stop.stderr).toBe(0);
      expect(stop.stdout).toMatch(
        new RegExp(
          `(Stopped the|The) half-started RabbitMQ node ${nodeName} \\(its start was interrupted\\)`,
        ),
      );
      expect(await nodeProcesses(baseDir)).toEqual([]);
      expect(existsSync(baseDir)).toBe(false);
      expect(existsSync(statePath)).toBe(false);
    }, 120_000);

    it('a second start clears what a killed one left, and refuses while the first still runs', async () => {
      const first = start();
      const { baseDir } = await booting(first);

      // The first is still starting: a second must not touch its node.
      const meanwhile = await runCli(['broker', 'start', '--port', String(await closedPort())], {
        env: interruptedEnv,
      });
      expect(meanwhile.exitCode).toBe(1);
      expect(meanwhile.stderr).toContain(
        `another \`qtool broker start\` (pid ${first.process.pid}) is starting a broker on port ${port}`,
      );

      first.signal('SIGKILL');
      await first.finished(10_000).catch(() => {});
      // Its own management port too: the default, 15672, would be taken from under status.test's
      // check that nothing answers there, which runs beside this file.
      const second = startBroker(['--port', String(port), '--management-port', String(managementPort)]);
      const fresh = await booting(second);
      const result = await second.finished(120_000);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toContain(
        `An earlier \`qtool broker start\` was interrupted: stopped what it left (RabbitMQ node qtool-broker-${port}@localhost) and removed its data.`,
      );
      expect(result.stdout).toContain(`Started RabbitMQ node qtool-broker-${port}@localhost`);
      expect(fresh.baseDir).not.toBe(baseDir);
      expect(await nodeProcesses(baseDir)).toEqual([]);
      expect(existsSync(baseDir)).toBe(false);
      expect(await readBrokerState(statePath)).toMatchObject({ status: 'running', baseDir: fresh.baseDir });

      const stop = await runCli(['broker', 'stop'], { env: interruptedEnv, timeoutMs: 90_000 });
      expect(stop.exitCode, stop.stderr).toBe(0);
      expect(await nodeProcesses(fresh.baseDir)).toEqual([]);
      expect(existsSync(fresh.baseDir)).toBe(false);
    }, 240_000);
  });
});

/**
 * Ends what a start in these tests may have left: the processes of that node (found by the
 * pid-file path unique to it, as `broker stop` finds them) and its folder.
 */
async function removeLeftovers(baseDir: string): Promise<void> {
  for (let round = 0; round < 5; round += 1) {
    const pids = await processesWithEnvironment(`RABBITMQ_PID_FILE=${join(baseDir, 'rabbitmq.pid')}`);
    if (pids.length === 0) break;
    for (const pid of pids) signalProcess(pid, 'SIGKILL');
    await Promise.all(pids.map((pid) => waitForPidExit(pid, 5_000)));
  }
  await rm(baseDir, { recursive: true, force: true });
}
