import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalNode } from '../../src/broker/local-node.js';
import { deleteQueue, drain, eventually, queueState, withChannel } from '../support/amqp.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { runCli, startCli } from '../support/cli.js';
import { canStartTestNodes, startTestNode } from '../support/nodes.js';

/**
 * `qtool send` never loses, leaks or misreports: Ctrl-C, a blocking broker, --no-confirm and odd
 * option values all end with an exact account of what the broker has.
 */
const broker = testBroker();
const env = { AMQP_URL: broker.amqpUrl };
const STACK_LINE = /\n\s+at /;

/** The numbers of an account line: "C of N messages sent were confirmed by the broker". */
function confirmedOf(stderr: string): { confirmed: number; sent: number } {
  const match = /([\d,]+) of ([\d,]+) messages? sent (?:was|were) confirmed/.exec(stderr);
  if (!match) throw new Error(`no account in:\n${stderr}`);
  const number = (text: string) => Number(text.replace(/,/g, ''));
  return { confirmed: number(match[1] as string), sent: number(match[2] as string) };
}

describe('Ctrl-C while send reads standard input', () => {
  it('stops reading, waits for the confirms, and exits 130 with a summary that matches the queue', async () => {
    const queue = uniqueName('stdin-sigint');
    const sender = startCli(['send', '--queue', queue], { env });
    try {
      sender.process.stdin.write('one\ntwo\nthree\n');
      await eventually(
        async () => (await queueState(broker.amqpUrl, queue))?.messageCount === 3,
        'the three lines in the queue',
      );
      sender.signal('SIGINT');
      const result = await sender.finished(15_000);
      expect(result.stderr).not.toMatch(/Premature close/);
      expect(result.exitCode, result.stderr).toBe(130);
      const summary =
        /interrupted after sending (\d+) messages \(transient\) to queue '[^']+' on .*, all confirmed/.exec(
          result.stderr,
        );
      expect(summary, result.stderr).not.toBeNull();
      expect(Number(summary?.[1])).toBe((await queueState(broker.amqpUrl, queue))?.messageCount);
    } finally {
      sender.process.stdin.destroy();
      await deleteQueue(broker.amqpUrl, queue);
    }
  });
});

describe('--no-confirm still hears from the broker', () => {
  it('reports an unroutable message: exit 1 with the account', async () => {
    const result = await runCli(
      ['send', '--no-confirm', '--exchange', 'amq.direct', '--routing-key', uniqueName('nobody'), 'hi'],
      { env },
    );
    expect(result.exitCode).toBe(1);
    expect(result.stderr).not.toMatch(/^sent 1 message/m);
    expect(result.stderr).toMatch(/1 of 1 message to exchange 'amq.direct' .* failed: 1 unroutable/);
    expect(result.stderr).toMatch(
      /1 message was handed to the broker without confirms; it routed 0 to a queue and returned 1 as unroutable/,
    );
  });

  it('reports a missing exchange: exit 1 with the account', async () => {
    const exchange = uniqueName('missing');
    const result = await runCli(['send', '--no-confirm', '--exchange', exchange, 'a', 'b'], { env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`exchange '${exchange}' does not exist in vhost '/'`));
    expect(result.stderr).toMatch(/None of the 2 messages reached a queue/);
    expect(result.stderr).not.toMatch(/may or may not|gave no account/);
    expect(result.stderr).not.toMatch(STACK_LINE);
    // With confirms, the same plain account.
    const confirmed = await runCli(['send', '--exchange', exchange, 'a'], { env });
    expect(confirmed.exitCode).toBe(1);
    expect(confirmed.stderr).toMatch(/The message did not reach a queue/);
  });

  it('reports a message over the broker\'s maximum size instead of "sent"', async () => {
    const queue = uniqueName('big-noconfirm');
    try {
      // 17 MiB: over the 16 MiB limit of RabbitMQ 4.x and of the test broker.
      const input = `small\n${'x'.repeat(17 * 1024 * 1024)}\n`;
      const result = await runCli(['send', '--queue', queue, '--no-confirm'], {
        env,
        input,
        timeoutMs: 60_000,
      });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(/too large/);
      expect(result.stderr).toMatch(/2 messages were handed to the broker without confirms/);
      expect(result.stderr).not.toMatch(STACK_LINE);
      expect(await drain(broker.amqpUrl, queue)).toEqual(['small']);
    } finally {
      await deleteQueue(broker.amqpUrl, queue);
    }
  });

  it('still exits 0 when every message was routed', async () => {
    const queue = uniqueName('noconfirm-ok');
    try {
      const result = await runCli(['send', '--queue', queue, '--no-confirm', 'a', 'b'], { env });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/sent 2 messages .* without confirms/);
      expect(await drain(broker.amqpUrl, queue)).toEqual(['a', 'b']);
    } finally {
      await deleteQueue(broker.amqpUrl, queue);
    }
  });
});

