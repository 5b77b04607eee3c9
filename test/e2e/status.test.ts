import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { isPortAnswering } from '../../src/broker/local-node.js';
import { pickFreePorts } from '../../src/broker/ports.js';
import { eventually, withChannel } from '../support/amqp.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { childEnv, interruptTwice, jsonLines, QTOOL_BIN, runCli, startCli } from '../support/cli.js';

/**
 * status and watch on the shared test broker, whose management plugin is off: the AMQP-only path.
 * The management path has its own node in status-management.test.ts.
 */
const broker = testBroker();
const env = { AMQP_URL: broker.amqpUrl };
const brokerHost = new URL(broker.amqpUrl).hostname;
// A free port where nothing listens, so the management API certainly does not answer.
const [closedPort] = await pickFreePorts(1);
const NO_MANAGEMENT_URL = `http://127.0.0.1:${closedPort}`;
const NO_MANAGEMENT = ['--management-url', NO_MANAGEMENT_URL];

/** `rabbitmqctl list_queues name messages_ready consumers` for one queue, as numbers. */
async function ctlFigures(queue: string): Promise<{ ready: number; consumers: number } | null> {
  const out = await broker.ctl([
    'list_queues',
    '-q',
    '--no-table-headers',
    'name',
    'messages_ready',
    'consumers',
  ]);
  for (const line of out.split('\n')) {
    const [name, ready, consumers] = line.trim().split(/\s+/);
    if (name === queue) return { ready: Number(ready), consumers: Number(consumers) };
  }
  return null;
}

