import { randomBytes } from 'node:crypto';
import { letPendingIoRun, negotiatedHeartbeat } from '../amqp/connect.js';
import {
  type CloseOutcome,
  type ConsumeMessage,
  type Consumer,
  type ConsumerStop,
  startConsumer,
} from '../amqp/consume.js';
import { deliveryCountOf } from '../amqp/delivery-count.js';
import { explainAmqpError, isBrokerShutdown } from '../amqp/explain.js';
import { type JobPublisher, openJobPublisher } from '../amqp/job-queues.js';
import type { Link } from '../amqp/link.js';
import {
  type DurabilityRequest,
  ensureQueue,
  existingQueueDurability,
  type QueueDurability,
} from '../amqp/queue.js';
import type { QueueType } from '../amqp/queue-type.js';
import { reconnectDelay } from '../amqp/reconnect-policy.js';
import type { ConnectionSettings } from '../config/connection.js';
import { EXIT_CRASH, QtoolError } from '../errors.js';
import { formatDuration } from '../output/format.js';
import { colorLevel, createStyle } from '../output/style.js';
import { createWorkerReporter, type DeliveryInfo, type UnstartedLoss } from '../output/worker-report.js';
import { replyHeaders } from '../worker/job-policy.js';
import { sleep } from '../worker/long-sleep.js';
import { type ConnectionEnd, type HeldMessages, heldMessagesFate } from '../worker/message-fate.js';
import {
  type AckMode,
  countAbandoned,
  countLoss,
  decide,
  emptyTally,
  finishesWorkInHand,
  type OnLose,
  outlastsConsumerTimeout,
  type WorkerPolicy,
  type WorkerStop,
} from '../worker/policy.js';
import { type ConsumerRetry, consumerRetry, explainConsumerStop } from './consumer-stop.js';
import type { CommandIo } from './io.js';
import type { JobOptions } from './job-worker.js';
import { deliveryLimitNoticeFor } from './quorum-notice.js';
import { publishReply, replyToOf } from './reply.js';
import { lostLine, nodeInUse, type ReconnectOptions, reconnectSaying, withLink } from './with-link.js';

export interface QprocessorOptions {
  name: string | undefined;
  delayPerCharSeconds: number;
  /** Busy-wait instead of sleeping: starves heartbeats, as the lab's time-out section needs. */
  block: boolean;
  acknowledge: boolean;
  prefetch: number | undefined;
  loseEvery: number | undefined;
  onLose: OnLose;
  /** Whether the user gave --on-lose (it only matters with --acknowledge). */
  onLoseGiven: boolean;
  json: boolean;
  durability: DurabilityRequest;
  queueType: QueueType | undefined;
  reconnect: ReconnectOptions;
  /** --exec and its options: run a command per message instead of the fake work. */
  job?: JobOptions | undefined;
}

/** A short id so side-by-side panes can be told apart without `--name`. */
export const defaultWorkerName = () => `w-${randomBytes(2).toString('hex')}`;

/**
 * `qtool qprocessor`: the lab's worker. Takes one message at a time, fakes work proportional to
 * its length, loses every n-th on purpose, acks when asked to, and stops cleanly on Ctrl-C.
 */
