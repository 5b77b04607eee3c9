import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { eventually, queueState, takeMessages, withChannel } from '../support/amqp.js';
import { closeConnectionsOf, testBroker, uniqueName } from '../support/broker.js';
import { jsonLines, runCli, startCli } from '../support/cli.js';

const broker = testBroker();
const env = { AMQP_URL: broker.amqpUrl };
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Every message of the queue, taken: body and message id. */
async function takeAll(queue: string): Promise<{ body: string; messageId: string | undefined }[]> {
  return (await takeMessages(broker.amqpUrl, queue)).map((message) => ({
    body: message.content.toString(),
    messageId: message.properties.messageId,
  }));
}

/**
 * Writes "x" lines to `stdin`, as fast as it takes them, until `enough()` and then 5,000 more;
 * ends it and resolves how many lines were written.
 */
async function feedLines(stdin: Writable, enough: () => boolean): Promise<number> {
  const chunk = 'x\n'.repeat(500);
  let written = 0;
  let after = 0;
  while (after < 5_000) {
    if (!stdin.write(chunk)) await once(stdin, 'drain');
    written += 500;
    if (enough()) after += 500;
    else await new Promise((resolve) => setImmediate(resolve));
  }
  stdin.end();
  return written;
}

describe('qtool send: job ids', () => {
  it('gives every message a UUID v4 message id of its own, and names a lone one in the summary', async () => {
    const queue = uniqueName('ids');
    const result = await runCli(['send', '--queue', queue, '--count', '50', 'a', 'b'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    const messages = await takeAll(queue);
    expect(messages).toHaveLength(100);
    for (const { messageId } of messages) expect(messageId).toMatch(UUID_V4);
    expect(new Set(messages.map((message) => message.messageId)).size).toBe(100);

    const one = await runCli(['send', '--queue', queue, 'solo'], { env });
    const [solo] = await takeAll(queue);
    expect(one.stderr).toContain(`all confirmed; message id ${solo?.messageId}`);
  });

  it('--json prints one line per confirmed message with its id, then the summary, on stdout', async () => {
    const queue = uniqueName('ids-json');
    const result = await runCli(['send', '--queue', queue, '--json', 'one', 'two', 'three'], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    const lines = jsonLines(result.stdout);
    expect(lines.map((line) => line.event)).toEqual(['confirmed', 'confirmed', 'confirmed', 'summary']);
    expect(lines.slice(0, 3).map((line) => line.body)).toEqual(['one', 'two', 'three']);
    expect(lines[3]).toMatchObject({ sent: 3, confirmed: 3, unconfirmed: 0, routingKey: queue });
    // The ids printed are those the queue holds, message for message.
    const held = await takeAll(queue);
    expect(held.map((message) => message.messageId)).toEqual(lines.slice(0, 3).map((line) => line.messageId));
    for (const { messageId } of held) expect(messageId).toMatch(UUID_V4);
    // No human summary: stdout is the data, and stderr has nothing to add.
    expect(result.stderr).toBe('');
  });

  it('--json says "returned", not "confirmed", for a message that reached no queue', async () => {
    const exchange = uniqueName('ids-nowhere');
    const queue = uniqueName('ids-bound');
    await withChannel(broker.amqpUrl, async (channel) => {
      await channel.assertExchange(exchange, 'direct', { autoDelete: false });
      await channel.assertQueue(queue);
      await channel.bindQueue(queue, exchange, 'kept');
    });
    try {
      const kept = await runCli(['send', '--exchange', exchange, '--routing-key', 'kept', '--json', 'a'], {
        env,
      });
      const lost = await runCli(['send', '--exchange', exchange, '--routing-key', 'nowhere', '--json', 'b'], {
        env,
      });
      expect(jsonLines(kept.stdout).map((line) => line.event)).toEqual(['confirmed', 'summary']);
      const lines = jsonLines(lost.stdout);
      expect(lines.map((line) => line.event)).toEqual(['returned', 'summary']);
      expect(lines[0]).toMatchObject({ body: 'b' });
      expect(lines[0]?.messageId).toMatch(UUID_V4);
      expect(lines[1]).toMatchObject({ sent: 1, confirmed: 0, returned: 1 });
      expect(lost.exitCode).toBe(1);
    } finally {
      await withChannel(broker.amqpUrl, async (channel) => {
        await channel.deleteExchange(exchange);
        await channel.deleteQueue(queue);
      });
    }
  });

  it('--message-id sets the one message id, and is refused with several messages', async () => {
    const queue = uniqueName('ids-given');
    const result = await runCli(['send', '--queue', queue, '--message-id', 'job-42', 'convert a.png'], {
      env,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await takeAll(queue)).toEqual([{ body: 'convert a.png', messageId: 'job-42' }]);

    for (const args of [
      ['a', 'b'],
      ['--count', '2', 'a'],
    ]) {
      const refused = await runCli(['send', '--queue', queue, '--message-id', 'job-43', ...args], { env });
      expect(refused.exitCode).toBe(2);
      expect(refused.stderr).toMatch(
        /--message-id is for one message, given as an argument; here: 2 messages/,
      );
    }
    const piped = await runCli(['send', '--queue', queue, '--message-id', 'job-44'], { env, input: 'x\n' });
    expect(piped.exitCode).toBe(2);
    expect(piped.stderr).toMatch(/here: messages from standard input/);
    const tooLong = await runCli(['send', '--queue', queue, '--message-id', 'x'.repeat(256), 'a'], { env });
    expect(tooLong.exitCode).toBe(2);
    expect(tooLong.stderr).toMatch(/256 bytes long; AMQP allows at most 255/);
    expect(tooLong.stderr).not.toMatch(/\n\s+at /);
    expect(await takeAll(queue)).toEqual([]);
  });

  it.skipIf(!broker.hasCtl)(
    'a message sent again after its connection was closed keeps its id: duplicates are the same job, and each id is confirmed once',
    async () => {
      const queue = uniqueName('ids-again');
      // Lines are fed until the close has been seen and some more went out on the new connection,
      // so the close always lands mid-run (a fixed --count could be all sent and confirmed before
      // rabbitmqctl gets round to it, as it was once on a fast run).
      const sender = startCli(['send', '--queue', queue, '--json'], { env });
      let reconnected = false;
      const feeding = feedLines(sender.process.stdin, () => reconnected);
      await eventually(
        async () => ((await queueState(broker.amqpUrl, queue))?.messageCount ?? 0) >= 1000,
        'the send to be under way',
      );
      expect(await closeConnectionsOf(broker.ctl, sender.process.pid)).toBe(1);
      await sender.waitFor(/connection lost: .*; reconnecting\./, { stream: 'stderr', timeoutMs: 30_000 });
      await sender.waitFor(/reconnected to /, { stream: 'stderr', timeoutMs: 60_000 });
      reconnected = true;
      const total = await feeding;
      const result = await sender.finished(120_000);
      expect(result.exitCode, result.stderr).toBe(0);
      const lines = jsonLines(result.stdout);
      const confirmed = lines.filter((line) => line.event === 'confirmed').map((line) => line.messageId);
      expect(confirmed).toHaveLength(total);
      expect(new Set(confirmed).size).toBe(total);
      // Some were in flight when the connection went: sent again, which is what this is about.
      const summary = lines.find((line) => line.event === 'summary');
      expect(summary?.republished).toBeGreaterThan(0);
      const held = await takeAll(queue);
      expect(held.length).toBeGreaterThanOrEqual(total);
      // However many went twice, the queue holds exactly the ids printed, no other.
      const heldIds = new Set(held.map((message) => message.messageId));
      expect(heldIds.size).toBe(total);
      for (const id of confirmed) expect(heldIds.has(id as string)).toBe(true);
    },
    150_000,
  );

  it.skipIf(!broker.hasCtl)(
    'a line read after the connection went, and never published, is counted neither as sent nor as unconfirmed',
    async () => {
      const queue = uniqueName('ids-unsent');
      const sender = startCli(['send', '--queue', queue, '--json', '--no-reconnect'], { env });
      sender.process.stdin.write('first\n');
      await sender.waitFor(/"event":"confirmed"/);
      expect(await closeConnectionsOf(broker.ctl, sender.process.pid)).toBe(1);
      // The broker has closed it when rabbitmqctl returns; the client reads the close at once.
      sender.process.stdin.end('second\n');
      const result = await sender.finished();
      expect(result.exitCode).toBe(1);
      const summary = jsonLines(result.stdout).find((line) => line.event === 'summary');
      // Before, the unsent line was counted as sent and unconfirmed, and republished read -1.
      expect(summary).toMatchObject({ sent: 1, confirmed: 1, unconfirmed: 0, republished: 0 });
      expect((await takeAll(queue)).map((message) => message.body)).toEqual(['first']);
    },
  );

  it('refuses --json with --no-confirm: without confirms it could not say which messages the broker kept', async () => {
    const result = await runCli(['send', '--queue', uniqueName('ids-nc'), '--json', '--no-confirm', 'a'], {
      env,
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--json cannot go with --no-confirm/);
  });
});
