import { describe, expect, it } from 'vitest';
import { deleteQueue, eventually, queueState } from '../support/amqp.js';
import { uniqueName } from '../support/broker.js';
import { faultScene, parseCount } from '../support/faults.js';
import { canStartTestNodes } from '../support/nodes.js';

/**
 * The fault suite (issue 8), single node: the broker restarts in the middle of a bulk send.
 * Nothing confirmed is lost, and the summary owns up to any duplicates. A file of its own, with a
 * node of its own, so this long send runs beside the other fault files rather than after them.
 */

describe.skipIf(!canStartTestNodes())('the fault suite: a broker restart during a bulk send', () => {
  const scene = faultScene();
  const { clis } = scene;

  it('during send --count 200000 --persistent: exit 0, every message in the queue, and the summary says how many were sent again', async () => {
    // Inside the test's own time-out, so that a send that never ends fails with what it printed.
    const deadline = Date.now() + 170_000;
    const queue = uniqueName('restart-send');
    const sender = clis.start(['send', '--queue', queue, '--count', '200000', '--persistent', 'x'], {
      env: scene.env,
    });
    try {
      // Without a terminal there is no progress bar: the queue filling up shows the sending has begun.
      await eventually(
        async () => ((await queueState(scene.node.url, queue))?.messageCount ?? 0) >= 1000,
        'the send to be under way',
        30_000,
      );
      await scene.node.restart();
      const result = await sender.finished(deadline - Date.now());
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toMatch(
        /connection lost: .*; reconnecting\. What the broker did not confirm is sent again\./,
      );
      expect(result.stderr).toMatch(
        /reconnected to amqp:\/\/guest@127\.0\.0\.1:\d+\/%2F after .*; reconnects so far: 1\n/,
      );
      expect(result.stderr).toMatch(
        /sent 200,000 messages \(persistent\) to queue '[^']+' .*, all confirmed/,
      );
      // What the lost connection had not confirmed is sent again, and the summary says how many. A
      // broker that shuts down cleanly may confirm everything it took before it closes: then nothing
      // is sent again, and the summary says nothing of it.
      const sentAgain = parseCount(
        /; ([\d,]+) messages? sent again after the connection was lost/.exec(result.stderr)?.[1] ?? '0',
      );
      const held = (await queueState(scene.node.url, queue))?.messageCount ?? 0;
      expect(held, 'messages in the queue').toBeGreaterThanOrEqual(200_000);
      // Duplicates can only be of messages sent again, as the summary says.
      expect(held - 200_000, `duplicates, with ${sentAgain} sent again`).toBeLessThanOrEqual(sentAgain);
      clis.expectNoneRunning();
    } finally {
      // 200,000 persistent messages would slow down the node's stop.
      await deleteQueue(scene.node.url, queue);
    }
  }, 180_000);
});