export async function runQprocessor(
  settings: ConnectionSettings,
  options: QprocessorOptions,
  io: CommandIo,
): Promise<number> {
  const name = options.name ?? defaultWorkerName();
  if (options.job !== undefined) {
    const { runJobWorker } = await import('./job-worker.js');
    return runJobWorker(settings, name, options, options.job, io);
  }
  const policy: WorkerPolicy = {
    ackMode: options.acknowledge ? 'manual' : 'auto',
    loseEvery: options.loseEvery,
    onLose: options.onLose,
    delayPerCharSeconds: options.delayPerCharSeconds,
  };
  const style = createStyle(options.json ? 0 : colorLevel(io.env, Boolean(io.stdout.isTTY)));
  const report = createWorkerReporter({
    name,
    json: options.json,
    style,
    stdout: io.stdout,
    stderr: io.stderr,
  });

  return withLink(settings, `qprocessor ${name}`, options.reconnect, async (link) => {
    // With auto-ack, delivered messages are ours whatever becomes of the connection: when it will
    // come back, finish them all first (they are in memory, the broker has forgotten them).
    const finishesHeld = policy.ackMode === 'auto' && options.reconnect.enabled;
    const tally = emptyTally();
    let deliveries = 0;
    let stopping = false;
    /** The consumer of the current connection, once it runs. */
    let consumer: Consumer | undefined;
    /**
     * The cancel sent on Ctrl-C. Deliveries keep arriving (and landing in `inbox`) until the broker
     * confirms it, and amqplib drops every frame but CloseOk once a channel is closing: closing
     * before the confirmation would throw away auto-ack messages the broker has already removed.
     */
    let cancelled: Promise<CloseOutcome> | undefined;
    let wakeLoop: (() => void) | null = null;
    const wake = () => {
      const resume = wakeLoop;
      wakeLoop = null;
      resume?.();
    };
    /** Aborted by Ctrl-C: stops waiting for the broker to come back. */
    const interrupted = new AbortController();
    const stopListening = io.onInterrupt((count) => {
      if (count > 1) {
        report.notice('second interrupt: exiting at once');
        io.exitNow(130);
      }
      if (stopping) return;
      stopping = true;
      report.notice('stopping: finishing the message in hand, if any (Ctrl-C again to quit at once)');
      interrupted.abort();
      cancelled = consumer?.cancel();
      wake();
    });

    let started = false;
    /** Whether the next consumer needs the queue declared first: not when only its channel ended. */
    let declare = true;
    /** Consumers in a row that the broker ended on a live connection: spaces out the next ones. */
    let channelRetries = 0;
    try {
      for (;;) {
        const session = link.session;
        // Deliveries wait here and are worked on one at a time, as a single-threaded worker does.
        // A new one per consumer: with manual acks, what a lost channel delivered is the broker's again.
        const inbox: ConsumeMessage[] = [];
        /** The confirm channel replies go out on, opened with the first message that has a reply_to. */
        let replies: JobPublisher | undefined;
        /** Set when the consumer's channel or the connection ends under us, or the broker cancels us. */
        let failure: WorkerFailure | undefined;
        // Set from callbacks, so TypeScript's narrowing of `failure` inside the loop does not hold.
        const currentFailure = (): WorkerFailure | undefined => failure;
        let failureNoted: () => void = () => {};
        const failureKnown = new Promise<void>((resolve) => {
          failureNoted = resolve;
        });
        // Ends the fake work early when the message in hand is no longer worth finishing.
        const abandon = new AbortController();
        const noteFailure = (next: WorkerFailure) => {
          if (failure !== undefined) return;
          failure = next;
          failureNoted();
          if (!finishesHeld && !finishesWorkInHand(next.stop, policy.ackMode)) abandon.abort();
          wake();
        };
        void session.lost.then((error) => {
          if (!finishesHeld) abandon.abort();
          noteFailure({ error, stop: 'connection-lost', retry: 'connection' });
        });

        // What the broker keeps of an unacked message across a restart depends on the queue's
        // durability. Ask now, while the broker answers: when it matters, it may be going away.
        let durability: QueueDurability = 'unknown';
        let deliveryLimit: string | undefined;
        const heartbeat = negotiatedHeartbeat(session.model);
        try {
          if (declare) {
            const queue = await ensureQueue(
              session.model,
              settings.queue,
              options.durability,
              session.settings,
              options.queueType,
            );
            if (!started) deliveryLimit = await deliveryLimitNoticeFor(session, queue, policy.ackMode);
          }
          if (policy.ackMode === 'manual')
            durability = await existingQueueDurability(session.model, settings.queue);
          const current = await startConsumer(
            session.model,
            settings.queue,
            { noAck: policy.ackMode === 'auto', prefetch: options.prefetch },
            (message) => {
              inbox.push(message);
              wake();
            },
          );
          consumer = current;
          void current.stopped.then(async (stop) => {
            // With manual ack the ack the work would end with can no longer be relied on: stop at
            // once, before asking the broker what happened.
            if (policy.ackMode === 'manual') abandon.abort();
            const explained = await explainConsumerStop(stop, session, settings.queue);
            noteFailure({
              error: explained.error,
              stop: workerStopOf(stop, explained.queueDeleted),
              retry: consumerRetry(stop, explained, session),
            });
          });
          if (stopping) cancelled = current.cancel();
        } catch (error) {
          // Declaring or consuming failed: a reason to reconnect only when the connection went.
          if (!session.isLost()) throw error;
          await failureKnown;
        }

        if (!started) {
          started = true;
          report.notice(describeStart(link, session.settings, policy, options, heartbeat));
          if (deliveryLimit !== undefined) report.notice(deliveryLimit);
          if (options.prefetch !== undefined && policy.ackMode === 'auto') {
            report.warn(
              '--prefetch has no effect without --acknowledge: the broker does not limit auto-ack consumers',
            );
          }
          if (options.onLoseGiven && policy.ackMode === 'auto') {
            report.warn(
              `--on-lose ${options.onLose} has no effect without --acknowledge: with auto-ack a lost message is simply dropped (the broker removed it when it delivered it)`,
            );
          }
        }

        /** The message being worked on, or abandoned when a failure stopped the worker. */
        let inHand: ConsumeMessage | null = null;
        /** Kept unacknowledged on purpose (--on-lose hang) until the channel closes. */
        const hung: ConsumeMessage[] = [];
        /** How long the abandoned message's --block work kept the event loop busy. */
        let blockedMs = 0;
        while (!stopping && (failure === undefined || (finishesHeld && inbox.length > 0))) {
          const message = inbox.shift();
          if (message === undefined) {
            await new Promise<void>((resolve) => {
              wakeLoop = resolve;
            });
            continue;
          }
          deliveries += 1;
          tally.received += 1;
          if (message.fields.redelivered) tally.redelivered += 1;
          const delivery: DeliveryInfo = {
            body: message.content,
            redelivered: message.fields.redelivered,
            deliveryTag: message.fields.deliveryTag,
            deliveryCount: deliveryCountOf(message),
          };

          const decision = decide(deliveries, message.content, policy);
          if (decision.action === 'lose') {
            countLoss(tally, decision.outcome);
            report.lost(delivery, deliveries, decision.outcome);
            if (decision.outcome === 'requeue') {
              consumer?.requeue(message);
            } else if (decision.outcome === 'hang') {
              hung.push(message);
            } else if (decision.outcome === 'crash') {
              // A dying worker has already sent the acks of the work it finished.
              await letPendingIoRun();
              io.exitNow(EXIT_CRASH);
            }
            continue;
          }

          if (outlastsConsumerTimeout(decision.workMs, policy.ackMode)) {
            report.warn(
              `this message's work (${formatDuration(decision.workMs)}) outlasts the broker's consumer timeout (30 min by default): ` +
                'the broker will close the channel and redeliver it before the ack',
            );
          }
          report.received(delivery, decision.workMs);
          inHand = message;
          const workStarted = performance.now();
          await doWork(decision.workMs, options.block, abandon.signal);
          const elapsed = performance.now() - workStarted;
          // A busy wait starves the event loop: let socket reads run, so a connection the broker
          // dropped meanwhile is noticed before we claim an ack.
          if (options.block) await letPendingIoRun();
          // The result goes to reply_to before the ack: a sender waiting for it must not lose it to
          // a worker that dies in between (the broker would run the job again and reply then).
          if (replyToOf(message.properties) !== undefined && !abandon.signal.aborted && !session.isLost()) {
            try {
              replies = replies?.isOpen() ? replies : await openJobPublisher(session.model);
              await publishReply(
                replies,
                message.properties,
                message.content,
                replyHeaders({ exitCode: 0, durationMs: elapsed, worker: name }),
              );
              report.replied(delivery, message.properties.replyTo as string);
            } catch (error) {
              if (!session.isLost()) {
                report.warn(`could not send the reply: ${explainAmqpError(error, session.settings).message}`);
              }
            }
          }
          if (abandon.signal.aborted || (session.isLost() && !finishesHeld)) {
            await failureKnown;
            blockedMs = options.block ? elapsed : 0;
            const stop = currentFailure()?.stop ?? 'connection-lost';
            if (countAbandoned(tally, stop, policy.ackMode) === 'lost') {
              report.lost(delivery, deliveries, policy.ackMode === 'auto' ? 'cut-short' : 'gone-with-queue');
            }
            break;
          }
          // The consumer that delivered it: an ack on another channel would be a channel error.
          if (policy.ackMode === 'manual') consumer?.ack(message);
          inHand = null;
          tally.processed += 1;
          report.processed(delivery, elapsed, policy.ackMode === 'manual');
        }

        const ended = currentFailure();
        if (ended !== undefined && !stopping) {
          const held = heldMessages(inHand, hung, inbox);
          const fate = (end: ConnectionEnd) => heldMessagesFate(policy.ackMode, held, durability, end);
          const retry = ended.retry;
          if (retry === 'none' || (retry === 'connection' && !options.reconnect.enabled)) {
            report.tally(tally, unstartedLoss(policy.ackMode, ended.stop, inbox.length));
            if (!session.isLost()) throw ended.error;
            const starved = heartbeatStarvation(blockedMs, heartbeat, ended.error, fate('broker-up'));
            throw (
              starved ??
              withHint(ended.error, fate(isBrokerShutdown(ended.error) ? 'broker-shutdown' : 'unknown'))
            );
          }
          const error = explainAmqpError(ended.error, session.settings);
          const starved = heartbeatStarvation(blockedMs, heartbeat, ended.error, undefined);
          const why = starved ?? error;
          const end: ConnectionEnd =
            retry === 'channel' || starved !== undefined
              ? 'broker-up'
              : isBrokerShutdown(ended.error)
                ? 'broker-shutdown'
                : 'unknown';
          report.warn(lostLine(why, retry, fate(end)));
          declare = retry === 'connection';
          if (retry === 'connection') {
            if ((await reconnectSaying(link, (line) => report.notice(line), interrupted.signal)) === null) {
              report.tally(tally, null);
              return 0;
            }
            channelRetries = 0;
          } else {
            // The broker cancelled the consumer but its channel is open: close it, so whatever it
            // still holds unacknowledged goes back to the queue instead of staying stuck there.
            await consumer?.close();
            channelRetries = tally.received > 0 ? 1 : channelRetries + 1;
            await new Promise((resolve) => setTimeout(resolve, reconnectDelay(channelRetries)));
          }
          tally.reconnects += 1;
          if (stopping) {
            report.tally(tally, null);
            return 0;
          }
          continue;
        }

        // Stopping (Ctrl-C). Only after the cancel-ok has every delivery this consumer will get
        // arrived in `inbox`.
        const cancelOutcome: CloseOutcome = cancelled === undefined ? 'closed' : await cancelled;
        const closed = consumer === undefined ? 'ended' : await consumer.close();
        report.tally(
          tally,
          policy.ackMode === 'auto'
            ? { count: inbox.length, reason: 'auto-ack', mayBeIncomplete: cancelOutcome !== 'closed' }
            : null,
        );
        if (policy.ackMode === 'manual' && closed === 'closed') {
          // The broker confirmed the close, so it has taken back every message left unacknowledged.
          const fate = heldMessagesFate('manual', heldMessages(null, hung, inbox), durability, 'broker-up');
          if (fate !== undefined) report.notice(fate);
        }
        if (closed !== 'closed' && session.isLost() && policy.ackMode === 'manual') {
          // Only the channel's CloseOk proves the broker got the acks sent before it.
          throw withHint(
            await session.lost,
            'The broker did not confirm closing the channel, so the last acks may not have reached it: it delivers again any message whose ack it missed.',
          );
        }
        return 0;
      }
    } finally {
      stopListening();
    }
  });
}

