import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalNode } from '../../src/broker/local-node.js';
import { drain, eventually, queueState, withChannel } from '../support/amqp.js';
import { uniqueName } from '../support/broker.js';
import { interruptTwice, type RunningCli, runCli, startCli } from '../support/cli.js';
import { canStartTestNodes, startTestNode } from '../support/nodes.js';

/**
 * Tests that restart or stop the broker, or shorten its consumer timeout, get a node of their
 * own so the shared test broker is never disturbed. They run in order: the node is stopped last.
 */
describe.skipIf(!canStartTestNodes()).sequential('on a broker of its own', () => {
  let node: LocalNode;
  let env: Record<string, string>;

  beforeAll(async () => {
    node = await startTestNode();
    env = { AMQP_URL: node.url };
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
  }, 120_000);

  it('a worker whose work outlasts consumer_timeout is told why the broker closed its channel, and consumes again', async () => {
    const queue = uniqueName('ctimeout');
    await runCli(['send', '--queue', queue, 'abc'], { env });
    // Short enough to see within a test (the broker checks it about once a minute). A channel reads
    // it when it opens, so only this worker's gets it, and the workers of the restart tests below,
    // however slowly a busy machine starts them, never meet it.
    await node.ctl(['eval', 'application:set_env(rabbit, consumer_timeout, 2000).']);
    const worker = startCli(['qprocessor', '--queue', queue, '--acknowledge', '--delay-per-char', '100'], {
      env,
    });
    await worker.waitFor(/received/).finally(() =>
      // Back to the default, 30 minutes: the worker's next channel gets that.
      node.ctl(['eval', 'application:set_env(rabbit, consumer_timeout, 1800000).']),
    );
    await worker.waitFor(/consuming again/, { stream: 'stderr', timeoutMs: 150_000 });
    expect(worker.stderr()).toMatch(/not acknowledged within its consumer timeout/);
    expect(worker.stderr()).toMatch(/puts it back in the queue and delivers it again/);
    // The same worker gets it again from its new consumer, flagged redelivered.
    await worker.waitFor(/redelivered/, { timeoutMs: 20_000 });
    const result = await interruptTwice(worker, 20_000);
    expect(result.exitCode).toBe(130);
    await eventually(
      async () => (await queueState(node.url, queue))?.messageCount === 1,
      'message back in the queue',
    );
  }, 180_000);

  it('keeps persistent messages in a durable queue across a restart, and only those', async () => {
    const durable = uniqueName('durable');
    const transientQueue = uniqueName('transient-queue');
    expect((await runCli(['send', '--queue', durable, '--persistent', 'p1', 'p2'], { env })).exitCode).toBe(
      0,
    );
    expect((await runCli(['send', '--queue', durable, 'not-persistent'], { env })).exitCode).toBe(0);
    const nonDurable = await runCli(
      ['send', '--queue', transientQueue, '--no-durable', '--persistent', 'x'],
      { env },
    );
    expect(nonDurable.exitCode, nonDurable.stderr).toBe(0);

    await node.restart();

    expect(await drain(node.url, durable)).toEqual(['p1', 'p2']);
    expect(await queueState(node.url, transientQueue)).toBeNull();
  }, 180_000);

  it("a worker's shutdown hint says what becomes of its message in hand, and the restart bears it out", async () => {
    // Each worker is busy with one message when the broker goes down; what it says must follow its
    // ack mode, the queue's durability and the message's persistence.
    const cases = [
      {
        queue: uniqueName('kept'),
        send: ['--persistent'],
        worker: ['--acknowledge'],
        says: /stays in the queue; the queue is durable and the message persistent, so it survives (the|its) restart/,
        afterRestart: 1,
      },
      {
        queue: uniqueName('transient-message'),
        send: [],
        worker: ['--acknowledge'],
        says: /it is not persistent \(send with --persistent\), so (the|its) restart loses it/,
        afterRestart: 0,
      },
      {
        queue: uniqueName('non-durable-queue'),
        send: ['--persistent', '--no-durable'],
        worker: ['--acknowledge'],
        says: /the queue is not durable, so (the|its) restart deletes it with the message/,
        afterRestart: null,
      },
      {
        queue: uniqueName('auto-ack'),
        send: ['--persistent'],
        worker: [],
        says: /With auto-ack the broker removed the message in hand when it delivered it, so it is lost: nothing is redelivered/,
        afterRestart: 0,
      },
    ];
    const workers = [];
    for (const { queue, send, worker } of cases) {
      const sent = await runCli(['send', '--queue', queue, ...send, 'abc'], { env });
      expect(sent.exitCode, sent.stderr).toBe(0);
      const running = startCli(
        ['qprocessor', '--queue', queue, '--json', '--delay-per-char', '100', '--no-reconnect', ...worker],
        {
          env,
        },
      );
      await running.waitFor(/"event":"received"/);
      workers.push(running);
    }

    await node.restart();

    for (const [index, { queue, says, afterRestart }] of cases.entries()) {
      const result = await (workers[index] as RunningCli).finished(60_000);
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.stderr).toMatch(says);
      // The old hint promised every unacked message would go back, whatever the case.
      expect(result.stderr).not.toMatch(/unacknowledged messages go back/);
      const state = await queueState(node.url, queue);
      expect(state === null ? null : state.messageCount, `queue ${queue} after the restart`).toBe(
        afterRestart,
      );
    }
  }, 180_000);

  it('tells connected clients plainly that the broker is shutting down', async () => {
    const queue = uniqueName('shutdown');
    const worker = startCli(
      ['qprocessor', '--queue', queue, '--acknowledge', '--delay-per-char', '0', '--no-reconnect'],
      {
        env,
      },
    );
    await worker.waitFor(/waiting for messages/, { stream: 'stderr' });
    const receiver = startCli(['receive', '--queue', queue, '--no-reconnect'], { env });
    await receiver.waitFor(/Waiting for messages/, { stream: 'stderr' });
    await withChannel(node.url, async (channel) => channel.checkQueue(queue));

    await node.stop();

    for (const client of [worker, receiver]) {
      const result = await client.finished(30_000);
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(/shutting down|connection .* (closed|reset|lost)/);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  }, 120_000);
});
