import { letPendingIoRun } from '../amqp/connect.js';
import type { ConsumeMessage, Consumer, ConsumerStop } from '../amqp/consume.js';
import { startConsumer } from '../amqp/consume.js';
import { deliveryCountField } from '../amqp/delivery-count.js';
import { explainAmqpError } from '../amqp/explain.js';
import { type DurabilityRequest, ensureQueue } from '../amqp/queue.js';
import type { QueueType } from '../amqp/queue-type.js';
import { reconnectDelay } from '../amqp/reconnect-policy.js';
import type { Session } from '../amqp/session.js';
import { bodyForJson } from '../body.js';
import type { ConnectionSettings } from '../config/connection.js';
import { QtoolError } from '../errors.js';
import { plural, thousands } from '../output/format.js';
import { consumerRetry, explainConsumerStop } from './consumer-stop.js';
import { type CommandIo, writeLine } from './io.js';
import { LineWriter, writesToPipe } from './line-writer.js';
import { lostLine, nodeInUse, type ReconnectOptions, reconnectSaying, withLink } from './with-link.js';

export interface ReceiveOptions {
  acknowledge: boolean;
  prefetch: number | undefined;
  /** Exit after this many messages. */
  count: number | undefined;
  /** Exit 0 after this many seconds without a message. */
  idleTimeoutSeconds: number | undefined;
  json: boolean;
  durability: DurabilityRequest;
  queueType: QueueType | undefined;
  reconnect: ReconnectOptions;
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
 * end (see ackableUpTo), so the broker never sends more than --count messages at all.
 *
 * With manual acks a message is acked only once its line was written (handed to the OS, see
 * LineWriter), in one basic.ack (multiple) per written batch; when the output closes, whatever was
 * not written goes back to the queue. With auto-ack the broker forgets each message as it sends
 * it, so everything that arrives is printed, up to the cancel-ok, and what could not be written is
 * counted as lost. When the connection or the consumer ends first, manual acks print nothing more
 * (the broker delivers it again), and either way stderr says what became of each message.
 */
export async function runReceive(
  settings: ConnectionSettings,
  options: ReceiveOptions,
  io: CommandIo,
): Promise<number> {
  const manualAck = options.acknowledge || options.count !== undefined;

  if (options.prefetch !== undefined && !manualAck) {
    writeLine(
      io.stderr,
      'qtool: warning: --prefetch has no effect without --acknowledge: the broker does not limit auto-ack consumers',
    );
  }
  return withLink(settings, 'receive', options.reconnect, async (link) => {
    /**
     * Messages done in earlier consumers (a reconnect starts a new one): acked, or with auto-ack
     * written. A message printed but not acked when its consumer ended comes again and is counted
     * once, when it is acked, so `--count n` takes exactly n messages off the queue.
     */
    let taken = 0;
    /** The consumer now running, with its own counts: delivery tags belong to one channel. */
    let current: Generation | undefined;
    /** Set the moment receive decides to stop; with manual acks nothing is printed after it. */
    let stopping = false;
    /** Set when a second Ctrl-C stops at once: the account is taken, so no more acks. */
    let acksStopped = false;
    /** Consumers in a row that the broker ended on a live connection: spaces out the next ones. */
    let channelRetries = 0;
    /** A pipe's reader may not read all that was handed to it (`| head -3`): say "handed", not "printed". */
    const pipe = writesToPipe(io.stdout);
    /** Aborted by Ctrl-C, to stop waiting for the broker to come back. */
    const interrupted = new AbortController();

    let resolveFinished: (ending: Ending) => void = () => {};
    const finished = new Promise<Ending>((resolve) => {
      resolveFinished = resolve;
    });
    const finishWith = (ending: Ending) => {
      stopping = true;
      clearTimeout(idleTimer);
      resolveFinished(ending);
    };
    let idleTimer: NodeJS.Timeout | undefined;
    const armIdleTimer = () => {
      if (options.idleTimeoutSeconds === undefined) return;
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => finishWith({ kind: 'idle' }), options.idleTimeoutSeconds * 1000);
    };

    const stopAtOnce = async () => {
      if (acksStopped) return;
      acksStopped = true;
      const gen = current;
      gen?.output.abandon();
      // amqplib sends the acks counted in `acked` on the next turn: let them reach the socket
      // before exiting, or the account would call acked what the broker puts back in the queue.
      await letPendingIoRun();
      const account =
        gen === undefined
          ? undefined
          : stoppedAtOnceAccount(
              manualAck,
              gen.delivered - gen.output.written,
              gen.output.written - gen.acked,
              pipe,
            );
      if (account !== undefined) writeLine(io.stderr, account);
      io.exitNow(130);
    };
    // Ctrl-C is ours from the moment the banner invites it. Once stopping, another one (or the
    // first, when receive was already stopping on its own) means now, whatever is still unwritten.
    const stopListening = io.onInterrupt((count) => {
      if (count > 1 || stopping) void stopAtOnce();
      else {
        finishWith({ kind: 'interrupted' });
        interrupted.abort();
      }
    });
    const sayWaitingForOutput = (gen: Generation) => () =>
      writeLine(
        io.stderr,
        `Waiting for the output to take ${plural(gen.output.pending, 'more line')}; Ctrl-C to stop at once (${
          manualAck ? 'they go back to the queue' : 'auto-ack: they would be lost'
        }).`,
      );

    /**
     * This consumer ended before receive did: with manual acks, drop the lines not written yet
     * (the broker delivers those messages again, printing them would print them twice); with
     * auto-ack, write them (the broker forgot them). Returns what became of each message.
     */
    const wrapUp = async (
      gen: Generation,
      queueDeleted: boolean,
      /** null: a bare account, for a receive that carries on after reconnecting. */
      lead?: string | null,
    ): Promise<string | undefined> => {
      if (manualAck) {
        gen.output.abandon();
        // The batch the stream holds already cannot be called back: give it a moment to land.
        await settleOutput(gen.output, () => {}, [delay(IN_FLIGHT_WAIT_MS)]);
      } else {
        await settleOutput(gen.output, sayWaitingForOutput(gen), []);
      }
      return endedEarlyAccount(
        manualAck,
        pipe,
        queueDeleted,
        {
          printedNotAcked: gen.output.written - gen.acked,
          beingWritten: gen.output.pending,
          notWritten: gen.delivered - gen.output.written - gen.output.pending,
        },
        lead,
      );
    };

    /** Whether the next consumer needs the queue declared first: not when only its channel ended. */
    let declare = true;
    let announced = false;
    try {
      for (;;) {
        const session = link.session;
        const remaining = options.count === undefined ? undefined : options.count - taken;
        const prefetch = receivePrefetch(remaining, options.prefetch);
        const gen = startGeneration(
          io,
          manualAck,
          remaining,
          prefetch,
          () => acksStopped,
          () => finishWith({ kind: 'output-closed' }),
        );
        current = gen;
        let outcome: Ending | ConsumerStop | QtoolError;
        try {
          if (declare)
            await ensureQueue(
              session.model,
              settings.queue,
              options.durability,
              session.settings,
              options.queueType,
            );
          if (!announced) {
            announced = true;
            // Before consuming: deliveries can arrive in the same turn as the consume-ok.
            writeLine(
              io.stderr,
              `Waiting for messages on '${settings.queue}' at ${nodeInUse(session.settings, link.clustered)} (${manualAck ? 'acknowledging each' : 'auto-ack'}). Ctrl-C to stop.`,
            );
          }
          gen.consumer = await startConsumer(
            session.model,
            settings.queue,
            { noAck: !manualAck, prefetch },
            (message: ConsumeMessage, from) => {
              gen.consumer ??= from;
              gen.delivered += 1;
              // With manual acks, what arrives after the decision to stop stays unacked and goes back to
              // the queue when the channel closes. An auto-ack message is ours already: print it.
              if (stopping && manualAck) return;
              gen.printed += 1;
              if (manualAck && ackableUpTo(gen.printed, remaining, prefetch) === gen.printed) {
                gen.newestAckable = message;
              }
              gen.output.write(
                // The body's own bytes: decoding would turn anything that is not UTF-8 into U+FFFD.
                options.json ? JSON.stringify(jsonRecord(settings.queue, message)) : message.content,
                message,
              );
              if (remaining !== undefined && gen.printed >= remaining) finishWith({ kind: 'count' });
              else if (!stopping) armIdleTimer();
            },
          );
          armIdleTimer();
          outcome = await Promise.race([finished, gen.consumer.stopped, session.lost]);
        } catch (error) {
          // Declaring or consuming failed: a reason to reconnect only when the connection went.
          if (!session.isLost()) throw error;
          outcome = await session.lost;
        }
        clearTimeout(idleTimer);

        if (
          outcome instanceof QtoolError ||
          outcome.kind === 'cancelled-by-broker' ||
          outcome.kind === 'channel-closed'
        ) {
          stopping = true;
          const stop: ConsumerStop =
            outcome instanceof QtoolError ? { kind: 'channel-closed', error: outcome } : outcome;
          const explained =
            outcome instanceof QtoolError
              ? { error: outcome, queueDeleted: false }
              : await explainConsumerStop(stop, session, settings.queue);
          const retry = interrupted.signal.aborted ? 'none' : consumerRetry(stop, explained, session);
          const final = retry === 'none' || (retry === 'connection' && !options.reconnect.enabled);
          // "Ended early" only when it does end: a receive that reconnects carries on.
          const account = await wrapUp(gen, explained.queueDeleted, final ? 'Ended early' : null);
          taken += manualAck ? gen.acked : gen.output.written;
          if (final) {
            if (account !== undefined) writeLine(io.stderr, account);
            throw explained.error;
          }
          writeLine(io.stderr, lostLine(explainAmqpError(explained.error, session.settings), retry, account));
          declare = retry === 'connection';
          if (retry === 'connection') {
            const say = (line: string) => writeLine(io.stderr, line);
            if ((await reconnectSaying(link, say, interrupted.signal)) === null) return 0;
            channelRetries = 0;
          } else {
            // The broker cancelled the consumer but its channel is open: close it, so whatever it
            // still holds unacknowledged goes back to the queue instead of staying stuck there.
            await gen.consumer?.close();
            channelRetries = gen.delivered > 0 ? 1 : channelRetries + 1;
            await delay(reconnectDelay(channelRetries));
          }
          // Ctrl-C while the consumer was being replaced: there is nothing left to do.
          if (interrupted.signal.aborted) return 0;
          stopping = false;
          continue;
        }

        return await finishGeneration(gen, outcome, session);
      }
    } finally {
      stopping = true;
      clearTimeout(idleTimer);
      stopListening();
      current?.output.release();
    }

    /** The normal end of a run (count, idle, Ctrl-C, output closed), on the consumer that is running. */
    async function finishGeneration(gen: Generation, outcome: Ending, session: Session): Promise<number> {
      const consumer = gen.consumer as Consumer;
      const endEarly = async (stop: ConsumerStop | QtoolError): Promise<unknown> => {
        const explained =
          stop instanceof QtoolError
            ? { error: stop, queueDeleted: false }
            : await explainConsumerStop(stop, session, settings.queue);
        const account = await wrapUp(gen, explained.queueDeleted);
        if (account !== undefined) writeLine(io.stderr, account);
        return explained.error;
      };
      // Frames come in order: after the cancel-ok nothing more arrives for this consumer, so from
      // here `delivered` is final and every auto-ack message is in the output.
      await consumer.cancel();
      const trouble = await settleOutput<ConsumerStop | QtoolError>(gen.output, sayWaitingForOutput(gen), [
        consumer.stopped,
        session.lost,
      ]);
      if (trouble !== undefined) throw await endEarly(trouble);
      // The held-back acks, and any of the last batch: everything written is taken, nothing else.
      if (manualAck && gen.newestWritten !== undefined && gen.acked < gen.output.written) {
        if (!consumer.ackUpTo(gen.newestWritten)) throw await endEarly(await consumer.stopped);
        gen.acked = gen.output.written;
      }
      // Only the broker's CloseOk proves that the acks sent before it arrived.
      if ((await consumer.close()) !== 'closed') {
        await letPendingIoRun();
        if (manualAck && gen.acked > 0) writeLine(io.stderr, unconfirmedAcksAccount(gen.acked, pipe));
        throw session.isLost()
          ? await session.lost
          : new QtoolError('the broker did not confirm closing the channel of this consumer');
      }
      const done = taken + (manualAck ? gen.acked : gen.output.written);
      if (gen.output.error !== undefined) {
        return reportOutputFailure(
          gen.output.error,
          manualAck,
          pipe,
          done,
          gen.delivered - gen.output.written,
          io,
        );
      }
      if (outcome.kind === 'idle') {
        writeLine(
          io.stderr,
          `No message for ${options.idleTimeoutSeconds} s; received ${plural(done, 'message')}.`,
        );
      }
      return 0;
    }
  });
}

