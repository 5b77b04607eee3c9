import { describe, expect, it } from 'vitest';
import { drain, eventually, queueState, withChannel } from '../support/amqp.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { interruptTwice, jsonLines, runCli, startCli } from '../support/cli.js';

const broker = testBroker();
const env = { AMQP_URL: broker.amqpUrl };

/** A durable queue holding `bodies`, in order, made without qtool. */
async function seed(queue: string, bodies: string[], args: Record<string, unknown> = {}): Promise<void> {
  await withChannel(broker.amqpUrl, async (channel) => {
    await channel.assertQueue(queue, { durable: true, arguments: args });
    for (const body of bodies) channel.sendToQueue(queue, Buffer.from(body));
    // A passive declare after the publishes: the broker has them once it answers.
    await channel.checkQueue(queue);
  });
}

/** The `rabbitmqctl list_queues name durable type arguments` line of one queue, split on tabs. */
async function listed(queue: string): Promise<{ durable: string; type: string; arguments: string }> {
  const output = await broker.ctl(['list_queues', 'name', 'durable', 'type', 'arguments']);
  const line = output.split('\n').find((row) => row.startsWith(`${queue}\t`));
  if (line === undefined) throw new Error(`queue ${queue} not listed:\n${output}`);
  const [, durable = '', type = '', args = ''] = line.split('\t');
  return { durable, type, arguments: args };
}

/** A worker consuming from `queue`, once it says it is waiting. */
async function startWorker(queue: string) {
  const worker = startCli(['qprocessor', '--queue', queue, '--delay-per-char', '0'], { env });
  await worker.waitFor(/waiting for messages/, { stream: 'stderr' });
  return worker;
}

