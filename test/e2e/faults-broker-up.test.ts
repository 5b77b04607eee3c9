import { describe, expect, it } from 'vitest';
import { eventually, queueState } from '../support/amqp.js';
import { uniqueName } from '../support/broker.js';
import { runCli } from '../support/cli.js';
import { faultScene, killOutright, workerEvents } from '../support/faults.js';
import { canStartTestNodes } from '../support/nodes.js';

/**
 * The fault suite (issue 8), single node, part two: faults while the broker stays up. A worker
 * killed outright mid-message, a memory alarm in the middle of a send, a worker whose blocking
 * work starves its heartbeats. Nothing is lost, and what qtool says is what happened.
 *
 * One node of its own (the memory alarm blocks every publisher of a node), used by the tests in
 * turn. Every test ends what it started and shows, by pid, that no qtool is left running.
 */

describe.skipIf(!canStartTestNodes()).sequential('the fault suite: the broker stays up', () => {
  const scene = faultScene();
  const { clis } = scene;

  async function sendPersistent(queue: string, bodies: string[]): Promise<void> {
    const result = await runCli(['send', '--queue', queue, '--persistent', ...bodies], { env: scene.env });
    expect(result.exitCode, result.stderr).toBe(0);
  }

  /** A qprocessor --json worker with acks and prefetch 1, once its consumer is registered. */
  async function startWorker(queue: string, name: string, extra: string[]) {
    const worker = clis.start(
      [
        'qprocessor',
        '--queue',
        queue,
        '--name',
        name,
        '--json',
        '--acknowledge',
        '--prefetch',
        '1',
        ...extra,
      ],
      { env: scene.env },
    );
    await worker.waitFor(/waiting for messages/, { stream: 'stderr' });
    return worker;
  }

  it('kill -9 of a worker mid-message: the message is redelivered to the other worker, flagged redelivered', async () => {
    const queue = uniqueName('kill-9');
    // 6 characters at 0.75 s: 4.5 s of work each, time enough to kill a worker in the middle of one.
    const first = await startWorker(queue, 'first', ['--delay-per-char', '0.75']);
    const second = await startWorker(queue, 'second', ['--delay-per-char', '0.75']);
    const bodies = ['kill-1', 'kill-2', 'kill-3', 'kill-4'];
    await sendPersistent(queue, bodies);
    await eventually(
      () => workerEvents(first, 'received').length === 1,
      'the first worker to start on a message',
    );
    const inHand = workerEvents(first, 'received')[0]?.body as string;

    await killOutright(first);
    // Killed in the middle of its work, before any ack.
    expect(workerEvents(first, 'processed'), first.stdout()).toEqual([]);

    await eventually(
      () => workerEvents(second, 'processed').some((e) => e.body === inHand && e.redelivered),
      `the second worker to process '${inHand}', flagged redelivered`,
      30_000,
    );
    await eventually(
      () => workerEvents(second, 'processed').length === bodies.length,
      'the second worker to process all four',
      30_000,
    );
    expect(
      workerEvents(second, 'processed')
        .map((e) => e.body)
        .sort(),
    ).toEqual(bodies);
    // Only the killed worker's message was delivered twice.
    expect(
      workerEvents(second, 'received')
        .filter((e) => e.redelivered)
        .map((e) => e.body),
    ).toEqual([inHand]);

    second.signal('SIGINT');
    const result = await second.finished(30_000);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/stopped: 4 messages received, 4 processed, 0 lost, 1 redelivered seen\n/);
    expect((await queueState(scene.node.url, queue))?.messageCount).toBe(0);
    clis.expectNoneRunning();
  }, 90_000);

  it('a memory alarm in the middle of a send: it says it is blocked and why, resumes when the alarm clears, and every message arrives once', async () => {
    const queue = uniqueName('alarm-mid-send');
    // Fed from standard input, so the alarm is sure to come in the middle of the send.
    const sender = clis.start(['send', '--queue', queue], { env: scene.env });
    let written = 0;
    const feed = (lines: number) => {
      const batch = Array.from({ length: lines }, (_, index) => `m-${written + index + 1}`);
      written += lines;
      sender.process.stdin.write(`${batch.join('\n')}\n`);
    };
    let cleared = false;
    try {
      feed(1000);
      await eventually(
        async () => (await queueState(scene.node.url, queue))?.messageCount === 1000,
        'the first 1,000 messages in the queue',
      );

      await scene.node.ctl(['set_vm_memory_high_watermark', '0.00001']);
      // Keep it publishing until the broker blocks it: the alarm takes a moment to be raised.
      const blocked = /the broker is blocking publishers: low on memory\. Waiting until it resumes/;
      await eventually(
        () => {
          if (blocked.test(sender.stderr())) return true;
          feed(100);
          return false;
        },
        'send to say the broker blocks it',
        30_000,
      );
      // Waiting, not failed.
      expect(sender.process.exitCode).toBeNull();

      await scene.node.ctl(['set_vm_memory_high_watermark', '0.4']);
      await sender.waitFor(/the broker resumed taking messages after/, {
        stream: 'stderr',
        timeoutMs: 30_000,
      });
      cleared = true;
      feed(1000);
      sender.process.stdin.end();
      const result = await sender.finished(60_000);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toMatch(
        new RegExp(
          `sent ${written.toLocaleString('en-US')} messages \\(transient\\) to queue '[^']+' .*, all confirmed\n`,
        ),
      );
      // No reconnect happened, so nothing was sent twice: exactly what was written, once each.
      expect(result.stderr).not.toMatch(/connection lost|reconnect|sent again/);
      expect((await queueState(scene.node.url, queue))?.messageCount).toBe(written);
      clis.expectNoneRunning();
    } finally {
      if (!cleared) {
        await scene.node.ctl(['set_vm_memory_high_watermark', '0.4']);
        await eventually(
          async () => !/memory/.test(await scene.node.ctl(['eval', 'rabbit_alarm:get_alarms().'])),
          'the memory alarm to clear',
          30_000,
        );
      }
    }
  }, 90_000);

  it('a heartbeat time-out with qprocessor --block: the worker reconnects, and its message is redelivered and processed', async () => {
    const queue = uniqueName('heartbeat');
    // 12 characters at 1 s, busy-waiting: no heartbeat for 12 s where the broker allows about 2.
    const blocker = await startWorker(queue, 'blocker', [
      '--block',
      '--heartbeat',
      '1',
      '--delay-per-char',
      '1',
    ]);
    await sendPersistent(queue, ['twelve-chars']);
    await blocker.waitFor(/"event":"received"/);
    // A worker that does not block, to take the message the broker takes back from the blocker. The
    // blocker itself would block on it again whenever it got it back: on a slow machine the helper
    // may start only after that has happened once or more, so the counts below are the blocker's own.
    const helper = await startWorker(queue, 'helper', ['--delay-per-char', '0']);

    await eventually(
      () => workerEvents(helper, 'processed').some((e) => e.body === 'twelve-chars' && e.redelivered),
      'the helper to process the message, flagged redelivered',
      60_000,
    );
    // The blocker is back and consuming once both workers are the queue's consumers.
    await eventually(
      async () => (await queueState(scene.node.url, queue))?.consumerCount === 2,
      'the blocker to consume again',
      30_000,
    );
    const timedOut = blocker
      .stderr()
      .match(
        /connection lost: lost the connection to the broker: this worker blocked for \d+(\.\d)? s without sending heartbeats \(every 1 s\), so the broker timed it out; reconnecting\. The message in hand was not acknowledged, so the broker puts it back in the queue and delivers it again\.\n/g,
      );
    const reconnects = blocker.stderr().match(/reconnected to .*; reconnects so far: \d+\n/g) ?? [];
    const deliveries = workerEvents(blocker, 'received').length;
    // Every delivery to the blocker ended in a heartbeat time-out and a reconnect, and nothing else.
    expect(deliveries, blocker.stderr()).toBeGreaterThanOrEqual(1);
    expect(timedOut?.length, blocker.stderr()).toBe(deliveries);
    expect(reconnects.length, blocker.stderr()).toBe(deliveries);
    expect(workerEvents(blocker, 'processed')).toEqual([]);

    blocker.signal('SIGINT');
    helper.signal('SIGINT');
    const stopped = await blocker.finished(30_000);
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    const n = deliveries;
    expect(stopped.stderr).toContain(
      `stopped: ${n} message${n === 1 ? '' : 's'} received, 0 processed, 0 lost, ${n} left unacknowledged to the broker, ${n - 1} redelivered seen, ${n} reconnect${n === 1 ? '' : 's'}\n`,
    );
    expect((await helper.finished(30_000)).exitCode).toBe(0);
    expect((await queueState(scene.node.url, queue))?.messageCount).toBe(0);
    clis.expectNoneRunning();
  }, 120_000);
});
