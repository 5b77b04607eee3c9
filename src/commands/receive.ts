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
 * Auto-ack, as the lab's hello-world consumer, except with `--count`: there qtool acks each
 * message once printed and limits prefetch, because an auto-ack consumer is sent more than it
 * will print and the extra would be lost when it exits. Unacked extras go back to the queue.
 */
export async function runReceive(
  settings: ConnectionSettings,
  options: ReceiveOptions,
  io: CommandIo,
): Promise<number> {
  const manualAck = options.acknowledge || options.count !== undefined;
  const prefetch =
    options.prefetch ??
    (options.count !== undefined ? Math.min(options.count, COUNT_PREFETCH_CAP) : undefined);

  return withSession(settings, 'receive', async (session) => {
    await ensureQueue(session.model, settings.queue, options.durability, settings);

    let received = 0;
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
        if (manualAck) consumer.ack(message);
        armIdleTimer();
        if (options.count !== undefined && received >= options.count) finishWith({ kind: 'count' });
      },
    );
    const stopListening = io.onInterrupt((count) => {
      if (count > 1) io.exitNow(130);
      finishWith({ kind: 'interrupted' });
    });
    writeLine(
      io.stderr,
      `Waiting for messages on '${settings.queue}' at ${maskedUrl(settings)} (${manualAck ? 'acknowledging each' : 'auto-ack'}). Ctrl-C to stop.`,
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
