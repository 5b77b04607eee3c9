import { describe, expect, it } from 'vitest';
import { drain, withChannel } from '../support/amqp.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { runCli, startCli } from '../support/cli.js';

const broker = testBroker();
const env = { AMQP_URL: broker.amqpUrl };

/** True when the queue exists and is durable: a durable re-declare succeeds only then. */
async function isDurable(queue: string): Promise<boolean> {
  try {
    await withChannel(broker.amqpUrl, (channel) => channel.assertQueue(queue, { durable: true }));
    return true;
  } catch (error) {
    if ((error as { code?: number }).code === 406) return false;
    throw error;
  }
}

describe('queue declaration', () => {
  it.each([
    ['send', 'x'],
    ['receive', '--idle-timeout', '0.2'],
  ])('%s creates a missing queue as durable', async (command, ...rest) => {
    const queue = uniqueName('create');
    const result = await runCli([command, '--queue', queue, ...rest], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await isDurable(queue)).toBe(true);
  });

  it('qprocessor creates a missing queue as durable', async () => {
    const queue = uniqueName('worker-create');
    const worker = startCli(['qprocessor', '--queue', queue], { env });
    await worker.waitFor(/waiting for messages/, { stream: 'stderr' });
    worker.signal('SIGINT');
    await worker.finished();
    expect(await isDurable(queue)).toBe(true);
  });

  it('--no-durable creates a non-durable queue where the broker allows it', async () => {
    const queue = uniqueName('transient');
    const result = await runCli(['send', '--queue', queue, '--no-durable', 'x'], { env });
    if (result.exitCode === 1) {
      // RabbitMQ 4.3+ refuses them: the message must say so plainly.
      expect(result.stderr).toMatch(/refuses non-durable queues/);
      return;
    }
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await isDurable(queue)).toBe(false);
  });

  it('uses an existing queue as it is, whatever its flags, when none is asked for', async () => {
    const queue = uniqueName('pika-made');
    // As pika's `queue_declare(queue='hello')` in the lab would leave it: non-durable.
    await withChannel(broker.amqpUrl, (channel) => channel.assertQueue(queue, { durable: false }));
    const sent = await runCli(['send', '--queue', queue, 'kept'], { env });
    expect(sent.exitCode, sent.stderr).toBe(0);
    expect(await drain(broker.amqpUrl, queue)).toEqual(['kept']);
    expect(await isDurable(queue)).toBe(false);
  });

  it('uses an existing quorum queue as it is', async () => {
    const queue = uniqueName('quorum');
    await withChannel(broker.amqpUrl, (channel) =>
      channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } }),
    );
    for (const flags of [[], ['--durable']]) {
      const sent = await runCli(['send', '--queue', queue, ...flags, 'q'], { env });
      expect(sent.exitCode, sent.stderr).toBe(0);
    }
    const received = await runCli(['receive', '--queue', queue, '--count', '2'], { env });
    expect(received.stdout).toBe('q\nq\n');
  });

  it('stops on --durable when the existing queue is not durable, naming queue, state, request and fix', async () => {
    const queue = uniqueName('conflict');
    await withChannel(broker.amqpUrl, (channel) => channel.assertQueue(queue, { durable: false }));
    const result = await runCli(['send', '--queue', queue, '--durable', 'x'], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(
      `queue '${queue}' already exists as a non-durable queue, but --durable was asked for`,
    );
    expect(result.stderr).toMatch(
      /Leave out --durable .* or delete it first \(qtool delete --queue \S+ --force/,
    );
    expect(await drain(broker.amqpUrl, queue)).toEqual([]); // nothing was sent
  });

  it('stops on --no-durable when the existing queue is durable', async () => {
    const queue = uniqueName('conflict2');
    await withChannel(broker.amqpUrl, (channel) => channel.assertQueue(queue, { durable: true }));
    const result = await runCli(['receive', '--queue', queue, '--no-durable'], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(
      `queue '${queue}' already exists as a durable queue, but --no-durable was asked for`,
    );
  });
});