describe('qtool peek', () => {
  it('shows the first n messages and leaves the queue as it was, in order', async () => {
    const queue = uniqueName('peek');
    await seed(queue, ['a', 'b', 'c', 'd', 'e']);
    const result = await runCli(['peek', '--queue', queue, '--count', '3'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe('a\nb\nc\n');
    expect(result.stderr).toMatch(/the first 3 of 5 ready messages/);
    expect(result.stderr).toMatch(/marks them redelivered/);
    expect(await queueState(broker.amqpUrl, queue)).toEqual({ messageCount: 5, consumerCount: 0 });
    expect(await drain(broker.amqpUrl, queue)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('shows one message by default, all of them when fewer than --count, and JSON records like receive', async () => {
    const queue = uniqueName('peek-json');
    await seed(queue, ['first', 'second']);
    const one = await runCli(['peek', '--queue', queue, '--json'], { env });
    expect(one.exitCode, one.stderr).toBe(0);
    const [record, ...rest] = jsonLines(one.stdout);
    expect(rest).toEqual([]);
    expect(record).toMatchObject({ queue, body: 'first', redelivered: false });
    expect(record).toHaveProperty('receivedAt');

    const all = await runCli(['peek', '--queue', queue, '--json', '--count', '10'], { env });
    expect(all.exitCode, all.stderr).toBe(0);
    // The first was peeked at before, so the broker now says it was redelivered.
    expect(jsonLines(all.stdout).map(({ body, redelivered }) => ({ body, redelivered }))).toEqual([
      { body: 'first', redelivered: true },
      { body: 'second', redelivered: false },
    ]);
    expect(all.stderr).toMatch(/all 2 ready messages/);
    expect(await drain(broker.amqpUrl, queue)).toEqual(['first', 'second']);
  });

  it('says an empty queue is empty and exits 0', async () => {
    const queue = uniqueName('peek-empty');
    await seed(queue, []);
    const result = await runCli(['peek', '--queue', queue], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`queue '${queue}' is empty`);
  });

  it('fails on a missing queue without creating it', async () => {
    const queue = uniqueName('peek-missing');
    const result = await runCli(['peek', '--queue', queue], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`qtool: queue '${queue}' does not exist in vhost '/'`);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(await queueState(broker.amqpUrl, queue)).toBeNull();
  });

  // RabbitMQ 4.0 to 4.2 count every return toward a quorum queue's default limit of 20: before
  // peek refused, the 21st peek dropped the message.
  it.runIf(broker.major === 4)(
    'refuses a quorum queue whose broker counts each peek toward the delivery limit; --force peeks and says the count',
    async () => {
      const queue = uniqueName('peek-quorum');
      await seed(queue, ['only'], { 'x-queue-type': 'quorum' });
      for (let peek = 0; peek < 21; peek++) {
        const refused = await runCli(['peek', '--queue', queue], { env });
        expect(refused.exitCode, refused.stderr).toBe(1);
        expect(refused.stdout).toBe('');
        expect(refused.stderr).toContain(
          `qtool: queue '${queue}' is a quorum queue, and RabbitMQ ${broker.version} counts every return`,
        );
        expect(refused.stderr).toMatch(/--force/);
      }
      expect(await queueState(broker.amqpUrl, queue)).toEqual({ messageCount: 1, consumerCount: 0 });

      const forced = await runCli(['peek', '--queue', queue, '--force', '--json'], { env });
      expect(forced.exitCode, forced.stderr).toBe(0);
      expect(jsonLines(forced.stdout)).toMatchObject([{ body: 'only', redelivered: false }]);
      expect(forced.stderr).toMatch(
        /counted one more return for each: the most returned has now come back once/,
      );
      expect(forced.stderr).toMatch(/a quorum queue may not keep their order, and/);
      const again = await runCli(['peek', '--queue', queue, '--force', '--json'], { env });
      expect(jsonLines(again.stdout)).toMatchObject([{ body: 'only', redelivered: true, deliveryCount: 1 }]);
      expect(again.stderr).toMatch(/has now come back 2 times/);
      expect(await drain(broker.amqpUrl, queue)).toEqual(['only']);
    },
  );

  it.runIf(broker.major === 3)(
    'peeks at a quorum queue on RabbitMQ 3.x and says the delivery count went up',
    async () => {
      const queue = uniqueName('peek-quorum');
      await seed(queue, ['a', 'b'], { 'x-queue-type': 'quorum' });
      const first = await runCli(['peek', '--queue', queue, '--count', '2'], { env });
      expect(first.exitCode, first.stderr).toBe(0);
      expect(first.stdout).toBe('a\nb\n');
      expect(first.stderr).toMatch(/raised their x-delivery-count by one \(the most returned: once\)/);
      expect(first.stderr).toMatch(
        /may not keep their order \(RabbitMQ 3\.\d+\.\d+ puts them behind the others\)/,
      );
      const second = await runCli(['peek', '--queue', queue, '--json'], { env });
      expect(jsonLines(second.stdout)).toMatchObject([{ body: 'a', redelivered: true, deliveryCount: 1 }]);
      expect(second.stderr).toMatch(/the most returned: 2 times/);
      // Nothing lost, but not in the order it was: 'a' went behind 'b'.
      expect(await drain(broker.amqpUrl, queue)).toEqual(['b', 'a']);
    },
  );

  it('says nothing of delivery counts for a classic queue', async () => {
    const queue = uniqueName('peek-classic');
    await seed(queue, ['a'], { 'x-queue-type': 'classic' });
    const result = await runCli(['peek', '--queue', queue], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/marks them redelivered\.\n$/);
  });

  it('refuses --count 0 as a usage error', async () => {
    const result = await runCli(['peek', '--count', '0'], { env });
    expect(result.exitCode).toBe(2);
  });
});

describe('qtool purge', () => {
  it('empties the queue and says how many messages it removed', async () => {
    const queue = uniqueName('purge');
    await seed(queue, ['1', '2', '3', '4']);
    const result = await runCli(['purge', '--queue', queue], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe(`purged 4 messages from queue '${queue}'\n`);
    expect(await queueState(broker.amqpUrl, queue)).toEqual({ messageCount: 0, consumerCount: 0 });
  });

  it('fails on a missing queue without creating it', async () => {
    const queue = uniqueName('purge-missing');
    const result = await runCli(['purge', '--queue', queue], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`queue '${queue}' does not exist`);
    expect(await queueState(broker.amqpUrl, queue)).toBeNull();
  });
});

describe('qtool delete', () => {
  it('deletes an idle, empty queue', async () => {
    const queue = uniqueName('delete');
    await seed(queue, []);
    const result = await runCli(['delete', '--queue', queue], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(`deleted queue '${queue}'`);
    expect(await queueState(broker.amqpUrl, queue)).toBeNull();
  });

  it('refuses a queue with a consumer, then deletes it with --force and the worker notices', async () => {
    const queue = uniqueName('delete-busy');
    await seed(queue, []);
    const worker = await startWorker(queue);
    try {
      const refused = await runCli(['delete', '--queue', queue], { env });
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain(`qtool: queue '${queue}' has 1 consumer: not deleting it`);
      expect(refused.stderr).toMatch(/stop its consumers first, or run again with --force/i);
      expect(await queueState(broker.amqpUrl, queue)).toEqual({ messageCount: 0, consumerCount: 1 });

      const forced = await runCli(['delete', '--queue', queue, '--force'], { env });
      expect(forced.exitCode, forced.stderr).toBe(0);
      expect(await queueState(broker.amqpUrl, queue)).toBeNull();
      const ended = await worker.finished();
      expect(ended.exitCode).toBe(1);
      expect(ended.stderr).toContain(`queue '${queue}' was deleted`);
    } finally {
      worker.signal('SIGKILL');
    }
  });

  it('refuses a queue with messages, then deletes it with --force, counting them', async () => {
    const queue = uniqueName('delete-full');
    await seed(queue, ['x', 'y', 'z']);
    const refused = await runCli(['delete', '--queue', queue], { env });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(`queue '${queue}' has 3 messages ready: not deleting it`);
    expect(refused.stderr).toMatch(/discard its 3 messages/);
    expect(await queueState(broker.amqpUrl, queue)).toEqual({ messageCount: 3, consumerCount: 0 });

    const forced = await runCli(['delete', '--queue', queue, '--force'], { env });
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(forced.stdout).toBe(`deleted queue '${queue}' and its 3 messages\n`);
    expect(await queueState(broker.amqpUrl, queue)).toBeNull();
  });

  it('--if-empty: the broker refuses a queue with messages, explained plainly', async () => {
    const queue = uniqueName('delete-if-empty');
    await seed(queue, ['kept']);
    const result = await runCli(['delete', '--queue', queue, '--force', '--if-empty'], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(
      `qtool: the broker did not delete queue '${queue}': it is not empty (1 message), and --if-empty deletes only an empty queue`,
    );
    expect(await drain(broker.amqpUrl, queue)).toEqual(['kept']);
  });

  it('--if-empty alone never deletes a queue whose workers hold messages', async () => {
    const queue = uniqueName('delete-if-empty-busy');
    await seed(queue, ['slow']);
    const worker = startCli(['qprocessor', '--queue', queue, '--acknowledge', '--delay-per-char', '10'], {
      env,
    });
    try {
      await worker.waitFor(/received/);
      // No ready message, one unacked: the protocol's if-empty would let this through.
      const result = await runCli(['delete', '--queue', queue, '--if-empty'], { env });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toContain(`queue '${queue}' has 1 consumer: not deleting it`);
      expect(await queueState(broker.amqpUrl, queue)).toEqual({ messageCount: 0, consumerCount: 1 });
    } finally {
      // Stop at once, leaving 'slow' unacked.
      await interruptTwice(worker);
    }
    expect(await drain(broker.amqpUrl, queue)).toEqual(['slow']);
  });

  it('--force --if-unused: the broker refuses a queue with a consumer, but deletes an unused one with its messages', async () => {
    const queue = uniqueName('delete-if-unused');
    await seed(queue, []);
    const worker = await startWorker(queue);
    try {
      const refused = await runCli(['delete', '--queue', queue, '--force', '--if-unused'], { env });
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain(
        `the broker did not delete queue '${queue}': it is in use (1 consumer), and --if-unused deletes only a queue without consumers`,
      );
      expect(await queueState(broker.amqpUrl, queue)).toEqual({ messageCount: 0, consumerCount: 1 });
    } finally {
      worker.signal('SIGINT');
      await worker.finished();
    }

    await seed(queue, ['a', 'b']);
    const plain = await runCli(['delete', '--queue', queue, '--if-unused'], { env });
    expect(plain.exitCode).toBe(1);
    expect(plain.stderr).toContain('has 2 messages ready: not deleting it');
    const deleted = await runCli(['delete', '--queue', queue, '--force', '--if-unused'], { env });
    expect(deleted.exitCode, deleted.stderr).toBe(0);
    expect(deleted.stdout).toBe(`deleted queue '${queue}' and its 2 messages\n`);
  });

  it('says a missing queue does not exist', async () => {
    const queue = uniqueName('delete-missing');
    const result = await runCli(['delete', '--queue', queue, '--force'], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`queue '${queue}' does not exist in vhost '/'`);
  });
});

describe('qtool declare', () => {
  it.skipIf(!broker.hasCtl)(
    'declares a durable queue with every argument, and its dead-letter queue',
    async () => {
      const queue = uniqueName('declare');
      const dead = `${queue}-dead`;
      const result = await runCli(
        [
          'declare',
          '--queue',
          queue,
          '--max-length',
          '3',
          '--message-ttl',
          '60000',
          '--dead-letter-queue',
          dead,
        ],
        { env },
      );
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toContain(
        `declared queue '${queue}' (durable, max-length 3, message-ttl 60000 ms, dead-letter-queue '${dead}')`,
      );
      expect(result.stdout).toContain(`declared dead-letter queue '${dead}' (durable)`);

      const main = await listed(queue);
      expect(main.durable).toBe('true');
      expect(main.type).toBe('classic');
      expect(main.arguments).toContain('{"x-max-length",3}');
      expect(main.arguments).toContain('{"x-message-ttl",60000}');
      expect(main.arguments).toContain(`{"x-dead-letter-routing-key","${dead}"}`);
      expect(main.arguments).toContain('"x-dead-letter-exchange"');
      expect((await listed(dead)).durable).toBe('true');
    },
  );

  it.skipIf(!broker.hasCtl).each(['quorum', 'stream'])('--queue-type %s declares that type', async (type) => {
    const queue = uniqueName(`declare-${type}`);
    const result = await runCli(['declare', '--queue', queue, '--queue-type', type], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(`declared queue '${queue}' (durable, ${type})`);
    expect(await listed(queue)).toMatchObject({ durable: 'true', type });
  });

  it.skipIf(!broker.hasCtl)(
    '--no-durable declares a non-durable classic queue where the broker allows it',
    async () => {
      const queue = uniqueName('declare-transient');
      const result = await runCli(['declare', '--queue', queue, '--no-durable', '--queue-type', 'classic'], {
        env,
      });
      if (result.exitCode === 1) {
        expect(result.stderr).toMatch(/refuses non-durable queues/); // RabbitMQ 4.3+
        return;
      }
      expect(result.exitCode, result.stderr).toBe(0);
      expect(await listed(queue)).toMatchObject({ durable: 'false', type: 'classic' });
    },
  );

  it('--max-length keeps only the newest n messages', async () => {
    const queue = uniqueName('declare-max');
    const declared = await runCli(['declare', '--queue', queue, '--max-length', '3'], { env });
    expect(declared.exitCode, declared.stderr).toBe(0);
    const sent = await runCli(['send', '--queue', queue, '1', '2', '3', '4', '5'], { env });
    expect(sent.exitCode, sent.stderr).toBe(0);
    expect(await queueState(broker.amqpUrl, queue)).toEqual({ messageCount: 3, consumerCount: 0 });
    expect(await drain(broker.amqpUrl, queue)).toEqual(['3', '4', '5']);
  });

  it('--message-ttl makes messages expire', async () => {
    const queue = uniqueName('declare-ttl');
    const declared = await runCli(['declare', '--queue', queue, '--message-ttl', '200'], { env });
    expect(declared.exitCode, declared.stderr).toBe(0);
    await runCli(['send', '--queue', queue, 'short-lived'], { env });
    await eventually(
      async () => (await queueState(broker.amqpUrl, queue))?.messageCount === 0,
      'the message to expire',
    );
  });

  it('--dead-letter-queue receives rejected and expired messages', async () => {
    const queue = uniqueName('declare-dlx');
    const dead = `${queue}-dead`;
    const declared = await runCli(
      ['declare', '--queue', queue, '--dead-letter-queue', dead, '--message-ttl', '1500'],
      { env },
    );
    expect(declared.exitCode, declared.stderr).toBe(0);

    await runCli(['send', '--queue', queue, 'rejected'], { env });
    await withChannel(broker.amqpUrl, async (channel) => {
      const message = await channel.get(queue, { noAck: false });
      if (message === false) throw new Error('no message to reject');
      channel.reject(message, false);
      await channel.checkQueue(queue);
    });
    await eventually(
      async () => (await queueState(broker.amqpUrl, dead))?.messageCount === 1,
      'the rejected message in the dead-letter queue',
    );

    await runCli(['send', '--queue', queue, 'expired'], { env });
    await eventually(
      async () => (await queueState(broker.amqpUrl, dead))?.messageCount === 2,
      'the expired message in the dead-letter queue',
    );
    expect(await drain(broker.amqpUrl, dead)).toEqual(['rejected', 'expired']);
  });

  it('without settings, uses an existing queue as it is, whatever its flags, and creates a missing one durable', async () => {
    const existing = uniqueName('declare-bare');
    await withChannel(broker.amqpUrl, async (channel) => {
      await channel.assertQueue(existing, { durable: false, arguments: { 'x-max-length': 7 } });
    });
    const used = await runCli(['declare', '--queue', existing], { env });
    expect(used.exitCode, used.stderr).toBe(0);
    expect(used.stdout).toContain(
      `queue '${existing}' already exists; used as it is (no settings asked for)`,
    );

    const missing = uniqueName('declare-bare-new');
    const created = await runCli(['declare', '--queue', missing], { env });
    expect(created.exitCode, created.stderr).toBe(0);
    expect(created.stdout).toContain(`declared queue '${missing}' (durable)`);
    expect(await queueState(broker.amqpUrl, missing)).toEqual({ messageCount: 0, consumerCount: 0 });

    // Asking for a setting is explicit: then a difference is reported.
    const asked = await runCli(['declare', '--queue', existing, '--durable'], { env });
    expect(asked.exitCode).toBe(1);
    expect(asked.stderr).toContain('but this declare asked for a durable queue');
  });

  it('says an identical re-declare found the queue as declared', async () => {
    const queue = uniqueName('declare-again');
    const args = ['declare', '--queue', queue, '--max-length', '10'];
    expect((await runCli(args, { env })).exitCode).toBe(0);
    await seed(queue, ['m'], { 'x-max-length': 10 });
    const again = await runCli(args, { env });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toContain(`queue '${queue}' already exists as declared (durable, max-length 10)`);
    expect(again.stdout).toContain('1 ready message');
  });

  it('explains a conflicting re-declare: the argument, what exists, what was asked, the fix', async () => {
    const queue = uniqueName('declare-conflict');
    expect((await runCli(['declare', '--queue', queue, '--max-length', '3'], { env })).exitCode).toBe(0);
    const result = await runCli(['declare', '--queue', queue, '--max-length', '5'], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(
      `qtool: queue '${queue}' already exists with a different max length (x-max-length): it has max length 3, but this declare asked for max length 5`,
    );
    expect(result.stderr).toContain(`qtool delete --queue ${queue} --force`);
    expect(result.stderr).not.toMatch(/\n\s+at /);

    const type = await runCli(['declare', '--queue', queue, '--max-length', '3', '--queue-type', 'quorum'], {
      env,
    });
    expect(type.exitCode).toBe(1);
    expect(type.stderr).toMatch(
      /different type \(x-queue-type\): .* but this declare asked for a quorum queue/,
    );

    // The queue is unchanged: still at most 3 messages.
    await runCli(['send', '--queue', queue, '1', '2', '3', '4'], { env });
    expect(await queueState(broker.amqpUrl, queue)).toEqual({ messageCount: 3, consumerCount: 0 });
  });

  it('does not create the dead-letter queue when the queue itself conflicts', async () => {
    const queue = uniqueName('declare-conflict-dlx');
    await seed(queue, [], { 'x-max-length': 3 });
    const result = await runCli(['declare', '--queue', queue, '--dead-letter-queue', `${queue}-dead`], {
      env,
    });
    expect(result.exitCode).toBe(1);
    expect(await queueState(broker.amqpUrl, `${queue}-dead`)).toBeNull();
  });

  it.each([
    [['--queue-type', 'bogus']],
    [['--queue-type', 'quorum', '--no-durable']],
    [['--queue-type', 'stream', '--no-durable']],
    [['--queue-type', 'stream', '--max-length', '3']],
    [['--max-length', 'lots']],
    [['--max-length', '-1']],
    [['--message-ttl', '1.5']],
    [['--dead-letter-queue', '']],
  ])('refuses %j as a usage error (exit 2) without creating anything', async (flags) => {
    const queue = uniqueName('declare-usage');
    const result = await runCli(['declare', '--queue', queue, ...flags], { env });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await queueState(broker.amqpUrl, queue)).toBeNull();
  });

  it('refuses a queue as its own dead-letter queue (exit 2)', async () => {
    const queue = uniqueName('declare-self');
    const result = await runCli(['declare', '--queue', queue, '--dead-letter-queue', queue], { env });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--dead-letter-queue must name another queue');
  });
});