/** One consumer's messages and counts; receive starts a new one after each reconnect. */
interface Generation {
  output: LineWriter<ConsumeMessage>;
  consumer: Consumer | undefined;
  /** Every delivery of this consumer, printed or not. */
  delivered: number;
  /** Lines given to the output: the n of ackableUpTo. */
  printed: number;
  /** Written lines whose ack was sent. */
  acked: number;
  /** The newest printed message that may be acked as soon as it is written (see ackableUpTo). */
  newestAckable: ConsumeMessage | undefined;
  /** The newest message whose line was written. */
  newestWritten: ConsumeMessage | undefined;
}

function startGeneration(
  io: CommandIo,
  manualAck: boolean,
  count: number | undefined,
  prefetch: number | undefined,
  acksStopped: () => boolean,
  onOutputClosed: () => void,
): Generation {
  const gen: Generation = {
    consumer: undefined,
    delivered: 0,
    printed: 0,
    acked: 0,
    newestAckable: undefined,
    newestWritten: undefined,
    output: new LineWriter<ConsumeMessage>(
      io.stdout,
      (newest, writtenInAll) => {
        gen.newestWritten = newest;
        if (!manualAck || gen.consumer === undefined || acksStopped()) return;
        const upTo = ackableUpTo(writtenInAll, count, prefetch);
        if (upTo <= gen.acked) return;
        // Below writtenInAll, upTo is the last message acked at once, the rest are held back.
        const target = upTo === writtenInAll ? newest : gen.newestAckable;
        if (target === undefined) return;
        // A closed channel sends nothing: those messages go back to the queue, so they are not acked.
        if (gen.consumer.ackUpTo(target)) gen.acked = upTo;
      },
      // `qtool receive | head -3`: when the reader goes away, stop rather than crash on EPIPE.
      onOutputClosed,
    ),
  };
  return gen;
}

