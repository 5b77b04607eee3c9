import { afterEach, describe, expect, it } from 'vitest';
import { eventually, queueState, withChannel } from '../support/amqp.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { startCli } from '../support/cli.js';
import { type FreezableProxy, startProxy } from '../support/proxy.js';

/** A job whose copy the broker confirmed, and whose connection went before its ack. */
const broker = testBroker();
let proxy: FreezableProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

describe('qprocessor --exec losing its connection after a copy', () => {
  it('says the copy is in .failed and the original comes again (a duplicate), not that nothing was published', async () => {
    const queue = uniqueName('lost-after-copy');
    const replies = uniqueName('lost-replies');
    await withChannel(broker.amqpUrl, async (channel) => {
      await channel.assertQueue(queue, { durable: true });
      await channel.assertQueue(replies, { durable: false });
    });
    proxy = await startProxy(broker.amqpUrl);
    const worker = startCli(
      [
        'qprocessor',
        '--queue',
        queue,
        '--name',
        'lost',
        '--acknowledge',
        '--no-reconnect',
        '--exec',
        'exit 3',
      ],
      { env: { AMQP_URL: proxy.url } },
    );
    await worker.waitFor(/waiting for messages/, { stream: 'stderr' });
    // The first publish is the .failed copy (confirmed); the reply after it never reaches the broker.
    proxy.freezeOn('basic.publish', { after: 'basic.publish' });
    await withChannel(broker.amqpUrl, async (channel) => {
      channel.sendToQueue(queue, Buffer.from('job'), { messageId: 'lc-1', replyTo: replies });
      await channel.checkQueue(queue);
    });
    const frozen = proxy;
    await eventually(() => frozen.heldMethods().includes('basic.publish'), 'the reply held back');
    frozen.cut();
    const result = await worker.finished();
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(
      new RegExp(
        `dropped {3}"job" lc-1 failed; its copy is in '${queue}\\.failed', but its connection was lost before the ack: the broker delivers the original again too \\(a duplicate\\)`,
      ),
    );
    expect(result.stderr).toMatch(/1 dropped with a lost connection \(1 of them also copied/);
    expect((await queueState(broker.amqpUrl, `${queue}.failed`))?.messageCount).toBe(1);
    await eventually(
      async () => (await queueState(broker.amqpUrl, queue))?.messageCount === 1,
      'the original back',
    );
  });

  it('a reconnect given up (--reconnect-timeout) still prints the tally and says the running job was stopped', async () => {
    const queue = uniqueName('give-up');
    await withChannel(broker.amqpUrl, (channel) => channel.assertQueue(queue, { durable: true }));
    proxy = await startProxy(broker.amqpUrl);
    const worker = startCli(
      [
        'qprocessor',
        '--queue',
        queue,
        '--name',
        'quitter',
        '--acknowledge',
        '--reconnect-timeout',
        '2',
        '--exec',
        'exec sleep 60',
      ],
      { env: { AMQP_URL: proxy.url } },
    );
    await worker.waitFor(/waiting for messages/, { stream: 'stderr' });
    await withChannel(broker.amqpUrl, async (channel) => {
      channel.sendToQueue(queue, Buffer.from('job'), { messageId: 'gu-1' });
      await channel.checkQueue(queue);
    });
    await worker.waitFor(/received/);
    // Nothing listens where the worker reconnects to any more.
    await proxy.close();
    proxy = undefined;
    const result = await worker.finished(30_000);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/stopped: 1 message received, 0 succeeded/);
    expect(result.stderr).toMatch(
      /The job running was stopped \(SIGTERM\); its message was not acked, so the broker delivers it again\./,
    );
    await eventually(
      async () => (await queueState(broker.amqpUrl, queue))?.messageCount === 1,
      'the message back',
    );
  });
});
