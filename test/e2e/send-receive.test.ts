import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drain, queueState, withChannel } from '../support/amqp.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { jsonLines, runCli, startCli } from '../support/cli.js';

const broker = testBroker();
const env = { AMQP_URL: broker.amqpUrl };
let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'qtool-send-'));
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('qtool send', () => {
  it('sends each argument as one message and reports a summary on stderr', async () => {
    const queue = uniqueName('args');
    const result = await runCli(['send', '--queue', queue, 'hello', 'world'], { env });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`sent 2 messages .*to queue '${queue}'.*msg/s, all confirmed`));
    expect(await drain(broker.amqpUrl, queue)).toEqual(['hello', 'world']);
  });

  it('sends each line of standard input, streaming, skipping blank lines', async () => {
    const queue = uniqueName('stdin');
    const result = await runCli(['send', '--queue', queue], { env, input: 'one\ntwo\r\n\nthree' });
    expect(result.exitCode).toBe(0);
    expect(await drain(broker.amqpUrl, queue)).toEqual(['one', 'two', 'three']);
  });

  it('sends each line of --file, and the whole set --count times', async () => {
    const queue = uniqueName('file');
    const path = join(folder, 'lines.txt');
    await writeFile(path, 'a\nb\n');
    const result = await runCli(['send', '--queue', queue, '--file', path, '--count', '3'], { env });
    expect(result.exitCode).toBe(0);
    expect(await drain(broker.amqpUrl, queue)).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
  });

  it('pipelines confirms over many messages and loses none', async () => {
    const queue = uniqueName('many');
    const result = await runCli(['send', '--queue', queue, '--count', '5000', 'x'], { env });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/sent 5,000 messages/);
    expect((await queueState(broker.amqpUrl, queue))?.messageCount).toBe(5000);
  });

  it('marks messages persistent only with --persistent', async () => {
    const queue = uniqueName('persist');
    await runCli(['send', '--queue', queue, 'transient'], { env });
    await runCli(['send', '--queue', queue, '--persistent', 'persistent'], { env });
    const modes = await withChannel(broker.amqpUrl, async (channel) => {
      const found: (number | undefined)[] = [];
      for (;;) {
        const message = await channel.get(queue, { noAck: true });
        if (message === false) return found;
        found.push(message.properties.deliveryMode);
      }
    });
    expect(modes[0]).not.toBe(2);
    expect(modes[1]).toBe(2);
  });

  it('publishes to --exchange with --routing-key, and fails with a count when nothing is bound', async () => {
    const exchange = uniqueName('ex');
    const queue = uniqueName('bound');
    await withChannel(broker.amqpUrl, async (channel) => {
      await channel.assertExchange(exchange, 'direct', { durable: false, autoDelete: false });
      await channel.assertQueue(queue, { durable: true });
      await channel.bindQueue(queue, exchange, 'green');
    });
    const routed = await runCli(['send', '--exchange', exchange, '--routing-key', 'green', 'm1', 'm2'], {
      env,
    });
    expect(routed.exitCode).toBe(0);
    expect(await drain(broker.amqpUrl, queue)).toEqual(['m1', 'm2']);

    const unroutable = await runCli(['send', '--exchange', exchange, '--routing-key', 'red', 'a', 'b', 'c'], {
      env,
    });
    expect(unroutable.exitCode).toBe(1);
    expect(unroutable.stderr).toMatch(/3 of 3 messages .* failed: 3 unroutable/);
    expect(unroutable.stderr).toMatch(/0 of 3 messages sent were confirmed/);
    await withChannel(broker.amqpUrl, (channel) => channel.deleteExchange(exchange));
  });

  it('exits 1 saying how many the broker refused (nack) and how many it confirmed', async () => {
    const queue = uniqueName('full');
    // A full queue that rejects publishes makes the broker nack them.
    await withChannel(broker.amqpUrl, (channel) =>
      channel.assertQueue(queue, {
        durable: true,
        arguments: { 'x-max-length': 2, 'x-overflow': 'reject-publish' },
      }),
    );
    const result = await runCli(['send', '--queue', queue, 'a', 'b', 'c', 'd', 'e'], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/3 of 5 messages to queue '.*' failed: 3 refused by the broker \(nack\)/);
    expect(result.stderr).toMatch(/2 of 5 messages sent were confirmed/);
    expect(await drain(broker.amqpUrl, queue)).toEqual(['a', 'b']);
  });

  it('accepts connection options before the subcommand too', async () => {
    const queue = uniqueName('global');
    const result = await runCli(['--queue', queue, 'send', 'before'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await drain(broker.amqpUrl, queue)).toEqual(['before']);
  });

  it('says plainly when the exchange does not exist', async () => {
    const result = await runCli(['send', '--exchange', uniqueName('missing'), 'x'], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/exchange '.*' does not exist in vhost '\/'/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('sends without confirms with --no-confirm and stays quiet with --quiet', async () => {
    const queue = uniqueName('noconfirm');
    const result = await runCli(['send', '--queue', queue, '--no-confirm', '--quiet', 'a', 'b'], { env });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
    expect(await drain(broker.amqpUrl, queue)).toEqual(['a', 'b']);
  });

  it('refuses a message larger than the broker accepts and says how many were confirmed', async () => {
    const queue = uniqueName('big');
    const path = join(folder, 'big.txt');
    // Two small lines, then one of 17 MiB: over the 16 MiB limit of RabbitMQ 4.x and of the test broker.
    await writeFile(path, `small1\nsmall2\n${'x'.repeat(17 * 1024 * 1024)}\n`);
    const result = await runCli(['send', '--queue', queue, '--file', path], { env, timeoutMs: 60_000 });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/too large/);
    expect(result.stderr).toMatch(/2 of 3 messages sent were confirmed/);
    expect(await drain(broker.amqpUrl, queue)).toEqual(['small1', 'small2']);
  });
});

describe('qtool receive', () => {
  it('prints each body on its own line and, with --idle-timeout, exits 0 when the queue stays empty', async () => {
    const queue = uniqueName('recv');
    await runCli(['send', '--queue', queue, 'first', 'second'], { env });
    const result = await runCli(['receive', '--queue', queue, '--idle-timeout', '1'], { env });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('first\nsecond\n');
    expect(result.stderr).toMatch(/No message for 1 s; received 2 messages/);
    expect((await queueState(broker.amqpUrl, queue))?.messageCount).toBe(0);
  });

  it('receives messages sent after it started', async () => {
    const queue = uniqueName('live');
    const receiver = startCli(['receive', '--queue', queue, '--count', '2'], { env });
    await receiver.waitFor(/Waiting for messages/, { stream: 'stderr' });
    await runCli(['send', '--queue', queue, 'late1', 'late2'], { env });
    const result = await receiver.finished();
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('late1\nlate2\n');
  });

  it('with --count takes exactly n and never touches the rest: they are not even marked redelivered', async () => {
    const queue = uniqueName('count');
    await runCli(['send', '--queue', queue, '1', '2', '3', '4', '5', '6', '7', '8'], { env });
    for (const [args, expected] of [
      [['--count', '2'], '1\n2\n'],
      [['--count', '3', '--prefetch', '1'], '3\n4\n5\n'],
    ] as const) {
      const result = await runCli(['receive', '--queue', queue, ...args], { env });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toBe(expected);
    }
    // Had the broker sent more than --count, the extras would be back in the queue as redelivered.
    const rest = await withChannel(broker.amqpUrl, async (channel) => {
      const messages: { body: string; redelivered: boolean }[] = [];
      for (
        let message = await channel.get(queue, { noAck: true });
        message;
        message = await channel.get(queue, { noAck: true })
      ) {
        messages.push({ body: message.content.toString(), redelivered: message.fields.redelivered });
      }
      return messages;
    });
    expect(rest).toEqual(['6', '7', '8'].map((body) => ({ body, redelivered: false })));
  });

  it('with --acknowledge --prefetch acks what it printed, nothing more', async () => {
    const queue = uniqueName('ack');
    await runCli(['send', '--queue', queue, 'a', 'b', 'c'], { env });
    const result = await runCli(
      ['receive', '--queue', queue, '--acknowledge', '--prefetch', '1', '--count', '1'],
      {
        env,
      },
    );
    expect(result.stdout).toBe('a\n');
    expect(await drain(broker.amqpUrl, queue)).toEqual(['b', 'c']);
  });

  it('prints JSON records, with base64 for bodies that are not UTF-8', async () => {
    const queue = uniqueName('json');
    await withChannel(broker.amqpUrl, async (channel) => {
      await channel.assertQueue(queue, { durable: true });
      channel.sendToQueue(queue, Buffer.from('text'), { contentType: 'text/plain' });
      channel.sendToQueue(queue, Buffer.from([0xff, 0x00, 0xfe]));
      await channel.checkQueue(queue); // a round trip, so both publishes have arrived
    });
    const result = await runCli(['receive', '--queue', queue, '--json', '--count', '2'], { env });
    const [text, binary] = jsonLines(result.stdout);
    expect(text).toMatchObject({
      queue,
      body: 'text',
      redelivered: false,
      properties: { contentType: 'text/plain' },
    });
    expect(text).not.toHaveProperty('encoding');
    expect(typeof text?.deliveryTag).toBe('number');
    expect(Number.isNaN(Date.parse(String(text?.receivedAt)))).toBe(false);
    expect(binary).toMatchObject({
      body: Buffer.from([0xff, 0x00, 0xfe]).toString('base64'),
      encoding: 'base64',
    });
  });

  it('stops with a plain message when the queue is deleted under it', async () => {
    const queue = uniqueName('deleted');
    const receiver = startCli(['receive', '--queue', queue], { env });
    await receiver.waitFor(/Waiting for messages/, { stream: 'stderr' });
    await withChannel(broker.amqpUrl, (channel) => channel.deleteQueue(queue));
    const result = await receiver.finished();
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`queue '${queue}' was deleted`));
  });

  it('stops cleanly on Ctrl-C', async () => {
    const queue = uniqueName('sigint');
    const receiver = startCli(['receive', '--queue', queue], { env });
    await receiver.waitFor(/Waiting for messages/, { stream: 'stderr' });
    receiver.signal('SIGINT');
    const result = await receiver.finished();
    expect(result.exitCode).toBe(0);
    expect((await queueState(broker.amqpUrl, queue))?.consumerCount).toBe(0);
  });
});

