import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRabbitmqServer, type LocalNode, startLocalNode } from '../../src/broker/local-node.js';
import { eventually } from '../support/amqp.js';
import { uniqueName } from '../support/broker.js';
import { type RunningCli, runCli, startCli } from '../support/cli.js';

/**
 * status and watch through the management HTTP API, on a node of this file's own with the plugin
 * on (the shared test broker has it off). The API's figures lag the broker, so every check polls.
 */
const canStartNode = findRabbitmqServer() !== null;

interface StatusDocument {
  source: string;
  vhost: string;
  queues: Record<string, unknown>[];
}

describe.skipIf(!canStartNode)('qtool status and watch with the management API', () => {
  let node: LocalNode;
  let env: Record<string, string>;
  let management: string[];
  const workers: RunningCli[] = [];

  beforeAll(async () => {
    node = await startLocalNode({
      management: true,
      watchdogOwnerPid: process.pid,
      // Fresher figures than the default 5 s; the tests still poll.
      extraConfig: { collect_statistics_interval: '1000' },
    });
    env = { AMQP_URL: node.url };
    management = ['--management-url', `http://127.0.0.1:${node.managementPort}`];
  }, 120_000);

  afterAll(async () => {
    for (const worker of workers) {
      await stopAtOnce(worker).catch(() => {});
    }
    await node?.stop();
  }, 120_000);

  async function status(args: string[]): Promise<StatusDocument> {
    const result = await runCli(['status', ...args, ...management, '--json'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as StatusDocument;
  }

  /** `rabbitmqctl list_queues` figures of one queue. */
  async function ctlFigures(queue: string) {
    const out = await node.ctl([
      'list_queues',
      '-q',
      '--no-table-headers',
      'name',
      'messages_ready',
      'messages_unacknowledged',
      'consumers',
    ]);
    for (const line of out.split('\n')) {
      const [name, ready, unacked, consumers] = line.trim().split(/\s+/);
      if (name === queue)
        return { ready: Number(ready), unacked: Number(unacked), consumers: Number(consumers) };
    }
    return null;
  }

  it('shows the message a worker holds during --acknowledge work as unacked', async () => {
    const queue = uniqueName('mg-ack');
    expect((await runCli(['send', '--queue', queue, 'abc', 'd', 'e'], { env })).exitCode).toBe(0);
    const worker = startCli(
      ['qprocessor', '--queue', queue, '--acknowledge', '--prefetch', '1', '--delay-per-char', '5'],
      { env },
    );
    workers.push(worker);
    await worker.waitFor(/waiting for messages/, { stream: 'stderr' });
    await worker.waitFor(/received/);

    const expected = { name: queue, ready: 2, unacked: 1, total: 3, consumers: 1 };
    let last: StatusDocument | undefined;
    await eventually(
      async () => {
        last = await status([queue]);
        const figures = last.queues[0];
        return figures?.unacked === 1 && figures.ready === 2;
      },
      'the management API to report two ready and one unacked message',
      20_000,
    );
    expect(last?.source).toBe('management');
    expect(last?.queues).toMatchObject([expected]);
    expect(await ctlFigures(queue)).toEqual({ ready: 2, unacked: 1, consumers: 1 });

    const table = await runCli(['status', queue, ...management], { env });
    expect(table.exitCode, table.stderr).toBe(0);
    expect(table.stderr.trim()).toBe(
      `source: management API at http://127.0.0.1:${node.managementPort} (unacked and rates lag up to 5 s; ready and consumers are live, over AMQP)`,
    );
    const row = table.stdout.split('\n')[1]?.split(/\s+/);
    expect(row?.slice(0, 5)).toEqual([queue, '2', '1', '3', '1']);
    expect(row?.slice(5)).toHaveLength(3);
    for (const rate of row?.slice(5) ?? []) expect(rate).toMatch(/^\d+(\.\d)?$/);
  }, 60_000);

  it('shows ready and consumers live over AMQP, before the API has sampled the queue', async () => {
    const queue = uniqueName('mg-live');
    expect((await runCli(['send', '--queue', queue, 'a', 'b', 'c'], { env })).exitCode).toBe(0);
    // At once: the API samples every 5 s, so on its own it would not know these three yet.
    const [row] = (await status([queue])).queues;
    expect(row).toMatchObject({ name: queue, ready: 3, consumers: 0 });
    const worker = startCli(['qprocessor', '--queue', queue, '--delay-per-char', '0'], { env });
    workers.push(worker);
    await worker.waitFor(/processed "c"/);
    const [after] = (await status([queue])).queues;
    expect(after).toMatchObject({ ready: 0, consumers: 1 });
  }, 60_000);

  it('lists every queue of the vhost when none is named, with numbers for every figure', async () => {
    const first = uniqueName('mg-all-a');
    const second = uniqueName('mg-all-b');
    await runCli(['send', '--queue', first, 'x'], { env });
    await runCli(['send', '--queue', second, 'y', 'z'], { env });

    let document: StatusDocument | undefined;
    await eventually(
      async () => {
        document = await status([]);
        // A queue is listed before its first statistics arrive: wait for the API's own figure
        // (unacked; ready is live over AMQP from the start).
        const byName = new Map(document.queues.map((queue) => [queue.name, queue]));
        return (
          byName.get(first)?.unacked === 0 &&
          byName.get(second)?.unacked === 0 &&
          document.queues.every((queue) => queue.ready !== null)
        );
      },
      'both queues listed with their message counts',
      20_000,
    );
    const byName = new Map(document?.queues.map((queue) => [queue.name, queue]));
    expect(byName.get(first)).toMatchObject({ ready: 1, unacked: 0, total: 1, consumers: 0 });
    expect(byName.get(second)).toMatchObject({ ready: 2, unacked: 0, total: 2, consumers: 0 });
    // The shape: every figure present, numbers where the management API can tell.
    for (const queue of document?.queues ?? []) {
      expect(Object.keys(queue).sort()).toEqual(
        [
          'ackRate',
          'consumers',
          'deliverRate',
          'name',
          'publishRate',
          'ready',
          'redeliverRate',
          'total',
          'unacked',
        ].sort(),
      );
      for (const key of ['publishRate', 'deliverRate', 'ackRate']) expect(typeof queue[key]).toBe('number');
    }
    expect(document?.vhost).toBe('/');
    const names = document?.queues.map((queue) => String(queue.name)) ?? [];
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)));
  }, 60_000);

  it('a named queue that does not exist is a plain error, exit 1', async () => {
    const missing = uniqueName('mg-missing');
    const result = await runCli(['status', missing, ...management], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`queue '${missing}' does not exist in vhost '/'`);
  });

  it('a refused login is a plain error that never shows the password', async () => {
    const password = 'not-the-right-pw';
    const result = await runCli(['status', ...management, '--password', password], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/management API at .* refused the login for user 'guest' \(HTTP 401\)/);
    expect(`${result.stdout}${result.stderr}`).not.toContain(password);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('watch into a pipe shows unacked figures from the management API', async () => {
    const queue = uniqueName('mg-watch');
    await runCli(['send', '--queue', queue, 'p', 'q'], { env });
    await eventually(
      async () => (await status([queue])).queues[0]?.unacked === 0,
      'the management API to sample the queue',
      20_000,
    );
    const result = await runCli(['watch', queue, '--count', '2', '--interval', '0.2', ...management], {
      env,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).toMatch(
        new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} ${queue} ready=2 unacked=0 total=2 consumers=0 pub/s=\\d`),
      );
    }
    expect(result.stderr).toMatch(/^source: management API/);
  }, 60_000);
});

/** Stops a worker in the middle of long fake work: Ctrl-C, and once it says so, Ctrl-C again. */
async function stopAtOnce(worker: RunningCli): Promise<void> {
  worker.signal('SIGINT');
  // Two signals sent at once can merge into one; the second must come after the first was seen.
  await worker.waitFor(/stopping/, { stream: 'stderr' });
  worker.signal('SIGINT');
  await worker.finished();
}
