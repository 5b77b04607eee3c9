import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { deleteQueue, eventually, queueState, withChannel } from '../support/amqp.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { jsonLines, type RunningCli, runCli, startCli } from '../support/cli.js';
import { completeJsonLines } from '../support/faults.js';
import { type FreezableProxy, startProxy } from '../support/proxy.js';

/**
 * What qtool's workers say when things go wrong must be true, and they must never hang: closes
 * are bounded, hints follow the ack mode, and every message in hand is counted for what it became.
 */
const broker = testBroker();
const env = { AMQP_URL: broker.amqpUrl };
const STACK_TRACE = /\n\s+at /;

interface WorkerEvent {
  event: string;
  body: string;
}

async function startWorker(queue: string, extra: string[], workerEnv = env): Promise<RunningCli> {
  const worker = startCli(['qprocessor', '--queue', queue, '--name', 'w', '--json', ...extra], {
    env: workerEnv,
  });
  await worker.waitFor(/waiting for messages/, { stream: 'stderr' });
  return worker;
}

const bodiesOf = (worker: RunningCli, event: string) =>
  jsonLines<WorkerEvent>(worker.stdout())
    .filter((e) => e.event === event)
    .map((e) => e.body);

async function send(queue: string, ...args: string[]): Promise<void> {
  const result = await runCli(['send', '--queue', queue, ...args], { env });
  expect(result.exitCode, result.stderr).toBe(0);
}

/** Puts `count` small messages on an existing queue straight through amqplib (far faster than `send`). */
async function seed(queue: string, count: number): Promise<void> {
  await withChannel(broker.amqpUrl, async (channel) => {
    for (let i = 0; i < count; i++) {
      if (!channel.sendToQueue(queue, Buffer.from(`m${i}`))) await once(channel, 'drain');
    }
    // The channel's CloseOk comes after everything sent before it; a connection close could overtake them.
    await channel.close();
  });
  await eventually(
    async () => (await queueState(broker.amqpUrl, queue))?.messageCount === count,
    `${count} messages in the queue`,
    30_000,
  );
}

/** A number the tally printed, e.g. `count(stderr, /(\d+) processed/)`; 0 when the phrase is absent. */
function count(text: string, pattern: RegExp): number {
  const match = pattern.exec(text);
  return match === null ? 0 : Number((match[1] ?? '1').replace(/,/g, ''));
}