/** How long the end of a run waits on a slow output before saying so. */
const SLOW_OUTPUT_NOTICE_MS = 1000;

/** How long an early end waits for the batch the output holds to be written, before counting it as unsure. */
const IN_FLIGHT_WAIT_MS = 1000;

const delay = (ms: number) =>
  new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms).unref());

/**
 * Waits until every line given to the output was written, failed or dropped, or until one of
 * `unless` settles first (then its value is returned). Says so on stderr when the output is slow.
 */
async function settleOutput<T>(
  output: LineWriter<ConsumeMessage>,
  sayWaiting: () => void,
  unless: Promise<T>[],
): Promise<T | undefined> {
  const notice = setTimeout(sayWaiting, SLOW_OUTPUT_NOTICE_MS);
  try {
    return await Promise.race([output.settled().then(() => undefined), ...unless]);
  } finally {
    clearTimeout(notice);
  }
}

/** How a count of lines given to the output is told: a pipe's reader may stop before reading them. */
function handedOver(count: number, pipe: boolean): string {
  return `${plural(count, 'message')} ${
    pipe ? 'handed to the output (a reader that stops early may not have read them all)' : 'printed'
  }`;
}

const goOrGoes = (count: number) => (count === 1 ? 'goes' : 'go');

/**
 * What an early end (connection lost, consumer or channel ended) leaves behind, or undefined when
 * nothing is. With manual acks every message not acked goes back to the queue (unless it was
 * deleted); the ones already printed will come again. With auto-ack what was not written is lost.
 */
