import { describe, expect, it } from 'vitest';
import { eventually, queueState } from '../support/amqp.js';
import { uniqueName } from '../support/broker.js';
import { type RunningCli, runCli } from '../support/cli.js';
import {
  completeJsonLines,
  countByBody,
  faultScene,
  missing,
  type WorkerEvent,
  workerEvents,
} from '../support/faults.js';
import { canStartTestNodes } from '../support/nodes.js';

/**
 * The fault suite (issue 8), single node: the broker restarts under three busy workers and under a
 * receiver with messages in hand. Every message is handled at least once, and the workers and the
 * receiver carry on by themselves. (A restart under a bulk send: faults-send-restart.test.ts.)
 *
 * One node of its own, restarted by each test in turn, so they run in order. Every test ends what
 * it started and shows, by pid, that no qtool is left running.
 */

describe.skipIf(!canStartTestNodes()).sequential('the fault suite: a broker restart', () => {
  const scene = faultScene();
  const { clis } = scene;

  /** Publishes `bodies` persistently (one per line of standard input) and waits for the confirms. */
  async function sendPersistent(queue: string, bodies: string[]): Promise<void> {
    const result = await runCli(['send', '--queue', queue, '--persistent'], {
      env: scene.env,
      input: `${bodies.join('\n')}\n`,
    });
    expect(result.exitCode, result.stderr).toBe(0);
  }

  it('while three qprocessor --acknowledge --prefetch 1 workers are mid-work: every message is processed, the workers carry on, and each tally counts 1 reconnect', async () => {
    const queue = uniqueName('restart-workers');
    const bodies = Array.from({ length: 30 }, (_, index) => `body-${String(index + 1).padStart(2, '0')}`);
    // 7 characters at 0.3 s: 2.1 s of work each, about 21 s for the three: the restart lands mid-way,
    // even when a loaded machine takes many seconds to begin stopping the node.
    const workers = ['w1', 'w2', 'w3'].map((name) =>
      clis.start(
        [
          'qprocessor',
          '--queue',
          queue,
          '--name',
          name,
          '--acknowledge',
          '--prefetch',
          '1',
          '--json',
          '--delay-per-char',
          '0.3',
        ],
        { env: scene.env },
      ),
    );
    for (const worker of workers) await worker.waitFor(/waiting for messages/, { stream: 'stderr' });
    await sendPersistent(queue, bodies);
    const processed = () => workers.flatMap((worker) => workerEvents(worker, 'processed').map((e) => e.body));
    await eventually(
      () => workers.every((worker) => workerEvents(worker, 'received').length > 0),
      'each worker to start on a message',
      30_000,
    );

    await scene.node.restart();

    for (const worker of workers) {
      await worker.waitFor(/reconnected to .*; reconnects so far: 1\n/, {
        stream: 'stderr',
        timeoutMs: 60_000,
      });
      // Each was busy when the broker went: its message in hand comes back, as its line says.
      expect(worker.stderr()).toMatch(
        /connection lost: the broker closed the connection: it is shutting down; reconnecting\. The message in hand was not acknowledged, so it stays in the queue; the queue is durable and the message persistent, so it survives the restart\./,
      );
    }
    await eventually(
      () => missing(bodies, countByBody(processed())).length === 0,
      'every body processed at least once',
      90_000,
    );
    // Idle again: nothing left in the queue, nothing in hand (the message a worker had in hand
    // when the broker went was received and never processed: it counts only if it came last).
    const idle = (worker: RunningCli) => {
      const events = completeJsonLines<WorkerEvent>(worker.stdout());
      const lastReceived = events.findLastIndex((e) => e.event === 'received');
      return events.slice(lastReceived).some((e) => e.event === 'processed');
    };
    await eventually(async () => {
      const state = await queueState(scene.node.url, queue);
      return state?.messageCount === 0 && state.consumerCount === 3 && workers.every(idle);
    }, 'the three workers idle and consuming');

    // Still running, and taking new work: with prefetch 1, three idle workers get one message each.
    const later = ['later-1', 'later-2', 'later-3'];
    await sendPersistent(queue, later);
    await eventually(
      () => workers.every((worker) => workerEvents(worker, 'processed').some((e) => later.includes(e.body))),
      'each worker to process one of the new messages',
      20_000,
    );

    for (const worker of workers) worker.signal('SIGINT');
    for (const worker of workers) {
      const result = await worker.finished(30_000);
      expect(result.exitCode, result.stderr).toBe(0);
      const tally = /stopped: (\d+) messages? received, (\d+) processed, .*/.exec(result.stderr);
      expect(tally, result.stderr).not.toBeNull();
      expect(tally?.[0]).toMatch(/, 1 reconnect$/);
      // The tally agrees with the worker's own events.
      expect(Number(tally?.[2])).toBe(workerEvents(worker, 'processed').length);
    }
    expect((await queueState(scene.node.url, queue))?.messageCount).toBe(0);
    clis.expectNoneRunning();
  }, 150_000);

  it('while receive --acknowledge has messages in hand: every body is printed, and it carries on', async () => {
    const queue = uniqueName('restart-receive');
    const receiver = clis.start(['receive', '--queue', queue, '--acknowledge', '--json'], { env: scene.env });
    await receiver.waitFor(/Waiting for messages/, { stream: 'stderr' });
    // A reader that stops reading: lines wait unwritten, so their messages are in receive's hands,
    // unacknowledged, when the broker goes away (80 x 8 KiB is more than a pipe holds).
    receiver.process.stdout.pause();
    const bodies = Array.from({ length: 80 }, (_, index) =>
      `r-${String(index + 1).padStart(2, '0')} `.padEnd(8192, 'x'),
    );
    await sendPersistent(queue, bodies);
    // No prefetch limit: the broker hands all of them over at once.
    await eventually(
      async () => (await queueState(scene.node.url, queue))?.messageCount === 0,
      'every message delivered to the receiver',
    );

    await scene.node.restart();

    await receiver.waitFor(/reconnected to .*; reconnects so far: 1\n/, {
      stream: 'stderr',
      timeoutMs: 60_000,
    });
    // What became of the messages in hand, and not "Ended early": receive carries on.
    expect(receiver.stderr()).toMatch(
      /connection lost: the broker closed the connection: it is shutting down; reconnecting\. [^\n]*\d+ messages not written go back to the queue\.\n/,
    );
    expect(receiver.stderr()).not.toMatch(/Ended early/);
    receiver.process.stdout.resume();
    const printed = () => completeJsonLines<{ body: string }>(receiver.stdout()).map((line) => line.body);
    await eventually(
      () => missing(bodies, countByBody(printed())).length === 0,
      'every body printed at least once',
      60_000,
    );

    // Still running, and printing what comes next.
    expect(receiver.process.exitCode).toBeNull();
    await sendPersistent(queue, ['later-1', 'later-2']);
    await eventually(
      () => ['later-1', 'later-2'].every((body) => printed().includes(body)),
      'the new messages printed',
    );
    receiver.signal('SIGINT');
    const result = await receiver.finished(30_000);
    expect(result.exitCode, result.stderr).toBe(0);
    // Everything printed was acknowledged: nothing is left to deliver again.
    expect((await queueState(scene.node.url, queue))?.messageCount).toBe(0);
    clis.expectNoneRunning();
  }, 150_000);
});
