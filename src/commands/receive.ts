import type { ConsumeMessage } from '../amqp/consume.js';
import { startConsumer } from '../amqp/consume.js';
import { type DurabilityRequest, ensureQueue } from '../amqp/queue.js';
import { bodyForJson } from '../body.js';
import { type ConnectionSettings, maskedUrl } from '../config/connection.js';
import { QtoolError } from '../errors.js';
import { plural } from '../output/format.js';
import { consumerStopError } from './consumer-stop.js';
import { type CommandIo, writeLine } from './io.js';
import { withSession } from './with-session.js';

export interface ReceiveOptions {
  acknowledge: boolean;
  prefetch: number | undefined;
  /** Exit after this many messages. */
  count: number | undefined;
  /** Exit 0 after this many seconds without a message. */
  idleTimeoutSeconds: number | undefined;
  json: boolean;
  durability: DurabilityRequest;
}

/** Why receive stopped. */
type Ending = { kind: 'count' } | { kind: 'idle' } | { kind: 'interrupted' } | { kind: 'output-closed' };

/** Never more than this many unacked messages in flight when qtool acks for a `--count` run. */
const COUNT_PREFETCH_CAP = 500;

/**
 * `qtool receive`: prints each message body on its own line as it arrives.
 *
 * Auto-ack, as the lab's hello-world consumer, except with `--count`: an auto-ack consumer is
 * sent more than it will print, and the extra would be lost when it exits. There qtool acks
 * manually with a prefetch window W, and holds back the acks of the last W messages until the
 * end (see shouldAckAtOnce), so the broker never sends more than --count messages at all.
 */
export async function runReceive(
  settings: ConnectionSettings,
  options: ReceiveOptions,
  io: CommandIo,
): Promise<number> {
  const manualAck = options.acknowledge || options.count !== undefined;
  const prefetch = receivePrefetch(options.count, options.prefetch);

  return withSession(settings, 'receive', async (session) => {
    await ensureQueue(session.model, settings.queue, options.durability, settings);

    let received = 0;
    /** The newest printed message whose ack is held back (see shouldAckAtOnce). */
    let lastHeldBack: ConsumeMessage | undefined;
    let finishWith: (ending: Ending) => void = () => {};
    const finished = new Promise<Ending>((resolve) => {
      finishWith = resolve;
    });
    let idleTimer: NodeJS.Timeout | undefined;
    const armIdleTimer = () => {
      if (options.idleTimeoutSeconds === undefined) return;
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => finishWith({ kind: 'idle' }), options.idleTimeoutSeconds * 1000);
    };
    // `qtool receive | head -3`: when the reader goes away, stop rather than crash on EPIPE.
    const onOutputError = () => finishWith({ kind: 'output-closed' });
    io.stdout.on('error', onOutputError);

    // Ctrl-C is ours from the moment the banner invites it.
    const stopListening = io.onInterrupt((count) => {
      if (count > 1) io.exitNow(130);
      finishWith({ kind: 'interrupted' });
    });
    // Before consuming: deliveries can arrive in the same turn as the consume-ok.
    writeLine(
      io.stderr,
      `Waiting for messages on '${settings.queue}' at ${maskedUrl(settings)} (${manualAck ? 'acknowledging each' : 'auto-ack'}). Ctrl-C to stop.`,
    );
    let done = false;
    const consumer = await startConsumer(
      session.model,
      settings.queue,
      { noAck: !manualAck, prefetch },
      (message: ConsumeMessage, consumer) => {
        // Deliveries already in flight when we stopped stay unacked and go back to the queue.
        if (done) return;
        received += 1;
        writeLine(
          io.stdout,
          options.json ? JSON.stringify(jsonRecord(settings.queue, message)) : message.content.toString(),
        );
        if (manualAck) {
          if (shouldAckAtOnce(received, options.count, prefetch)) consumer.ack(message);
          else lastHeldBack = message;
        }
        armIdleTimer();
        if (options.count !== undefined && received >= options.count) finishWith({ kind: 'count' });
      },
    );
    armIdleTimer();

    try {
      const outcome = await Promise.race([finished, consumer.stopped, session.lost]);
      done = true;
      if (outcome instanceof QtoolError) throw outcome;
      if (outcome.kind === 'cancelled-by-broker' || outcome.kind === 'channel-closed') {
        throw await consumerStopError(outcome, session, settings.queue);
      }
      await consumer.cancel();
      // The held-back acks: everything printed is taken, with one basic.ack (multiple).
      if (lastHeldBack !== undefined) consumer.ackUpTo(lastHeldBack);
      await consumer.close();
      if (outcome.kind === 'idle') {
        writeLine(
          io.stderr,
          `No message for ${options.idleTimeoutSeconds} s; received ${plural(received, 'message')}.`,
        );
      }
      return 0;
    } finally {
      done = true;
      clearTimeout(idleTimer);
      stopListening();
      io.stdout.off('error', onOutputError);
    }
  });
}

/** One `--json` line: everything a script needs, the body as text or base64. */
function jsonRecord(queue: string, message: ConsumeMessage) {
  return {
    queue,
    ...bodyForJson(message.content),
    redelivered: message.fields.redelivered,
    deliveryTag: message.fields.deliveryTag,
    properties: definedOnly(message.properties as unknown as Record<string, unknown>),
    receivedAt: new Date().toISOString(),
  };
}

/** amqplib fills absent properties with undefined; JSON would drop them anyway, this keeps intent clear. */
function definedOnly(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}

/**
 * Whether the n-th message received (1-based) is acked as soon as it is printed. With `--count c`
 * and a prefetch window w, the broker sends at most (acked + w) messages; acking at once only
 * while n <= c - w keeps that at most c, so no extra message is ever taken and sent back marked
 * redelivered. The last w are acked together at the end. Without --count every message is acked at once.
 */
export function shouldAckAtOnce(
  received: number,
  count: number | undefined,
  prefetch: number | undefined,
): boolean {
  if (count === undefined || prefetch === undefined) return true;
  return received <= count - prefetch;
}

/**
 * The prefetch window: --prefetch as given, except that a --count run needs a window, and one no
 * larger than the count (the broker would otherwise send more than will be printed).
 */
export function receivePrefetch(count: number | undefined, prefetch: number | undefined): number | undefined {
  if (count === undefined) return prefetch;
  return Math.min(prefetch ?? COUNT_PREFETCH_CAP, count);
}