export function endedEarlyAccount(
  manualAck: boolean,
  pipe: boolean,
  queueDeleted: boolean,
  counts: { printedNotAcked: number; beingWritten: number; notWritten: number },
  /** What the account starts with; null for a bare sentence (when receive carries on). */
  lead: string | null = 'Ended early',
): string | undefined {
  const { printedNotAcked, beingWritten, notWritten } = counts;
  if (!manualAck) {
    const lost = notWritten + beingWritten;
    return lost > 0
      ? sentence(
          lead,
          `${plural(lost, 'message')} handed over but not written ${lost === 1 ? 'is' : 'are'} lost (auto-ack)`,
        )
      : undefined;
  }
  const back = (count: number) =>
    queueDeleted
      ? `${count === 1 ? 'is' : 'are'} lost with the deleted queue`
      : `${goOrGoes(count)} back to the queue`;
  const parts = [
    ...(printedNotAcked > 0
      ? [
          `${plural(printedNotAcked, 'message')} ${pipe ? 'handed to the output' : 'printed'} but not acked ${back(printedNotAcked)}${
            queueDeleted ? '' : ' and will be redelivered'
          }`,
        ]
      : []),
    ...(beingWritten > 0
      ? [
          `${plural(beingWritten, 'message')} still being written (they may reach the output too) ${back(beingWritten)}`,
        ]
      : []),
    ...(notWritten > 0 ? [`${plural(notWritten, 'message')} not written ${back(notWritten)}`] : []),
  ];
  return parts.length === 0 ? undefined : sentence(lead, parts.join('; '));
}

