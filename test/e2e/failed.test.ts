import { describe, expect, it } from 'vitest';
import { queueState, takeMessages, withChannel } from '../support/amqp.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { jsonLines, runCli } from '../support/cli.js';

const broker = testBroker();
const env = { AMQP_URL: broker.amqpUrl };

/** The headers qtool's worker writes on a message it moves to `<queue>.failed`. */
function failureHeaders(queue: string, n: number): Record<string, unknown> {
  return {
    'x-qtool-failure-reason':
      n === 2 ? 'killed by SIGKILL (--job-timeout 5 s)' : `the command exited with code ${n}`,
    ...(n === 2 ? { 'x-qtool-signal': 'SIGKILL' } : { 'x-qtool-exit-code': n }),
    'x-qtool-failed-at': `2026-12-04T03:0${n}:00.000Z`,
    'x-qtool-worker': `w${n}`,
    'x-qtool-attempts': 3,
    'x-qtool-queue': queue,
    'x-app-header': 'kept',
  };
}

/** A work queue and its failed queue holding `count` failed jobs (ids job-1...), put there as the worker would. */
async function seedFailed(count: number): Promise<string> {
  const queue = uniqueName('jobs');
  await withChannel(broker.amqpUrl, async (channel) => {
    await channel.assertQueue(queue, { durable: true });
    await channel.assertQueue(`${queue}.failed`, { durable: true });
    for (let n = 1; n <= count; n++) {
      channel.sendToQueue(`${queue}.failed`, Buffer.from(`job body ${n}`), {
        messageId: `job-${n}`,
        persistent: true,
        headers: failureHeaders(queue, n),
      });
    }
    await channel.checkQueue(queue); // a round trip: the publishes before it are routed
  });
  return queue;
}

const takeAll = (queue: string) => takeMessages(broker.amqpUrl, queue);