/** Why the worker stopped taking messages: the error to show and what it means for the message in hand. */
interface WorkerFailure {
  error: unknown;
  stop: WorkerStop;
  /** Whether, and how, the worker can carry on (see consumerRetry). */
  retry: ConsumerRetry;
}

/** What a consumer the broker ended means for the message in hand. */
function workerStopOf(stop: ConsumerStop, queueDeleted: boolean): WorkerStop {
  if (stop.kind === 'channel-closed') return 'connection-lost';
  return queueDeleted ? 'queue-deleted' : 'consumer-cancelled';
}

/** Delivered messages never started that are lost now: all of them with auto-ack, or with their queue. */
function unstartedLoss(ackMode: AckMode, stop: WorkerStop, count: number): UnstartedLoss | null {
  if (ackMode === 'auto') return { count, reason: 'auto-ack' };
  return stop === 'queue-deleted' ? { count, reason: 'queue-deleted' } : null;
}

/** What the worker holds unacknowledged (or, with auto-ack, merely unprocessed), for heldMessagesFate. */
function heldMessages(
  inHand: ConsumeMessage | null,
  hung: ConsumeMessage[],
  waiting: ConsumeMessage[],
): HeldMessages {
  const kept = (message: ConsumeMessage) => ({ persistent: isPersistent(message) });
  return { inHand: inHand === null ? null : kept(inHand), hung: hung.map(kept), waiting: waiting.map(kept) };
}