/** `Lead: text.`, or `Text.` without a lead. */
function sentence(lead: string | null, text: string): string {
  return lead === null ? `${text.charAt(0).toUpperCase()}${text.slice(1)}.` : `${lead}: ${text}.`;
}

/** The broker did not confirm the channel's close: the last acks may not have reached it. */
function unconfirmedAcksAccount(acked: number, pipe: boolean): string {
  return `The broker did not confirm the end of this consumer: of ${handedOver(acked, pipe)} and acked, any whose ack did not reach it go back to the queue and will be redelivered.`;
}

/**
 * The output failed: an exact account of what became of the messages. A reader that went away
 * (`| head`) is not a failure, so that exits 0, as head expects; any other write error is one.
 */
function reportOutputFailure(
  error: Error,
  manualAck: boolean,
  pipe: boolean,
  written: number,
  notWritten: number,
  io: CommandIo,
): number {
  const account = manualAck
    ? `${handedOver(written, pipe)} and acked, ${thousands(notWritten)} not written ${
        notWritten === 1 ? 'was' : 'were'
      } returned to the queue`
    : `${handedOver(written, pipe)}, ${thousands(notWritten)} not written ${
        notWritten === 1 ? 'was' : 'were'
      } lost (auto-ack: the broker had already handed them over)`;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED') {
    writeLine(io.stderr, `output closed: ${account}.`);
    return 0;
  }
  throw new QtoolError(`could not write to standard output (${code ?? error.message}): ${account}`);
}

/** What a second Ctrl-C leaves behind, or undefined when nothing is left. */
function stoppedAtOnceAccount(
  manualAck: boolean,
  notWritten: number,
  printedNotAcked: number,
  pipe: boolean,
): string | undefined {
  if (!manualAck) {
    return notWritten > 0
      ? `Stopped at once: ${plural(notWritten, 'message')} not written ${notWritten === 1 ? 'is' : 'are'} lost (auto-ack).`
      : undefined;
  }
  const parts = [
    ...(notWritten > 0 ? [`${plural(notWritten, 'message')} not written`] : []),
    ...(printedNotAcked > 0
      ? [
          `${plural(printedNotAcked, 'message')} ${pipe ? 'handed to the output' : 'printed'} but not yet acked`,
        ]
      : []),
  ];
  return parts.length === 0 ? undefined : `Stopped at once: ${parts.join(' and ')} go back to the queue.`;
}

/** One `--json` line: everything a script needs, the body as text or base64. */
function jsonRecord(queue: string, message: ConsumeMessage) {
  return {
    queue,
    ...bodyForJson(message.content),
    redelivered: message.fields.redelivered,
    ...deliveryCountField(message),
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
 * How many of the first `written` lines (in delivery order) may be acked now. With `--count c` and a
 * prefetch window w, the broker sends at most (acked + w) messages; acking only the first c - w
 * before the end keeps that at most c, so no extra message is ever taken and sent back marked
 * redelivered. The last w are acked together at the end. Without --count every written line is
 * acked. Acks follow writes, which can only lag: the broker then sends less, never more.
 */
export function ackableUpTo(
  written: number,
  count: number | undefined,
  prefetch: number | undefined,
): number {
  if (count === undefined || prefetch === undefined) return written;
  return Math.max(0, Math.min(written, count - prefetch));
}

/**
 * The prefetch window: --prefetch as given, except that a --count run needs a window, and one no
 * larger than the count (the broker would otherwise send more than will be printed).
 */
export function receivePrefetch(count: number | undefined, prefetch: number | undefined): number | undefined {
  if (count === undefined) return prefetch;
  return Math.min(prefetch ?? COUNT_PREFETCH_CAP, count);
}