describe('option values the broker would misread are refused up front', () => {
  it('refuses an empty --routing-key through the default exchange (it would make a server-named queue)', async () => {
    const result = await runCli(['send', '--routing-key', '', 'x'], { env });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--routing-key is empty, but through the default exchange/);
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  it('accepts an empty --routing-key with a named exchange (a fanout ignores it)', async () => {
    const exchange = uniqueName('fan');
    const queue = uniqueName('fan-q');
    await withChannel(broker.amqpUrl, async (channel) => {
      await channel.assertExchange(exchange, 'fanout', { durable: false });
      await channel.assertQueue(queue, { durable: true });
      await channel.bindQueue(queue, exchange, '');
    });
    try {
      const result = await runCli(['send', '--exchange', exchange, '--routing-key', '', 'fanned'], { env });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(await drain(broker.amqpUrl, queue)).toEqual(['fanned']);
    } finally {
      await deleteQueue(broker.amqpUrl, queue);
      await withChannel(broker.amqpUrl, (channel) => channel.deleteExchange(exchange)).catch(() => {});
    }
  });

  it.each([
    [['--exchange', 'e'.repeat(256)], /--exchange is 256 bytes long, but AMQP allows at most 255 bytes/],
    // 128 characters, but 256 bytes: the limit is in bytes.
    [['--exchange', 'é'.repeat(128)], /--exchange is 256 bytes long/],
    [
      ['--exchange', 'amq.direct', '--routing-key', 'k'.repeat(300)],
      /--routing-key is 300 bytes long, but AMQP allows at most 255 bytes/,
    ],
    [['--routing-key', 'q'.repeat(256)], /--routing-key is 256 bytes long/],
    [['--exchange', 'line\nend'], /--exchange "line\\nend" contains a control character/],
    [['--exchange', 'tab\there'], /contains a control character/],
  ])('qtool send %# exits 2 with a plain line', async (args, message) => {
    const result = await runCli(['send', ...args, 'x'], { env });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/TypeError|wrong type/);
    expect(result.stderr).not.toMatch(STACK_LINE);
  });
});

describe('--persistent into a queue that is not durable', () => {
  const warning = /queue '.*' is not durable: it will not survive a broker restart, so neither will these/;

  it('says the queue itself will not survive a restart', async () => {
    const queue = uniqueName('pika-hello');
    // Like the lab's pika code: a non-durable queue made by someone else.
    await withChannel(broker.amqpUrl, (channel) => channel.assertQueue(queue, { durable: false }));
    try {
      const result = await runCli(['send', '--queue', queue, '--persistent', 'p'], { env });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toMatch(warning);
      expect(result.stderr).toMatch(/sent 1 message \(persistent\)/);
      // Only with --persistent: transient messages were never meant to survive.
      const transient = await runCli(['send', '--queue', queue, 't'], { env });
      expect(transient.stderr).not.toMatch(warning);
    } finally {
      await deleteQueue(broker.amqpUrl, queue);
    }
  });

  it('says nothing of the kind for a durable queue, new or existing', async () => {
    const queue = uniqueName('durable-ok');
    try {
      for (let round = 0; round < 2; round++) {
        const result = await runCli(['send', '--queue', queue, '--persistent', 'p'], { env });
        expect(result.exitCode, result.stderr).toBe(0);
        expect(result.stderr).not.toMatch(warning);
      }
    } finally {
      await deleteQueue(broker.amqpUrl, queue);
    }
  });
});

/**
 * Memory alarms block every publisher of a node, so these run on a node of their own, in order.
 * A watermark of 0.00001 puts any node over its limit ("low on memory"); 0.4 is the default.
 */