describe('qtool status over AMQP alone', () => {
  it('shows ready and consumers of named queues, null (-) for what AMQP cannot tell', async () => {
    const busy = uniqueName('st-busy');
    const idle = uniqueName('st-idle');
    expect((await runCli(['send', '--queue', busy, 'a', 'b', 'c', 'd', 'e'], { env })).exitCode).toBe(0);
    expect((await runCli(['send', '--queue', idle, 'x', 'y'], { env })).exitCode).toBe(0);
    const worker = startCli(
      ['qprocessor', '--queue', busy, '--acknowledge', '--prefetch', '1', '--delay-per-char', '60'],
      {
        env,
      },
    );
    try {
      await worker.waitFor(/waiting for messages/, { stream: 'stderr' });
      await worker.waitFor(/received/);

      const result = await runCli(['status', busy, idle, ...NO_MANAGEMENT, '--json'], { env });
      expect(result.exitCode, result.stderr).toBe(0);
      const document = JSON.parse(result.stdout);
      expect(document).toEqual({
        source: 'amqp',
        vhost: '/',
        queues: [
          {
            name: busy,
            ready: 4,
            unacked: null,
            total: null,
            consumers: 1,
            publishRate: null,
            deliverRate: null,
            ackRate: null,
            redeliverRate: null,
          },
          {
            name: idle,
            ready: 2,
            unacked: null,
            total: null,
            consumers: 0,
            publishRate: null,
            deliverRate: null,
            ackRate: null,
            redeliverRate: null,
          },
        ],
      });
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(
        new RegExp(
          `^source: AMQP only \\(ready and consumers; no unacked, total or rates\\): no management API at ${NO_MANAGEMENT_URL}: connection refused\\n$`,
        ),
      );

      if (broker.hasCtl) {
        expect(await ctlFigures(busy)).toEqual({ ready: 4, consumers: 1 });
        expect(await ctlFigures(idle)).toEqual({ ready: 2, consumers: 0 });
      }

      const table = await runCli(['status', busy, idle, ...NO_MANAGEMENT], { env });
      expect(table.exitCode, table.stderr).toBe(0);
      const lines = table.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^queue +ready +unacked +total +consumers +pub\/s +deliver\/s +ack\/s$/);
      expect(lines[1]?.split(/\s+/)).toEqual([busy, '4', '-', '-', '1', '-', '-', '-']);
      expect(lines[2]?.split(/\s+/)).toEqual([idle, '2', '-', '-', '0', '-', '-', '-']);
    } finally {
      await interruptTwice(worker);
    }
  });

  it('with no queue named, shows the --queue queue and says that listing all needs the management API', async () => {
    const queue = uniqueName('st-default');
    await runCli(['send', '--queue', queue, 'one', 'two', 'three'], { env });
    const result = await runCli(['status', '--queue', queue, ...NO_MANAGEMENT, '--json'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).queues).toMatchObject([{ name: queue, ready: 3, consumers: 0 }]);
    expect(result.stderr).toContain(`only '${queue}' (--queue)`);
  });

  it('falls back to AMQP when nothing answers on the default management port', async () => {
    if (await isPortAnswering(brokerHost, 15672, 500)) return; // some other broker's management: not this case
    const queue = uniqueName('st-fallback');
    await runCli(['send', '--queue', queue, 'x'], { env });
    const result = await runCli(['status', queue, '--json'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).source).toBe('amqp');
    expect(result.stderr).toContain(`no management API at http://${brokerHost}:15672`);
  });

  it('a named queue that does not exist is a plain error, exit 1', async () => {
    const present = uniqueName('st-present');
    const missing = uniqueName('st-missing');
    await runCli(['send', '--queue', present, 'x'], { env });
    const result = await runCli(['status', present, missing, ...NO_MANAGEMENT], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`qtool: queue '${missing}' does not exist in vhost '/'`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('never prints the password given in --management-url', async () => {
    const password = `pw-${randomBytes(6).toString('hex')}`;
    const result = await runCli(
      [
        'status',
        uniqueName('nope'),
        '--management-url',
        `http://someone:${password}@127.0.0.1:${closedPort}`,
      ],
      { env },
    );
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`no management API at ${NO_MANAGEMENT_URL}: connection refused`);
    expect(`${result.stdout}${result.stderr}`).not.toContain(password);
  });
});

describe('qtool watch over AMQP alone', () => {
  it('into a pipe: --count samples of timestamped plain lines, one per queue, no escape codes', async () => {
    const a = uniqueName('wa');
    const b = uniqueName('wb');
    await runCli(['send', '--queue', a, '1', '2'], { env });
    await runCli(['send', '--queue', b, '1'], { env });
    const started = Date.now();
    const result = await runCli(['watch', a, b, '--count', '3', '--interval', '0.2', ...NO_MANAGEMENT], {
      env,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for escape codes on purpose
    expect(result.stdout).not.toMatch(/\u001b/);
    for (const [index, line] of lines.entries()) {
      const name = index % 2 === 0 ? a : b;
      const ready = index % 2 === 0 ? 2 : 1;
      expect(line).toMatch(
        new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} ${name} ready=${ready} unacked=- total=- consumers=0 `),
      );
    }
    expect(result.stderr).toMatch(/^source: AMQP only/);
  });

  it('--json: one document per sample', async () => {
    const queue = uniqueName('wjson');
    await runCli(['send', '--queue', queue, 'x'], { env });
    const result = await runCli(
      ['watch', queue, '--count', '2', '--interval', '0.1', '--json', ...NO_MANAGEMENT],
      {
        env,
      },
    );
    expect(result.exitCode, result.stderr).toBe(0);
    const samples = jsonLines<{ ts: string; source: string; queues: { name: string; ready: number }[] }>(
      result.stdout,
    );
    expect(samples).toHaveLength(2);
    for (const sample of samples) {
      expect(sample.source).toBe('amqp');
      expect(sample.queues).toMatchObject([{ name: queue, ready: 1 }]);
      expect(Number.isNaN(Date.parse(sample.ts))).toBe(false);
    }
  });

  it('stops cleanly on Ctrl-C, and marks a queue deleted under it as missing', async () => {
    const queue = uniqueName('wgone');
    await runCli(['send', '--queue', queue, 'x'], { env });
    const watch = startCli(['watch', queue, '--interval', '0.1', ...NO_MANAGEMENT], { env });
    await watch.waitFor(new RegExp(`${queue} ready=1`));
    await withChannel(broker.amqpUrl, (channel) => channel.deleteQueue(queue));
    await watch.waitFor(new RegExp(`${queue} \\(missing\\)`));
    watch.signal('SIGINT');
    const result = await watch.finished();
    expect(result.exitCode).toBe(0);
  });

  it('watches a named queue that does not exist yet, and shows it once it is declared', async () => {
    // As in qtool lab, where the watch pane starts before the workers declare the queue.
    const queue = uniqueName('wlater');
    const watch = startCli(['watch', queue, '--interval', '0.1', ...NO_MANAGEMENT], { env });
    await watch.waitFor(new RegExp(`${queue} \\(missing\\)`));
    expect(watch.stderr()).toContain(`queue '${queue}' does not exist in vhost '/' yet; watching for it`);
    await runCli(['send', '--queue', queue, 'x', 'y'], { env });
    await watch.waitFor(new RegExp(`${queue} ready=2 `));
    watch.signal('SIGINT');
    expect((await watch.finished()).exitCode).toBe(0);
  });
});

describe('qtool watch on a terminal (tmux)', () => {
  const tmuxSocket = `qtool-watch-test-${randomBytes(4).toString('hex')}`;
  const tmux = (args: string[]) =>
    new Promise<string>((resolve, reject) => {
      // childEnv: no QTOOL_* or AMQP_URL of the person running the tests reaches the panes.
      execFile(
        'tmux',
        ['-L', tmuxSocket, ...args],
        { encoding: 'utf8', env: childEnv() },
        (error, stdout, stderr) =>
          error ? reject(new Error(`tmux ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout),
      );
    });
  const hasTmux = () =>
    new Promise<boolean>((resolve) => execFile('tmux', ['-V'], (error) => resolve(error === null)));

  afterEach(async () => {
    // Only this test's own tmux server, on its own socket.
    await tmux(['kill-server']).catch(() => {});
  });

  it('draws the table with a sparkline in 80x24, and quits on q with the terminal restored', async () => {
    if (!(await hasTmux())) return;
    const queue = uniqueName('wtty');
    await runCli(['send', '--queue', queue, 'a', 'b'], { env });
    const marker = `qtool-exited-${randomBytes(3).toString('hex')}`;
    const command = [
      `env NO_COLOR=1 AMQP_URL='${broker.amqpUrl}'`,
      `'${process.execPath}' '${QTOOL_BIN}' watch '${queue}' --interval 0.2 --management-url ${NO_MANAGEMENT_URL};`,
      `echo ${marker} rc=$?; stty -a | grep -o -- '-\\?icanon'; sleep 60`,
    ].join(' ');
    await tmux(['new-session', '-d', '-s', 'watch', '-x', '80', '-y', '24', command]);

    let pane = '';
    await eventually(async () => {
      pane = await tmux(['capture-pane', '-p', '-t', 'watch']);
      return /depth|ready [▁▂▃▄▅▆▇█]{3,}/.test(pane);
    }, 'the watch screen with a sparkline');
    const lines = pane.split('\n');
    expect(lines[0]).toMatch(/^qtool watch amqp:\/\/guest@/);
    expect(pane).toMatch(/queue +ready +unacked +total +consumers/);
    expect(pane).toMatch(new RegExp(`${queue} +2 +- +- +0`));
    expect(pane).toMatch(/^ {2}ready █{3,} {2}max 2$/m);
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(80);

    await tmux(['send-keys', '-t', 'watch', 'q']);
    await eventually(async () => {
      pane = await tmux(['capture-pane', '-p', '-t', 'watch']);
      // The marker and then stty's verdict on the terminal mode, which comes a moment later.
      return pane.includes(marker) && /^-?icanon$/m.test(pane);
    }, 'watch to exit on q, and stty to report the terminal mode');
    expect(pane).toContain(`${marker} rc=0`);
    // Raw mode was undone: the terminal is back in canonical mode.
    expect(pane).toMatch(/^icanon$/m);
  });
});
