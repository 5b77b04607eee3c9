import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/amqp.js';
import { uniqueName } from '../support/broker.js';
import { faultScene } from '../support/faults.js';
import { canStartTestNodes } from '../support/nodes.js';
import { type Responder, startResponder } from '../support/responder.js';

/**
 * Issue 10's "done when", sender's side: the broker restarts while a job runs; the worker runs it
 * again once the broker is back (at-least-once, flagged redelivered) and replies then, and
 * `send --wait` still gets that reply, because it declared its reply queue again after
 * reconnecting. The worker here is a real amqplib consumer on the real node (see responder.ts).
 */
describe.skipIf(!canStartTestNodes())('the fault suite: a broker restart while send --wait waits', () => {
  const scene = faultScene();
  const { clis } = scene;
  let responders: Responder[] = [];
  afterEach(async () => {
    await Promise.all(responders.map((responder) => responder.close()));
    responders = [];
  });

  it('gets the reply of the job run again after the restart, and exits with its status', async () => {
    const queue = uniqueName('wait-restart');
    // The first worker takes the job and is still on it when the broker goes down.
    const first = await startResponder(scene.node.url, queue, () => null);
    responders.push(first);
    const sender = clis.start(
      ['send', '--queue', queue, '--persistent', '--wait', '--timeout', '150', 'job'],
      {
        env: scene.env,
      },
    );
    await eventually(() => first.requests.length === 1, 'the first worker to take the job', 30_000);
    await scene.node.restart();
    // The job's rerun outlasts the sender's reconnection, as a real job would: the reply is sent
    // once the sender is back (a reply sent while no reply queue exists is dropped by the broker).
    await sender.waitFor(/reconnected to .*; reconnects so far: 1\n/, {
      stream: 'stderr',
      timeoutMs: 90_000,
    });
    const second = await startResponder(scene.node.url, queue, (request) => ({
      output: `ran again (redelivered: ${request.fields.redelivered})`,
      exitCode: 5,
    }));
    responders.push(second);

    const result = await sender.finished(90_000);
    expect(result.stdout).toBe('ran again (redelivered: true)');
    expect(result.exitCode, result.stderr).toBe(5);
    expect(result.stderr).toMatch(
      /connection lost: .*; reconnecting\. The reply queue goes with it and is declared again once back\./,
    );
    expect(result.stderr).toMatch(
      /qtool: job [0-9a-f-]{36} failed on worker test-responder in 12 ms: its command exited with code 5/,
    );
    // The same job: one message id, asked for once, run twice.
    expect(second.requests[0]?.properties.messageId).toBe(first.requests[0]?.properties.messageId);
    clis.expectNoneRunning();
  }, 240_000);
});