describe('qtool failed', () => {
  it('lists the failed jobs with their reasons and leaves them in place', async () => {
    const queue = await seedFailed(3);
    const result = await runCli(['failed', '--queue', queue], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe(
      [
        'job-1  the command exited with code 1, after 3 attempts, on worker w1, at 2026-12-04T03:01:00.000Z',
        '  body: "job body 1"',
        'job-2  killed by SIGKILL (--job-timeout 5 s), after 3 attempts, on worker w2, at 2026-12-04T03:02:00.000Z',
        '  body: "job body 2"',
        'job-3  the command exited with code 3, after 3 attempts, on worker w3, at 2026-12-04T03:03:00.000Z',
        '  body: "job body 3"',
        '',
      ].join('\n'),
    );
    expect(result.stderr).toContain(`3 failed jobs in queue '${queue}.failed', left in place`);
    expect((await queueState(broker.amqpUrl, `${queue}.failed`))?.messageCount).toBe(3);

    const json = await runCli(['failed', '--queue', queue, '--json', '--count', '2'], { env });
    expect(json.exitCode).toBe(0);
    const entries = jsonLines(json.stdout);
    expect(entries).toHaveLength(2);
    expect(entries[1]).toMatchObject({
      messageId: 'job-2',
      body: 'job body 2',
      reason: 'killed by SIGKILL (--job-timeout 5 s)',
      exitCode: null,
      signal: 'SIGKILL',
      worker: 'w2',
      attempts: 3,
      queue,
      failedAt: '2026-12-04T03:02:00.000Z',
    });
    expect(json.stderr).toContain(`the first 2 of 3 failed jobs in queue '${queue}.failed'`);
    // Still all there, in their order.
    expect((await takeAll(`${queue}.failed`)).map((message) => message.properties.messageId)).toEqual([
      'job-1',
      'job-2',
      'job-3',
    ]);
  });

  it('--requeue --id moves exactly that one back to the work queue, without the failure headers', async () => {
    const queue = await seedFailed(3);
    const result = await runCli(['failed', '--queue', queue, '--requeue', '--id', 'job-2'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(`requeued failed message 'job-2' from '${queue}.failed' to '${queue}'`);
    const [moved, ...others] = await takeAll(queue);
    expect(others).toEqual([]);
    expect(moved?.content.toString()).toBe('job body 2');
    expect(moved?.properties.messageId).toBe('job-2');
    expect(moved?.properties.deliveryMode).toBe(2);
    expect(moved?.properties.headers).toEqual({ 'x-app-header': 'kept' });
    expect((await takeAll(`${queue}.failed`)).map((message) => message.properties.messageId)).toEqual([
      'job-1',
      'job-3',
    ]);

    const missing = await runCli(['failed', '--queue', queue, '--requeue', '--id', 'job-9'], { env });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/no failed message with id 'job-9'/);
  });

  it('--requeue --all moves every one back, and the work queue holds them without failure headers', async () => {
    const queue = await seedFailed(4);
    const result = await runCli(['failed', '--queue', queue, '--requeue', '--all'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(`requeued 4 failed messages from '${queue}.failed' to '${queue}'`);
    expect((await queueState(broker.amqpUrl, `${queue}.failed`))?.messageCount).toBe(0);
    const moved = await takeAll(queue);
    expect(moved.map((message) => message.properties.messageId)).toEqual([
      'job-1',
      'job-2',
      'job-3',
      'job-4',
    ]);
    for (const message of moved) {
      expect(
        Object.keys(message.properties.headers ?? {}).filter((name) => name.startsWith('x-qtool-')),
      ).toEqual([]);
    }
  });

  it('--requeue refuses a work queue that does not exist, and takes nothing', async () => {
    const queue = await seedFailed(1);
    await withChannel(broker.amqpUrl, (channel) => channel.deleteQueue(queue));
    const result = await runCli(['failed', '--queue', queue, '--requeue', '--all'], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`cannot requeue to queue '${queue}': it does not exist`));
    expect((await queueState(broker.amqpUrl, `${queue}.failed`))?.messageCount).toBe(1);
  });

  it('--purge empties it and says how many; a missing failed queue is no failed job', async () => {
    const queue = await seedFailed(2);
    const result = await runCli(['failed', '--queue', queue, '--purge'], { env });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(`purged 2 failed messages from queue '${queue}.failed'\n`);
    expect((await queueState(broker.amqpUrl, `${queue}.failed`))?.messageCount).toBe(0);

    const none = await runCli(['failed', '--queue', uniqueName('never')], { env });
    expect(none.exitCode).toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/no failed jobs: queue '[^']+\.failed' does not exist/);
  });

  it.skipIf(broker.major !== 4)(
    'on a quorum failed queue (RabbitMQ 4.0 counts returns) lists only with --force, and --requeue --all needs none',
    async () => {
      const queue = uniqueName('jobs-qq');
      await withChannel(broker.amqpUrl, async (channel) => {
        await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
        await channel.assertQueue(`${queue}.failed`, {
          durable: true,
          arguments: { 'x-queue-type': 'quorum' },
        });
        channel.sendToQueue(`${queue}.failed`, Buffer.from('job body 1'), {
          messageId: 'job-1',
          headers: failureHeaders(queue, 1),
        });
        await channel.checkQueue(queue);
      });
      const refused = await runCli(['failed', '--queue', queue], { env });
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toMatch(
        /is a quorum queue, and .* counts every return of a message toward its delivery limit/,
      );
      const forced = await runCli(['failed', '--queue', queue, '--force'], { env });
      expect(forced.exitCode, forced.stderr).toBe(0);
      expect(forced.stdout).toMatch(/^job-1 {2}the command exited with code 1/);
      const moved = await runCli(['failed', '--queue', queue, '--requeue', '--all'], { env });
      expect(moved.exitCode, moved.stderr).toBe(0);
      const [copy] = await takeAll(queue);
      expect(copy?.properties.messageId).toBe('job-1');
      // The broker's own count of the peek's return stays with the failed copy, not the new job.
      expect(copy?.properties.headers?.['x-delivery-count']).toBeUndefined();
    },
  );

  it('refuses contradictory options with exit 2', async () => {
    for (const [args, message] of [
      [['--requeue'], /--requeue needs --all .* or --id/],
      [['--requeue', '--all', '--id', 'x'], /not both/],
      [['--all'], /--all goes with --requeue/],
      [['--requeue', '--all', '--purge'], /--requeue and --purge/],
    ] as const) {
      const result = await runCli(['failed', '--queue', 'q', ...args], { env });
      expect(result.exitCode, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
    }
  });
});