/** Delivery mode 2: the broker writes the message to disk, so a durable queue keeps it across a restart. */
function isPersistent(message: ConsumeMessage): boolean {
  return message.properties.deliveryMode === 2;
}

/** The same error with `sentence` put before its hint. */
function withHint(error: unknown, sentence: string | undefined): unknown {
  if (sentence === undefined || !(error instanceof QtoolError)) return error;
  return new QtoolError(error.message, {
    exitCode: error.exitCode,
    cause: error.cause,
    hint: error.hint === undefined ? sentence : `${sentence} ${error.hint}`,
  });
}

/** Fake work: an asynchronous sleep (heartbeats keep flowing) or, with --block, a busy wait. */
async function doWork(ms: number, block: boolean, abandon: AbortSignal): Promise<void> {
  if (ms <= 0) return;
  if (!block) {
    await sleep(ms, undefined, { signal: abandon }).catch(() => {});
    return;
  }
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // Deliberately burning the CPU: nothing else in this process runs, heartbeats included.
  }
}

/**
 * After a blocking piece of work, a lost connection is the heartbeat time-out the lab shows: the
 * broker stopped hearing from this worker and closed its connection (the broker itself is up).
 * Undefined when the connection was lost for another reason.
 */
function heartbeatStarvation(
  blockedMs: number,
  heartbeatSeconds: number,
  original: unknown,
  fate: string | undefined,
): QtoolError | undefined {
  if (heartbeatSeconds === 0 || blockedMs < heartbeatSeconds * 1000) return undefined;
  return new QtoolError(
    `lost the connection to the broker: this worker blocked for ${formatDuration(blockedMs)} without sending heartbeats ` +
      `(every ${heartbeatSeconds} s), so the broker timed it out`,
    {
      cause: original,
      hint: `${fate === undefined ? '' : `${fate} `}Raise --heartbeat above the longest job, or drop --block.`,
    },
  );
}

function describeStart(
  link: Link,
  settings: ConnectionSettings,
  policy: WorkerPolicy,
  options: QprocessorOptions,
  heartbeat: number,
): string {
  const parts = [
    `waiting for messages on '${settings.queue}' at ${nodeInUse(settings, link.clustered)}`,
    policy.ackMode === 'manual' ? 'acks after the work' : 'auto-ack',
    options.prefetch === undefined ? 'prefetch unlimited' : `prefetch ${options.prefetch}`,
    `${policy.delayPerCharSeconds} s per character${options.block ? ' (blocking)' : ''}`,
    heartbeat === 0 ? 'heartbeats off' : `heartbeat ${heartbeat} s`,
  ];
  if (policy.loseEvery !== undefined) {
    parts.push(
      `losing every ${ordinal(policy.loseEvery)} message${policy.ackMode === 'manual' ? ` (${policy.onLose})` : ''}`,
    );
  }
  return `${parts.join(', ')}. Ctrl-C to stop.`;
}

function ordinal(n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}