describe.skipIf(!canStartTestNodes()).sequential('a broker that blocks publishers (memory alarm)', () => {
  let node: LocalNode;
  let nodeEnv: Record<string, string>;

  const alarms = () => node.ctl(['eval', 'rabbit_alarm:get_alarms().']);
  const raiseMemoryAlarm = async () => {
    await node.ctl(['set_vm_memory_high_watermark', '0.00001']);
    await eventually(async () => /memory/.test(await alarms()), 'the memory alarm', 30_000);
  };
  const clearMemoryAlarm = async () => {
    await node.ctl(['set_vm_memory_high_watermark', '0.4']);
    await eventually(async () => !/memory/.test(await alarms()), 'the memory alarm to clear', 30_000);
  };

  beforeAll(async () => {
    node = await startTestNode();
    nodeEnv = { AMQP_URL: node.url };
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
  }, 120_000);

  it('says it is blocked and why, resumes when the alarm clears, and every message arrives', async () => {
    const queue = uniqueName('blocked');
    await raiseMemoryAlarm();
    const sender = startCli(['send', '--queue', queue, '--count', '2000', 'x'], { env: nodeEnv });
    try {
      await sender.waitFor(/the broker is blocking publishers: low on memory/, { stream: 'stderr' });
      // Still waiting, not failed.
      expect(sender.process.exitCode).toBeNull();
      await clearMemoryAlarm();
      const result = await sender.finished(60_000);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/the broker resumed taking messages after/);
      expect(result.stderr).toMatch(/sent 2,000 messages .* all confirmed/);
      expect((await queueState(node.url, queue))?.messageCount).toBe(2000);
    } finally {
      await clearMemoryAlarm();
    }
  }, 120_000);

  it('ends on the first Ctrl-C while blocked: exit 130 soon, with an account whose numbers are true', async () => {
    const queue = uniqueName('blocked-sigint');
    await raiseMemoryAlarm();
    // More than send's window of unconfirmed messages (2,048), so that the window stops it.
    const sender = startCli(['send', '--queue', queue, '--count', '5000', 'x'], { env: nodeEnv });
    try {
      await sender.waitFor(/the broker is blocking publishers/, { stream: 'stderr' });
      const interrupted = Date.now();
      sender.signal('SIGINT');
      const result = await sender.finished(15_000);
      expect(Date.now() - interrupted).toBeLessThan(10_000);
      expect(result.exitCode, result.stderr).toBe(130);
      expect(result.stderr).not.toMatch(STACK_LINE);
      const published = /interrupted after publishing ([\d,]+) messages/.exec(result.stderr);
      expect(published, result.stderr).not.toBeNull();
      const { confirmed, sent } = confirmedOf(result.stderr);
      expect(Number(published?.[1]?.replace(/,/g, ''))).toBe(sent);
      const unconfirmed = Number(/([\d,]+) never confirmed/.exec(result.stderr)?.[1]?.replace(/,/g, ''));
      expect(confirmed + unconfirmed).toBe(sent);
      expect(sent).toBeGreaterThan(0);
      expect(sent).toBeLessThan(5000);

      // Once the broker reads again it may still take some of the unconfirmed ones, never more.
      await clearMemoryAlarm();
      await eventually(
        async () => !/qtool send/.test(await node.ctl(['list_connections', 'client_properties'])),
        'the broker to see the sender gone',
        30_000,
      );
      const arrived = (await queueState(node.url, queue))?.messageCount ?? 0;
      expect(arrived).toBeGreaterThanOrEqual(confirmed);
      expect(arrived).toBeLessThanOrEqual(confirmed + unconfirmed);
    } finally {
      sender.signal('SIGKILL');
      await clearMemoryAlarm();
    }
  }, 120_000);

  it('with --no-confirm, Ctrl-C while blocked also ends at once, saying nothing is accounted for', async () => {
    const queue = uniqueName('blocked-noconfirm');
    await raiseMemoryAlarm();
    const sender = startCli(['send', '--queue', queue, '--no-confirm', '--count', '100', 'x'], {
      env: nodeEnv,
    });
    try {
      await sender.waitFor(/the broker is blocking publishers/, { stream: 'stderr' });
      sender.signal('SIGINT');
      const result = await sender.finished(15_000);
      expect(result.exitCode, result.stderr).toBe(130);
      expect(result.stderr).toMatch(/interrupted after publishing 100 messages .*: 100 unaccounted for/);
      expect(result.stderr).toMatch(
        /100 messages were handed to the broker without confirms, and it gave no account/,
      );
    } finally {
      sender.signal('SIGKILL');
      await clearMemoryAlarm();
    }
  }, 120_000);
});
