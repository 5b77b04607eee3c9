import { describe, expect, it } from 'vitest';
import { drain, queueState, withChannel } from '../support/amqp.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { jsonLines, type RunningCli, runCli, startCli } from '../support/cli.js';

const broker = testBroker();
const env = { AMQP_URL: broker.amqpUrl };
const TYPES = ['classic', 'quorum', 'stream'] as const;

/**
 * The queue's type as the broker sees it: the one type it accepts in a durable redeclare (a
 * redeclare with another type is refused with 406). Needs no rabbitmqctl, so it holds on any broker.
 */
async function typeOf(queue: string): Promise<string[]> {
  const accepted: string[] = [];
  for (const type of TYPES) {
    try {
      await withChannel(broker.amqpUrl, (channel) =>
        channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': type } }),
      );
      accepted.push(type);
    } catch (error) {
      if ((error as { code?: number }).code !== 406) throw error;
    }
  }
  return accepted;
}

async function declareDirectly(queue: string, args: Record<string, unknown>): Promise<void> {
  await withChannel(broker.amqpUrl, (channel) =>
    channel.assertQueue(queue, { durable: true, arguments: args }),
  );
}

async function stop(worker: RunningCli) {
  worker.signal('SIGINT');
  return worker.finished();
}

describe('--queue-type', () => {
  it.each(TYPES)('declare --queue-type %s declares that type', async (type) => {
    const queue = uniqueName(`qt-declare-${type}`);
    const result = await runCli(['declare', '--queue', queue, '--queue-type', type], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(`declared queue '${queue}' (durable, ${type})`);
    expect(await typeOf(queue)).toEqual([type]);
  });

  it("declare's earlier --type still works", async () => {
    const queue = uniqueName('qt-declare-alias');
    const result = await runCli(['declare', '--queue', queue, '--type', 'quorum'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await typeOf(queue)).toEqual(['quorum']);
  });

  it('send, receive and qprocessor create the queue with the type asked for', async () => {
    const sendQueue = uniqueName('qt-send');
    const sent = await runCli(['send', '--queue', sendQueue, '--queue-type', 'quorum', 'x'], { env });
    expect(sent.exitCode, sent.stderr).toBe(0);
    expect(await typeOf(sendQueue)).toEqual(['quorum']);

    const receiveQueue = uniqueName('qt-receive');
    const received = await runCli(
      [
        'receive',
        '--queue',
        receiveQueue,
        '--queue-type',
        'stream',
        '--acknowledge',
        '--prefetch',
        '10',
        '--idle-timeout',
        '0.3',
      ],
      { env },
    );
    expect(received.exitCode, received.stderr).toBe(0);
    expect(await typeOf(receiveQueue)).toEqual(['stream']);

    const workerQueue = uniqueName('qt-worker');
    const worker = startCli(['qprocessor', '--queue', workerQueue, '--queue-type', 'quorum'], { env });
    await worker.waitFor(/waiting for messages/, { stream: 'stderr' });
    expect((await stop(worker)).exitCode).toBe(0);
    expect(await typeOf(workerQueue)).toEqual(['quorum']);
  });

  it('stops when the queue exists with another type, saying which and how to fix it', async () => {
    const queue = uniqueName('qt-mismatch');
    // x-max-length is compared before x-queue-type: qtool must see through it.
    await declareDirectly(queue, { 'x-queue-type': 'quorum', 'x-max-length': 100 });
    const result = await runCli(['send', '--queue', queue, '--queue-type', 'classic', 'x'], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(
      `queue '${queue}' already exists as a quorum queue, but --queue-type classic was asked for`,
    );
    expect(result.stderr).toMatch(/PRECONDITION_FAILED, inequivalent arg 'x-queue-type'/);
    expect(result.stderr).toMatch(
      /Leave out --queue-type .* or delete it first \(qtool delete --queue \S+ --force/,
    );
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await drain(broker.amqpUrl, queue)).toEqual([]); // nothing was sent

    // The same type, or none asked for: the queue is used as it is.
    for (const flags of [['--queue-type', 'quorum'], []]) {
      const sent = await runCli(['send', '--queue', queue, ...flags, 'kept'], { env });
      expect(sent.exitCode, sent.stderr).toBe(0);
    }
    expect(await drain(broker.amqpUrl, queue)).toEqual(['kept', 'kept']);
  });

  it('names a non-durable classic queue as such when asked for a quorum queue', async () => {
    const queue = uniqueName('qt-transient-exists');
    const made = await withChannel(broker.amqpUrl, (channel) =>
      channel.assertQueue(queue, { durable: false }),
    ).then(
      () => true,
      () => false, // RabbitMQ 4.3+ may refuse non-durable queues altogether
    );
    if (!made) return;
    const result = await runCli(['receive', '--queue', queue, '--queue-type', 'quorum', '--count', '1'], {
      env,
    });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(
      `queue '${queue}' already exists as a non-durable classic queue, but --queue-type quorum was asked for`,
    );
  });

  it.each(['send', 'receive', 'qprocessor', 'declare'])(
    '%s refuses --queue-type quorum with --no-durable in one line (exit 2), creating nothing',
    async (command) => {
      const queue = uniqueName('qt-transient');
      const result = await runCli([command, '--queue', queue, '--queue-type', 'quorum', '--no-durable'], {
        env,
      });
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toBe(
        'qtool: --no-durable cannot go with --queue-type quorum: quorum queues are always durable (leave out --no-durable, or use --queue-type classic)\n',
      );
      expect(await queueState(broker.amqpUrl, queue)).toBeNull();
    },
  );

  it('a quorum redelivery shows x-delivery-count in qprocessor lines and JSON, and in receive --json', async () => {
    const queue = uniqueName('qt-count');
    const messages = ['a', 'b', 'c', 'd', 'e', 'f'];
    const sent = await runCli(['send', '--queue', queue, '--queue-type', 'quorum', ...messages], { env });
    expect(sent.exitCode, sent.stderr).toBe(0);

    // A worker that takes them all and crashes: the broker counts each as a failed delivery.
    const crashed = await runCli(
      [
        'qprocessor',
        '--queue',
        queue,
        '--acknowledge',
        '--prefetch',
        String(messages.length),
        '--lose-every',
        '1',
        '--on-lose',
        'crash',
        '--delay-per-char',
        '0',
      ],
      { env },
    );
    expect(crashed.exitCode, crashed.stderr).toBe(3);
    // A first delivery carries no count (RabbitMQ 3.10 and 4.x alike).
    expect(crashed.stdout).not.toMatch(/x-delivery-count/);

    const human = startCli(
      [
        'qprocessor',
        '--queue',
        queue,
        '--name',
        'h',
        '--acknowledge',
        '--prefetch',
        '1',
        // A second a message: stopped after its first, it takes at most one more (the one in hand),
        // so messages are left for the next worker (at 0 s it could drain all six before the stop).
        '--delay-per-char',
        '1',
      ],
      { env },
    );
    await human.waitFor(/processed/);
    await stop(human);
    expect(human.stdout()).toMatch(/received {2}"[a-f]" \(redelivered, x-delivery-count [1-9]\d*\)/);
    // The delivery limit's notice, without assuming a version's default.
    expect(human.stderr()).toContain(`h '${queue}' is a quorum queue: `);
    expect(human.stderr()).toMatch(/x-delivery-limit/);

    const json = startCli(
      ['qprocessor', '--queue', queue, '--json', '--acknowledge', '--prefetch', '1', '--delay-per-char', '1'],
      { env },
    );
    await json.waitFor(/"event":"acked"/);
    await stop(json);
    const [received] = jsonLines(json.stdout()).filter((event) => event.event === 'received');
    expect(received).toMatchObject({ redelivered: true });
    expect(received?.deliveryCount).toBeGreaterThanOrEqual(1);

    const read = await runCli(['receive', '--queue', queue, '--json', '--count', '1'], { env });
    expect(read.exitCode, read.stderr).toBe(0);
    const [record] = jsonLines(read.stdout);
    expect(record?.deliveryCount).toBeGreaterThanOrEqual(1);
    expect(record?.deliveryCount).toBe(
      (record?.properties as { headers?: Record<string, unknown> } | undefined)?.headers?.[
        'x-delivery-count'
      ],
    );
  });

  it('with auto-ack, qprocessor says nothing of a delivery limit (nothing goes back to the queue)', async () => {
    const queue = uniqueName('qt-auto');
    const worker = startCli(['qprocessor', '--queue', queue, '--queue-type', 'quorum', '--name', 'a'], {
      env,
    });
    await worker.waitFor(/waiting for messages/, { stream: 'stderr' });
    await stop(worker);
    expect(worker.stderr()).not.toMatch(/is a quorum queue/);
  });

  it('a stream must be read with --acknowledge and --prefetch: refused before connecting, or explained', async () => {
    const queue = uniqueName('qt-stream');
    const refused = await runCli(['receive', '--queue', queue, '--queue-type', 'stream'], { env });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/^qtool: reading a stream needs --acknowledge and --prefetch n: /);
    expect(await queueState(broker.amqpUrl, queue)).toBeNull();

    const worker = await runCli(['qprocessor', '--queue', queue, '--queue-type', 'stream', '--acknowledge'], {
      env,
    });
    expect(worker.exitCode).toBe(2);
    expect(worker.stderr).toMatch(/^qtool: reading a stream needs --prefetch n: /);

    // An existing stream, read without --queue-type: the broker's refusal, in plain words.
    await declareDirectly(queue, { 'x-queue-type': 'stream' });
    const plain = await runCli(['receive', '--queue', queue, '--idle-timeout', '5'], { env });
    expect(plain.exitCode).toBe(1);
    expect(plain.stderr).toContain(
      `qtool: queue '${queue}' is a stream: RabbitMQ serves a stream only to consumers with manual acks and a prefetch limit`,
    );
    expect(plain.stderr).not.toMatch(/\n\s+at /);
  });
});