describe('closing never hangs', () => {
  let proxy: FreezableProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  it('a worker whose broker stops answering ends within seconds on Ctrl-C, saying so', async () => {
    proxy = await startProxy(broker.amqpUrl);
    const queue = uniqueName('frozen');
    const worker = await startWorker(queue, ['--acknowledge', '--delay-per-char', '0'], {
      AMQP_URL: proxy.url,
    });
    await send(queue, 'done-before');
    await eventually(() => bodiesOf(worker, 'acked').length === 1, 'first message acked');

    proxy.freeze();
    const stoppedAt = Date.now();
    worker.signal('SIGINT');
    // Before the fix amqplib waited for a CloseOk that never came: the worker hung for good.
    const result = await worker.finished(20_000);
    expect(Date.now() - stoppedAt).toBeLessThan(15_000);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(
      /qtool: the broker at 127\.0\.0\.1:\d+ did not answer within 5 s while qtool was (closing a channel|cancelling a consumer), so qtool dropped the connection/,
    );
    // With acks, an unconfirmed close leaves the last acks in doubt: say so.
    expect(result.stderr).toMatch(/the last acks may not have reached it/);
    expect(result.stderr).not.toMatch(STACK_TRACE);
  });

  it('with auto-ack, a Ctrl-C whose cancel the broker never confirms says the tally may be short', async () => {
    proxy = await startProxy(broker.amqpUrl);
    const queue = uniqueName('frozen-auto');
    const worker = await startWorker(queue, ['--delay-per-char', '0'], { AMQP_URL: proxy.url });
    await send(queue, 'done-before');
    await eventually(() => bodiesOf(worker, 'processed').length === 1, 'first message processed');
    proxy.freeze();
    worker.signal('SIGINT');
    const result = await worker.finished(20_000);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/did not answer within 5 s while qtool was cancelling a consumer/);
    // Deliveries the broker sent before the cancel may never have arrived: the count cannot be sure.
    expect(result.stderr).toMatch(
      /0 messages had arrived but were never processed; .* The broker did not confirm cancelling this consumer, so more may have been removed on their way here: this count may be incomplete\./,
    );
    expect(result.stderr).not.toMatch(STACK_TRACE);
  });

  it('a connection lost in the middle of the close handshake ends the command with a message, not exit 13', async () => {
    proxy = await startProxy(broker.amqpUrl);
    const frozen = proxy;
    const queue = uniqueName('cut-mid-close');
    const worker = await startWorker(queue, ['--acknowledge', '--delay-per-char', '0'], {
      AMQP_URL: frozen.url,
    });
    // The worker waits for its cancel's reply before closing the channel: let that reply through.
    frozen.freezeOn('channel.close', { after: 'basic.cancel' });
    worker.signal('SIGINT');
    // The worker has asked the broker to close its channel; the broker dies before it answers.
    await eventually(() => frozen.heldMethods().includes('channel.close'), 'the channel close sent');
    frozen.cut();
    const result = await worker.finished(20_000);
    // Before the fix: nothing left to wait on but a close that never settles, so Node exits 13, silently.
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(
      /qtool: the connection to 127\.0\.0\.1:\d+ was (reset|closed unexpectedly)/,
    );
    expect(result.stderr).not.toMatch(STACK_TRACE);
  });

  it('a worker that loses its connection says what becomes of its message, for the queue it really has', async () => {
    proxy = await startProxy(broker.amqpUrl);
    const queue = uniqueName('quorum');
    const declared = await runCli(['declare', '--queue', queue, '--type', 'quorum'], { env });
    expect(declared.exitCode, declared.stderr).toBe(0);
    const worker = await startWorker(queue, ['--acknowledge', '--delay-per-char', '100', '--no-reconnect'], {
      AMQP_URL: proxy.url,
    });
    await send(queue, 'transient'); // not --persistent, but a quorum queue keeps it on disk anyway
    await worker.waitFor(/"event":"received"/);
    proxy.cut();
    const result = await worker.finished(20_000);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(
      /The message in hand was not acknowledged, so the broker puts it back in the queue if the broker is still running; if it went down, the queue keeps every message on disk, so it survives its restart\./,
    );
    expect(result.stderr).toMatch(/1 left unacknowledged to the broker/);
    await eventually(
      async () => (await queueState(broker.amqpUrl, queue))?.messageCount === 1,
      'the message back in its queue',
    );
  });

  it.each([
    { command: ['declare'], freeze: 'channel.close', after: undefined, closing: 'a channel' },
    { command: ['peek'], freeze: 'channel.close', after: 'basic.get', closing: 'a channel' },
    // send leaves its publishing channel to the connection's close: that is the close unanswered.
    {
      command: ['send', 'confirmed-first'],
      freeze: 'connection.close',
      after: 'basic.publish',
      closing: 'the connection',
    },
  ])(
    '$command.0 ends within seconds when the broker never answers its $freeze',
    async ({ command, freeze, after, closing }) => {
      proxy = await startProxy(broker.amqpUrl);
      const queue = uniqueName(`unanswered-${command[0]}`);
      await send(queue, 'ready');
      proxy.freezeOn(freeze, after === undefined ? {} : { after });
      const startedAt = Date.now();
      const result = await runCli([command[0] as string, '--queue', queue, ...command.slice(1)], {
        env: { AMQP_URL: proxy.url },
        timeoutMs: 20_000,
      });
      expect(proxy.isFrozen()).toBe(true);
      expect(Date.now() - startedAt).toBeLessThan(15_000);
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toContain(
        `did not answer within 5 s while qtool was closing ${closing}, so qtool dropped the connection`,
      );
      expect(result.stderr).toContain('What the broker confirmed before stands.');
      expect(result.stderr).not.toMatch(STACK_TRACE);
      // Everything was confirmed before the close: the account says so, and the error does not deny it.
      if (command[0] === 'send') expect(result.stderr).toMatch(/sent 1 message .* all confirmed/);
    },
  );

  it('receive ends within seconds on Ctrl-C when its broker stops answering', async () => {
    proxy = await startProxy(broker.amqpUrl);
    const queue = uniqueName('receive-frozen');
    const receiver = startCli(['receive', '--queue', queue], { env: { AMQP_URL: proxy.url } });
    // The banner comes before the consumer exists: freeze only once the broker has it.
    await eventually(
      async () => (await queueState(broker.amqpUrl, queue))?.consumerCount === 1,
      'the consumer registered',
    );
    proxy.freeze();
    receiver.signal('SIGINT');
    const result = await receiver.finished(20_000);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/did not answer within 5 s while qtool was cancelling a consumer/);
    expect(result.stderr).not.toMatch(STACK_TRACE);
  });
});