describe('vhosts and users like the lab', () => {
  it.skipIf(!broker.hasCtl)(
    'works in a student vhost with its own user, and in a vhost with a slash',
    async () => {
      const user = uniqueName('student');
      const password = '1Password';
      for (const vhost of [user, `${user}/sub`]) {
        await broker.ctl(['add_vhost', vhost]);
      }
      await broker.ctl(['add_user', user, password]);
      for (const vhost of [user, `${user}/sub`]) {
        await broker.ctl(['set_permissions', '-p', vhost, user, '.*', '.*', '.*']);
      }
      const { port, hostname } = new URL(broker.amqpUrl);
      try {
        for (const vhost of [user, `${user}/sub`]) {
          const options = [
            '--host',
            hostname,
            '--port',
            port,
            '--vhost',
            vhost,
            '--username',
            user,
            '--password',
            password,
          ];
          const sent = await runCli(['send', ...options, '--queue', 'hello', `in ${vhost}`], {});
          expect(sent.exitCode, sent.stderr).toBe(0);
          expect(sent.stderr).toContain(`/${encodeURIComponent(vhost)} `);
          expect(sent.stderr).not.toContain(password);
          const received = await runCli(['receive', ...options, '--queue', 'hello', '--count', '1'], {});
          expect(received.stdout).toBe(`in ${vhost}\n`);
        }
        // The same through the environment, as a student would put it in their shell profile.
        const viaEnv = await runCli(['send', 'via-env'], {
          env: {
            QTOOL_HOST: `${hostname}:${port}`,
            QTOOL_VHOST: user,
            QTOOL_USERNAME: user,
            QTOOL_PASSWORD: password,
            QTOOL_QUEUE: 'hello',
          },
        });
        expect(viaEnv.exitCode, viaEnv.stderr).toBe(0);
        expect(viaEnv.stderr).toContain(`queue 'hello' on amqp://${user}@`);
      } finally {
        await broker.ctl(['delete_user', user]).catch(() => {});
        for (const vhost of [user, `${user}/sub`]) await broker.ctl(['delete_vhost', vhost]).catch(() => {});
      }
    },
    // Eight rabbitmqctl runs, each an Erlang VM of its own: seconds apiece on a busy machine.
    120_000,
  );
});
