import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalNode } from '../../src/broker/local-node.js';
import { eventually } from '../support/amqp.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { type RunningCli, runCli, startCli } from '../support/cli.js';
import { canStartTestNodes, startTestNode } from '../support/nodes.js';

/**
 * status and watch through the management HTTP API, on a node of this file's own with the plugin
 * on (the shared test broker has it off). The API's figures lag the broker, so every check polls.
 */

interface StatusDocument {
  source: string;
  vhost: string;
  queues: Record<string, unknown>[];
}

describe.skipIf(!canStartTestNodes())('qtool status and watch with the management API', () => {
  let node: LocalNode;
  let env: Record<string, string>;
  let management: string[];
  const workers: RunningCli[] = [];

  beforeAll(async () => {
    node = await startTestNode({
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
      // 60 s of work: the worker must still hold 'abc' when the last status runs, even on a busy machine.
      ['qprocessor', '--queue', queue, '--acknowledge', '--prefetch', '1', '--delay-per-char', '20'],
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
      `source: management API at http://127.0.0.1:${node.managementPort} (unacked, total and rates lag up to 5 s; ready and consumers are live, over AMQP)`,
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
        // A queue is listed before its first statistics arrive: wait for the API's own figures
        // (unacked and total, from one sample; ready is live over AMQP from the start).
        const byName = new Map(document.queues.map((queue) => [queue.name, queue]));
        return (
          byName.get(first)?.unacked === 0 &&
          byName.get(first)?.total === 1 &&
          byName.get(second)?.unacked === 0 &&
          byName.get(second)?.total === 2 &&
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

  it('a wrong password is the broker refusing the login over AMQP, and never shown', async () => {
    const password = 'not-the-right-pw';
    const result = await runCli(['status', ...management, '--password', password], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("the broker refused the login for user 'guest'");
    expect(`${result.stdout}${result.stderr}`).not.toContain(password);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('wrong credentials in --management-url: AMQP figures and why, never the password', async () => {
    const queue = uniqueName('mg-badcreds');
    await runCli(['send', '--queue', queue, 'x'], { env });
    const password = 'not-the-api-pw';
    const url = `http://guest:${password}@127.0.0.1:${node.managementPort}`;
    const result = await runCli(['status', queue, '--management-url', url, '--json'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ source: 'amqp', queues: [{ name: queue, ready: 1 }] });
    expect(result.stderr).toMatch(
      /management API at http:\/\/127\.0\.0\.1:\d+ refused user 'guest' \(HTTP 401/,
    );
    expect(`${result.stdout}${result.stderr}`).not.toContain(password);
  });

  it("a vhost that does not exist is the broker's error over AMQP, not the API's opinion", async () => {
    const vhost = uniqueName('no-such-vhost');
    const result = await runCli(['status', ...management, '--vhost', vhost], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`cannot open vhost '${vhost}' as user 'guest'`);
    expect(result.stderr).not.toContain('management API');
  });

  describe('a user without the management tag, as brokers give students', () => {
    const user = uniqueName('student');
    const password = `pw-${uniqueName('s')}`;
    const vhost = uniqueName('vh');
    let studentEnv: Record<string, string>;

    beforeAll(async () => {
      await node.ctl(['add_vhost', vhost]);
      await node.ctl(['add_user', user, password]);
      await node.ctl(['set_permissions', '-p', vhost, user, '.*', '.*', '.*']);
      const url = new URL(node.url);
      url.username = user;
      url.password = password;
      url.pathname = `/${vhost}`;
      studentEnv = { AMQP_URL: url.toString() };
    }, 60_000);

    it('status: AMQP figures, exit 0, and one line saying the API refused the user', async () => {
      const queue = uniqueName('mg-student');
      expect((await runCli(['send', '--queue', queue, 'a', 'b'], { env: studentEnv })).exitCode).toBe(0);
      const result = await runCli(['status', queue, ...management, '--json'], { env: studentEnv });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({
        source: 'amqp',
        vhost,
        queues: [{ name: queue, ready: 2, unacked: null, total: null, consumers: 0 }],
      });
      expect(result.stderr.trim()).toBe(
        `source: AMQP only (ready and consumers; no unacked, total or rates): the management API at http://127.0.0.1:${node.managementPort} refused user '${user}' (no management tag)`,
      );
      expect(`${result.stdout}${result.stderr}`).not.toContain(password);
    });

    it('watch --count 2: two samples of AMQP figures, exit 0', async () => {
      const queue = uniqueName('mg-student-w');
      await runCli(['send', '--queue', queue, 'a'], { env: studentEnv });
      const result = await runCli(['watch', queue, '--count', '2', '--interval', '0.2', ...management], {
        env: studentEnv,
      });
      expect(result.exitCode, result.stderr).toBe(0);
      const lines = result.stdout.trimEnd().split('\n');
      expect(lines).toHaveLength(2);
      for (const line of lines)
        expect(line).toMatch(new RegExp(`${queue} ready=1 unacked=- total=- consumers=0`));
      expect(result.stderr).toMatch(/^source: AMQP only .*refused user '.*' \(no management tag\)\n$/);
    });

    it('losing the tag mid-watch: AMQP figures from then on, said once; the API back once the tag is', async () => {
      const queue = uniqueName('mg-tag');
      await runCli(['send', '--queue', queue, 'a', 'b'], { env: studentEnv });
      await node.ctl(['set_user_tags', user, 'management']);
      const watch = startCli(['watch', queue, '--interval', '0.2', ...management], { env: studentEnv });
      try {
        // unacked=0 comes from the API only; over AMQP alone it is '-'.
        await watch.waitFor(new RegExp(`${queue} ready=2 unacked=0 `), { timeoutMs: 20_000 });
        await node.ctl(['set_user_tags', user]);
        await watch.waitFor(new RegExp(`${queue} ready=2 unacked=- total=- `), { timeoutMs: 20_000 });
        await watch.waitFor(/refused user .* \(no management tag\): AMQP figures only/, { stream: 'stderr' });
        await node.ctl(['set_user_tags', user, 'management']);
        // The API is asked again every 15 s.
        await watch.waitFor(/answers again: unacked, total and rates are back/, {
          stream: 'stderr',
          timeoutMs: 30_000,
        });
        const back = watch.stdout().length;
        await eventually(
          () => new RegExp(`${queue} ready=2 unacked=0 `).test(watch.stdout().slice(back)),
          'API figures after the comeback',
        );
        watch.signal('SIGINT');
        const result = await watch.finished();
        expect(result.exitCode, result.stderr).toBe(0);
        expect(result.stderr.match(/no management tag/g)).toHaveLength(1);
        expect(result.stderr.match(/answers again:/g)).toHaveLength(1);
      } finally {
        watch.signal('SIGINT');
        await watch.finished().catch(() => {});
        await node.ctl(['set_user_tags', user]);
      }
    }, 90_000);
  });

  it("another broker's API is not used: AMQP figures, and which broker the API belongs to", async () => {
    // The shared test broker for AMQP, this file's node as the API: two brokers, as on one host.
    const other = testBroker();
    const otherEnv = { AMQP_URL: other.amqpUrl };
    const queue = uniqueName('mg-mismatch');
    await runCli(['send', '--queue', queue, 'a', 'b', 'c'], { env: otherEnv });
    const result = await runCli(['status', queue, ...management, '--json'], { env: otherEnv });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ source: 'amqp', queues: [{ name: queue, ready: 3 }] });
    const cluster = (await node.ctl(['eval', 'rabbit_nodes:cluster_name().']))
      .trim()
      .replace(/^<<"|">>$/g, '');
    expect(result.stderr).toContain(
      `the management API at http://127.0.0.1:${node.managementPort} belongs to another broker ('${cluster}', node '${node.nodeName}', not '`,
    );
    expect(result.stderr).toContain('check --management-url');

    const watch = await runCli(['watch', queue, '--count', '2', '--interval', '0.2', ...management], {
      env: otherEnv,
    });
    expect(watch.exitCode, watch.stderr).toBe(0);
    expect(watch.stdout).toMatch(new RegExp(`${queue} ready=3 unacked=- total=-`));
    expect(watch.stderr).toContain('belongs to another broker');
  });

  it('without --management-url, the API the broker record points at is checked too', async () => {
    const other = testBroker();
    const amqp = new URL(other.amqpUrl);
    if (!['127.0.0.1', 'localhost'].includes(amqp.hostname)) return; // the record is for local brokers only
    // A record claiming the test broker's management API is this file's node's port: what status
    // would find on the default port when two brokers share a host.
    const stateDir = await mkdtemp(join(tmpdir(), 'qtool-state-'));
    try {
      await writeFile(
        join(stateDir, 'broker.json'),
        JSON.stringify({
          kind: 'local',
          startedAt: new Date().toISOString(),
          nodeName: 'qtool-elsewhere@localhost',
          amqpPort: Number(amqp.port),
          managementPort: node.managementPort,
          distPort: 1,
          baseDir: stateDir,
          pidFile: join(stateDir, 'pid'),
        }),
      );
      const queue = uniqueName('mg-record');
      await runCli(['send', '--queue', queue, 'a'], { env: { AMQP_URL: other.amqpUrl } });
      const result = await runCli(['status', queue, '--json'], {
        env: { AMQP_URL: other.amqpUrl, QTOOL_STATE_DIR: stateDir },
      });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({
        source: 'amqp',
        queues: [{ name: queue, ready: 1 }],
      });
      expect(result.stderr).toContain('belongs to another broker');
      expect(result.stderr).toContain('pass --management-url');
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('watch into a pipe shows unacked figures from the management API', async () => {
    const queue = uniqueName('mg-watch');
    await runCli(['send', '--queue', queue, 'p', 'q'], { env });
    // The API's figures (unacked, total) come from its own samples: wait until one has both messages.
    await eventually(
      async () => {
        const row = (await status([queue])).queues[0];
        return row?.unacked === 0 && row.total === 2;
      },
      'the management API to sample the queue with both messages',
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