describe('hints and tallies tell the truth', () => {
  /** With acks, every message is "lost" by hanging on to it unacknowledged. */
  const hangingAll = ['--acknowledge', '--delay-per-char', '0', '--lose-every', '1', '--on-lose', 'hang'];

  it('a heartbeat time-out in auto-ack mode does not promise a redelivery', async () => {
    const queue = uniqueName('hb-auto');
    const worker = await startWorker(queue, [
      '--heartbeat',
      '1',
      '--block',
      '--delay-per-char',
      '1',
      '--no-reconnect',
    ]);
    await send(queue, 'abcdefgh'); // 8 s of busy waiting
    const result = await worker.finished(30_000);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/blocked for .* without sending heartbeats/);
    expect(result.stderr).toMatch(
      /With auto-ack the broker removed the message in hand when it delivered it, so it is lost: nothing is redelivered\./,
    );
    expect(result.stderr).not.toMatch(/redeliver it|delivers it again/);
    expect(result.stderr).toMatch(/stopped: 1 message received, 0 processed, 1 lost \(1 cut short\)/);
    // True: nothing came back.
    expect((await queueState(broker.amqpUrl, queue))?.messageCount).toBe(0);
  });

  it('--on-lose without --acknowledge warns that a lost message is simply dropped', async () => {
    const queue = uniqueName('on-lose-auto');
    const worker = await startWorker(queue, [
      '--delay-per-char',
      '0',
      '--lose-every',
      '2',
      '--on-lose',
      'crash',
    ]);
    await worker.waitFor(
      /warning: --on-lose crash has no effect without --acknowledge: with auto-ack a lost message is simply dropped/,
      { stream: 'stderr' },
    );
    await send(queue, 'one', 'two');
    await eventually(() => bodiesOf(worker, 'lost').length === 1, 'second message lost');
    worker.signal('SIGINT');
    // Dropped, not crashed: the worker carries on and stops cleanly.
    expect((await worker.finished()).exitCode).toBe(0);
  });

  it('without --on-lose, a worker without acks gives no such warning', async () => {
    const queue = uniqueName('no-on-lose');
    const worker = await startWorker(queue, ['--delay-per-char', '0', '--lose-every', '2']);
    await send(queue, 'one');
    await eventually(() => bodiesOf(worker, 'processed').length === 1, 'first message processed');
    worker.signal('SIGINT');
    const result = await worker.finished();
    expect(result.exitCode).toBe(0);
    expect(result.stderr).not.toMatch(/--on-lose/);
  });

  it('with acks, a message in hand when its queue is deleted is counted lost, and so are those waiting', async () => {
    const queue = uniqueName('deleted-manual');
    const worker = await startWorker(queue, ['--acknowledge', '--delay-per-char', '1']);
    await send(queue, 'abcdefghij', 'waiting');
    await worker.waitFor(/"event":"received"/);
    await deleteQueue(broker.amqpUrl, queue);
    const result = await worker.finished(20_000);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`queue '${queue}' was deleted`));
    expect(bodiesOf(worker, 'lost')).toEqual(['abcdefghij']);
    expect(bodiesOf(worker, 'processed')).toEqual([]);
    expect(result.stderr).toMatch(
      /stopped: 1 message received, 0 processed, 1 lost \(1 with the deleted queue\)/,
    );
    expect(result.stderr).toMatch(
      /1 message had arrived but was never processed; it was not acknowledged, so it went with the deleted queue/,
    );
  });

  it('with auto-ack, a message in hand when its queue is deleted is ours: its work finishes', async () => {
    const queue = uniqueName('deleted-auto');
    const worker = await startWorker(queue, ['--delay-per-char', '0.4']);
    await send(queue, 'abcde', 'waiting'); // 2 s of work
    await worker.waitFor(/"event":"received"/);
    await deleteQueue(broker.amqpUrl, queue);
    const result = await worker.finished(20_000);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`queue '${queue}' was deleted`));
    // The one waiting was delivered too: with auto-ack it is ours as well, so it is worked on.
    expect(bodiesOf(worker, 'processed')).toEqual(['abcde', 'waiting']);
    expect(result.stderr).toMatch(/stopped: 2 messages received, 2 processed, 0 lost/);
    expect(result.stderr).not.toMatch(/never processed/);
  });

  it('with auto-ack, Ctrl-C accounts for every message the broker removed, even those still in flight', async () => {
    const queue = uniqueName('auto-account');
    const total = 50_000;
    const declared = await runCli(['declare', '--queue', queue], { env });
    expect(declared.exitCode, declared.stderr).toBe(0);
    await seed(queue, total);
    const worker = await startWorker(queue, ['--delay-per-char', '0.001']);
    // Stop it while the broker is still pushing deliveries at it as fast as it can.
    await eventually(() => bodiesOf(worker, 'processed').length >= 20, 'some messages processed');
    worker.signal('SIGINT');
    const result = await worker.finished(30_000);
    expect(result.exitCode, result.stderr).toBe(0);
    const processed = bodiesOf(worker, 'processed').length;
    expect(count(result.stderr, /stopped: .*?, (\d+) processed/)).toBe(processed);
    const lost = count(result.stderr, /processed, (\d+) lost/);
    const neverProcessed = count(
      result.stderr,
      /([\d,]+) messages? had arrived but (?:was|were) never processed; with auto-ack the broker had already removed/,
    );
    expect(result.stderr).not.toMatch(/may be incomplete/);
    const left = (await queueState(broker.amqpUrl, queue))?.messageCount ?? Number.NaN;
    // Before the fix the channel was closed before the cancel was confirmed: amqplib threw away
    // the deliveries still in flight, which the broker had already removed, and the sum fell short.
    expect({
      processed,
      lost,
      neverProcessed,
      left,
      sum: processed + lost + neverProcessed + left,
    }).toMatchObject({
      sum: total,
    });
  });

  it('--on-lose hang counts hung messages as left unacknowledged, and Ctrl-C gives them back', async () => {
    const queue = uniqueName('hang-tally');
    const worker = await startWorker(queue, hangingAll);
    await send(queue, 'a', 'b', 'c');
    await eventually(() => bodiesOf(worker, 'lost').length === 3, 'three messages hung');
    worker.signal('SIGINT');
    const result = await worker.finished(20_000);
    expect(result.exitCode, result.stderr).toBe(0);
    // Before the fix: "3 lost", as if they were gone, though the queue gets all three back.
    expect(result.stderr).toMatch(
      /stopped: 3 messages received, 0 processed, 0 lost, 3 left unacknowledged to the broker \(3 hung by --on-lose hang\)/,
    );
    expect(result.stderr).toMatch(
      /The 3 messages hung by --on-lose hang were not acknowledged, so the broker puts them back in the queue and delivers them again\./,
    );
    await eventually(
      async () => (await queueState(broker.amqpUrl, queue))?.messageCount === 3,
      'hung messages back in the queue',
    );
  });

  it('a worker holding hung messages that loses its connection says they go back to the queue', async () => {
    const proxy = await startProxy(broker.amqpUrl);
    try {
      const queue = uniqueName('hang-cut');
      const worker = await startWorker(queue, [...hangingAll, '--no-reconnect'], { AMQP_URL: proxy.url });
      await send(queue, 'a', 'b', 'c');
      await eventually(() => bodiesOf(worker, 'lost').length === 3, 'three messages hung');
      proxy.cut();
      const result = await worker.finished(20_000);
      expect(result.exitCode).toBe(1);
      // Before the fix: "3 lost" and no word on what becomes of them.
      expect(result.stderr).toMatch(
        /stopped: 3 messages received, 0 processed, 0 lost, 3 left unacknowledged to the broker \(3 hung by --on-lose hang\)/,
      );
      expect(result.stderr).toMatch(
        /The 3 messages hung by --on-lose hang were not acknowledged, so the broker puts them back in the queue if the broker is still running; if it went down, /,
      );
      await eventually(
        async () => (await queueState(broker.amqpUrl, queue))?.messageCount === 3,
        'hung messages back in the queue',
      );
    } finally {
      await proxy.close();
    }
  });

  it.skipIf(!broker.hasCtl)(
    'a consumer the broker cancels while its queue still exists is not told the queue was deleted, and consumes again',
    async () => {
      const queue = uniqueName('cancelled');
      const worker = await startWorker(queue, ['--acknowledge', '--delay-per-char', '0']);
      // The real broker sends basic.cancel to this queue's consumers, as it does when a node goes
      // down or a quorum queue's leader moves; on a single node this is the way to make it.
      await broker.ctl([
        'eval',
        `{ok, Q} = rabbit_amqqueue:lookup(rabbit_misc:r(<<"/">>, queue, <<"${queue}">>)), ` +
          "[rabbit_channel:send_command(element(1, C), {'basic.cancel', element(2, C), true}) || C <- rabbit_amqqueue:consumers(Q)].",
      ]);
      await worker.waitFor(/consuming again/, { stream: 'stderr' });
      expect(worker.stderr()).toMatch(
        new RegExp(`the broker cancelled this consumer of queue '${queue}', though the queue still exists`),
      );
      expect(worker.stderr()).not.toMatch(/was deleted/);
      // It carries on: a message sent now is processed by the new consumer.
      await send(queue, 'after');
      await eventually(() => bodiesOf(worker, 'processed').includes('after'), 'processed after the cancel');
      worker.signal('SIGINT');
      const result = await worker.finished(20_000);
      expect(result.exitCode).toBe(0);
      expect(result.stderr).toMatch(/1 reconnect\b/);
    },
  );

  // The cancelled consumer's channel stays open until qtool closes it: left open, the message in
  // hand stayed unacknowledged on it, never to come back while the worker ran.
  it.skipIf(!broker.hasCtl)(
    'the message in hand when the broker cancels the consumer comes back, redelivered, and is processed',
    async () => {
      const queue = uniqueName('cancelled-in-hand');
      const worker = await startWorker(queue, [
        '--acknowledge',
        '--prefetch',
        '1',
        '--delay-per-char',
        '0.5',
      ]);
      await send(queue, 'slow-job');
      await worker.waitFor(/"event":"received".*"slow-job"/);
      await broker.ctl([
        'eval',
        `{ok, Q} = rabbit_amqqueue:lookup(rabbit_misc:r(<<"/">>, queue, <<"${queue}">>)), ` +
          "[rabbit_channel:send_command(element(1, C), {'basic.cancel', element(2, C), true}) || C <- rabbit_amqqueue:consumers(Q)].",
      ]);
      await worker.waitFor(/consuming again/, { stream: 'stderr' });
      const processed = () =>
        completeJsonLines<{ event: string; body: string; redelivered: boolean }>(worker.stdout()).filter(
          (e) => e.event === 'processed' && e.body === 'slow-job',
        );
      await eventually(() => processed().length > 0, 'slow-job processed after the cancel', 30_000);
      expect(processed()[0]?.redelivered).toBe(true);
      await eventually(
        async () => (await queueState(broker.amqpUrl, queue))?.messageCount === 0,
        'the queue empty',
      );
      worker.signal('SIGINT');
      const result = await worker.finished(20_000);
      expect(result.exitCode, result.stderr).toBe(0);
      // Acked once: nothing left unacknowledged on a channel, so nothing comes back after the stop.
      expect((await queueState(broker.amqpUrl, queue))?.messageCount).toBe(0);
    },
  );
});
