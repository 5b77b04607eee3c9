import { constants as osConstants } from 'node:os';
import type { MessageProperties, Options } from 'amqplib';
import { letPendingIoRun, negotiatedHeartbeat } from '../amqp/connect.js';
import { type CloseOutcome, type ConsumeMessage, type Consumer, startConsumer } from '../amqp/consume.js';
import { deliveryCountOf } from '../amqp/delivery-count.js';
import { explainAmqpError } from '../amqp/explain.js';
import {
  ensureJobQueues,
  type JobPublisher,
  openJobPublisher,
  PublishRefusedError,
  UnroutableError,
} from '../amqp/job-queues.js';
import type { Link } from '../amqp/link.js';
import { ensureQueue, inspectExistingQueue } from '../amqp/queue.js';
import type { QueueType } from '../amqp/queue-type.js';
import { reconnectDelay } from '../amqp/reconnect-policy.js';
import { announcedServer } from '../amqp/server-identity.js';
import type { Session } from '../amqp/session.js';
import type { ConnectionSettings } from '../config/connection.js';
import { UsageError } from '../errors.js';
import { formatDuration, plural, shellQuote } from '../output/format.js';
import { createJobReporter, emptyJobTally, type FailureFate, type JobInfo } from '../output/job-report.js';
import { colorLevel, createStyle } from '../output/style.js';
import { rabbitmqVersion } from '../worker/delivery-limit.js';
import {
  afterFailure,
  attemptsSoFar,
  failedHeaders,
  failedQueueName,
  failureReason,
  jobEnvironment,
  jobPrefetch,
  jobSucceeded,
  replyExitCode,
  replyHeaders,
  retryHeaders,
  retryQueueName,
} from '../worker/job-policy.js';
import { type AckMode, DEFAULT_CONSUMER_TIMEOUT_MS } from '../worker/policy.js';
import { type ConsumerRetry, consumerRetry, explainConsumerStop } from './consumer-stop.js';
import type { CommandIo } from './io.js';
import type { QprocessorOptions } from './qprocessor.js';
import { publishReply, replyToOf } from './reply.js';
import { type JobRun, MAX_KEPT_STDOUT_BYTES, runJob } from './run-job.js';
import { lostLine, nodeInUse, reconnectSaying, withLink } from './with-link.js';

/** `qprocessor --exec`'s own options. */
export interface JobOptions {
  command: string;
  /** --job-timeout: SIGTERM to the job's process group after this long; undefined: none. */
  timeoutSeconds: number | undefined;
  /** --kill-after: SIGKILL this long after the time-out's SIGTERM. */
  killAfterSeconds: number;
  concurrency: number;
  retries: number;
  retryDelaySeconds: number;
}

/** The longest name a queue may have (AMQP's short string). */
const MAX_QUEUE_NAME_BYTES = 255;

/** One consumer on one connection, and what ended it. */
interface Generation {
  session: Session;
  consumer: Consumer | undefined;
  publisher: JobPublisher | undefined;
  failure: { error: unknown; retry: ConsumerRetry; queueDeleted?: boolean } | undefined;
  /** Messages held unacked on this channel (their outcome refused): each keeps a prefetch slot. */
  held: number;
}

interface Delivery {
  message: ConsumeMessage;
  /** The consumer (and connection) that delivered it: only there can it be acked. */
  gen: Generation;
  /** Its command is still running (false once it ended and its outcome is being settled). */
  executing?: boolean;
}

/**
 * `qtool qprocessor --exec "<command>"`: runs the command once per message (up to --concurrency at
 * once), body on stdin, metadata in QTOOL_* variables. With --acknowledge a message is acked only
 * after its outcome is safe with the broker: the reply, the retry or the `.failed` copy confirmed.
 */
export async function runJobWorker(
  settings: ConnectionSettings,
  name: string,
  options: QprocessorOptions,
  job: JobOptions,
  io: CommandIo,
): Promise<number> {
  const ackMode: AckMode = options.acknowledge ? 'manual' : 'auto';
  const queue = settings.queue;
  const retryQueue = retryQueueName(queue);
  const failedQueue = failedQueueName(queue);
  // '.failed' is the longer suffix, and every --acknowledge worker declares that queue.
  if (ackMode === 'manual' && Buffer.byteLength(failedQueue) > MAX_QUEUE_NAME_BYTES) {
    throw new UsageError(
      `queue name '${queue}' is too long for --exec with --acknowledge: '${failedQueue}' would exceed ${MAX_QUEUE_NAME_BYTES} bytes`,
    );
  }
  const jobQueues = { queue, retry: job.retries > 0 ? retryQueue : undefined, failed: failedQueue };
  const { prefetch, raisedFrom } = jobPrefetch(job.concurrency, options.prefetch, ackMode);
  const style = createStyle(options.json ? 0 : colorLevel(io.env, Boolean(io.stdout.isTTY)));
  const report = createJobReporter({ name, json: options.json, style, stdout: io.stdout, stderr: io.stderr });

  return withLink(settings, `qprocessor ${name}`, options.reconnect, async (link) => {
    const tally = emptyJobTally();
    let stopping = false;
    /** Leaving on an error: no job may start any more, whatever ends meanwhile. */
    let leaving = false;
    /** A second interrupt: the jobs are being stopped, and their results settle nothing. */
    let quitting = false;
    let current: Generation | undefined;
    let cancelled: Promise<CloseOutcome> | undefined;
    /** Aborted when the worker leaves for good: no job may outlive it. */
    const jobsEnd = new AbortController();
    const interrupted = new AbortController();
    let wakeMain: (() => void) | null = null;
    const wake = () => {
      const resume = wakeMain;
      wakeMain = null;
      resume?.();
    };
    const waitForWake = () =>
      new Promise<void>((resolve) => {
        wakeMain = resolve;
      });

    /**
     * Delivered, not started. With auto-ack these are ours whatever becomes of the connection; with
     * manual acks a lost channel's deliveries are the broker's again, and are skipped.
     */
    const inbox: Delivery[] = [];
    const running = new Map<Promise<void>, Delivery>();
    /**
     * Jobs holding a slot of --concurrency. A job whose connection was lost (manual acks) gives its
     * slot up: it runs on, but its message is the broker's again, and the new channel's prefetch
     * hands out a full set of new deliveries that must not wait behind it.
     */
    const busySlots = () => {
      let busy = 0;
      for (const delivery of running.values()) {
        if (ackMode === 'auto' || delivery.gen.failure === undefined) busy += 1;
      }
      return busy;
    };
    const pump = () => {
      while (!stopping && !leaving && busySlots() < job.concurrency) {
        const next = inbox.shift();
        if (next === undefined) return;
        if (ackMode === 'manual' && next.gen.failure !== undefined) continue;
        const done: Promise<void> = work(next).finally(() => {
          running.delete(done);
          pump();
          wake();
        });
        running.set(done, next);
      }
    };
    const allRunning = () => Promise.all(running.keys());

    const stopListening = io.onInterrupt(
      (count) => {
        if (count > 1) {
          if (quitting) return;
          quitting = true;
          const jobs = running.size;
          const fate =
            jobs === 0
              ? ''
              : ackMode === 'manual'
                ? `; ${jobs === 1 ? 'its message is' : 'their messages are'} not acked, so the broker delivers ${jobs === 1 ? 'it' : 'them'} again`
                : ` and ${jobs === 1 ? 'its message is' : 'their messages are'} lost (auto-ack: the broker had already removed ${jobs === 1 ? 'it' : 'them'})`;
          // Delivered but never started: with auto-ack they go with this process too.
          const waiting = inbox.length;
          const unstarted =
            waiting === 0
              ? ''
              : `; ${plural(waiting, 'message')} delivered but never started ${
                  ackMode === 'manual'
                    ? `${waiting === 1 ? 'is' : 'are'} not acked either, so the broker delivers ${waiting === 1 ? 'it' : 'them'} again`
                    : `${waiting === 1 ? 'is' : 'are'} lost too`
                }`;
          report.notice(
            `${
              jobs === 0
                ? 'second interrupt: exiting at once'
                : `second interrupt: stopping the ${jobs === 1 ? 'job' : `${jobs} jobs`} in hand (SIGTERM, SIGKILL ${job.killAfterSeconds} s later if still running) and exiting${fate}`
            }${unstarted}`,
          );
          jobsEnd.abort();
          // The 'exit' hook of run-job SIGKILLs whatever is left when this ends the process.
          const limit = new Promise((resolve) => setTimeout(resolve, job.killAfterSeconds * 1000 + 500));
          void Promise.race([allRunning(), limit]).then(() => io.exitNow(130));
          return;
        }
        if (stopping) return;
        stopping = true;
        report.notice('stopping: finishing the jobs in hand, if any (Ctrl-C again to quit at once)');
        interrupted.abort();
        cancelled = current?.consumer?.cancel();
        wake();
      },
      // A closed terminal or ssh session stops the worker as Ctrl-C does, not Node at once with
      // its jobs (each in a process group of its own) left running.
      { hangup: true },
    );

    /** Where a reply or republish goes out: the delivering connection's channel, or (auto-ack) the current one. */
    const publisherFor = async (gen: Generation): Promise<JobPublisher | undefined> => {
      const target = ackMode === 'manual' ? gen : (current ?? gen);
      if (target.session.isLost()) return undefined;
      if (target.publisher === undefined || !target.publisher.isOpen()) {
        target.publisher = await openJobPublisher(target.session.model);
      }
      return target.publisher;
    };

    /** Runs one delivery's job and settles its message. Never rejects. */
    const work = async (delivery: Delivery): Promise<void> => {
      const { message, gen } = delivery;
      delivery.executing = true;
      tally.received += 1;
      if (message.fields.redelivered) tally.redelivered += 1;
      const props = message.properties;
      const attempt = attemptsSoFar(props.headers) + 1;
      const info: JobInfo = {
        body: message.content,
        label: jobLabel(props.messageId, message.fields.deliveryTag),
        messageId: typeof props.messageId === 'string' ? props.messageId : undefined,
        redelivered: message.fields.redelivered,
        deliveryCount: deliveryCountOf(message),
        deliveryTag: message.fields.deliveryTag,
        attempt,
      };
      report.received(info);
      const run = await runJob({
        command: job.command,
        stdin: message.content,
        env: jobEnvironment({
          messageId: info.messageId,
          queue,
          redelivered: info.redelivered,
          deliveryCount: info.deliveryCount,
          correlationId: typeof props.correlationId === 'string' ? props.correlationId : undefined,
          attempt,
          worker: name,
        }),
        timeoutMs: job.timeoutSeconds === undefined ? undefined : job.timeoutSeconds * 1000,
        killAfterMs: job.killAfterSeconds * 1000,
        onLine: (stream, line) => report.output(info, stream, line),
        signal: jobsEnd.signal,
      });
      delivery.executing = false;
      // Stopped by a second interrupt: not a failure of the job, and nothing is published or acked.
      if (quitting) return;
      const succeeded = jobSucceeded(run);
      // Its delivery tag means nothing on any later channel: the broker delivers it again instead.
      const stale = () => ackMode === 'manual' && (gen.failure !== undefined || gen.session.isLost());
      /** The queue a copy of it was confirmed into, if one was: said when it is dropped after all. */
      let copiedInto: string | undefined;
      const drop = () => {
        tally.dropped += 1;
        if (copiedInto !== undefined) tally.droppedAfterCopy += 1;
        report.dropped(info, succeeded, copiedInto);
      };
      /** False when the ack could not be sent (its channel closed): then it is dropped, not acked. */
      const ack = () => ackMode === 'auto' || gen.consumer?.ack(message) === true;
      if (stale()) return drop();
      if (run.stdoutBytes > run.stdout.length && replyToOf(props) !== undefined) {
        report.warn(
          `${info.label}: its stdout (${run.stdoutBytes} bytes) is longer than the ${MAX_KEPT_STDOUT_BYTES} bytes kept for a reply: the reply holds the first ${run.stdout.length} and says so in x-qtool-stdout-bytes`,
        );
      }
      try {
        let reason: string;
        let replyRefused = false;
        if (succeeded) {
          const replied = await reply(gen, info, message, run, undefined);
          if (replied === 'done') {
            if (stale() || !ack()) return drop();
            tally.succeeded += 1;
            report.succeeded(info, run.durationMs, ackMode === 'manual');
            return;
          }
          // Requeueing would run it again and meet the same refusal, for ever: a failed attempt.
          replyRefused = true;
          reason = `reply refused: ${replied.refused}`;
        } else {
          reason = failureReason(run, job.timeoutSeconds);
        }
        let next = afterFailure(attempt, job.retries, ackMode);
        let fate: FailureFate = { kind: 'gone' };
        if (next.action === 'retry') {
          const publisher = await publisherFor(gen);
          if (publisher === undefined) throw new StaleDelivery();
          try {
            await publishCopy(gen, publisher, retryQueue, message.content, {
              ...carriedProperties(props),
              headers: retryHeaders(props.headers, next.attempts),
              expiration: String(Math.round(job.retryDelaySeconds * 1000)),
            });
            copiedInto = retryQueue;
            tally.retried += 1;
            fate = {
              kind: 'retry',
              retry: next.retry,
              of: job.retries,
              delaySeconds: job.retryDelaySeconds,
              via: retryQueue,
            };
          } catch (error) {
            if (!(error instanceof PublishRefusedError) || stale()) throw error;
            report.warn(
              `${info.label}: the broker refused its copy into '${retryQueue}' (${error.why}): moving it to '${failedQueue}' instead`,
            );
            reason = `${reason}; retry refused: ${error.why}`;
            next = { action: 'fail', attempts: attempt };
          }
        }
        if (next.action === 'fail') {
          const publisher = await publisherFor(gen);
          if (publisher === undefined) throw new StaleDelivery();
          await publishCopy(gen, publisher, failedQueue, message.content, {
            ...carriedProperties(props),
            headers: failedHeaders(props.headers, {
              exit: run,
              timeoutSeconds: job.timeoutSeconds,
              attempts: next.attempts,
              worker: name,
              queue,
              failedAt: new Date(),
              reason,
            }),
          });
          copiedInto = failedQueue;
          tally.movedToFailed += 1;
          if (stale()) return drop();
          if (!replyRefused) {
            const replied = await reply(gen, info, message, run, reason);
            if (replied !== 'done') {
              // Its copy is safe in .failed: the message is handled, only the answer is missing.
              report.warn(
                `${info.label}: the broker refused its reply to '${replyToOf(props)}' (${replied.refused}); its message is kept in '${failedQueue}', so it is acked`,
              );
            }
          }
          fate = { kind: 'failed-queue', queue: failedQueue };
        } else if (next.action === 'gone') {
          await reply(gen, info, message, run, reason);
        }
        if (stale() || !ack()) return drop();
        tally.failed += 1;
        report.failed(info, reason, run.durationMs, fate);
      } catch (error) {
        // A lost connection closes its channels a moment before it says so itself.
        await letPendingIoRun();
        if (stale() || error instanceof StaleDelivery) return drop();
        // The connection lives but nothing for this message could be made safe (its .failed copy
        // refused, or an error qtool did not foresee). A requeue would run it again at once and
        // meet the same, for ever: it is held unacked instead, and the broker has it back when
        // this worker's channel closes.
        const why =
          error instanceof PublishRefusedError
            ? error.message
            : explainAmqpError(error, gen.session.settings).message;
        if (ackMode === 'manual') {
          tally.held += 1;
          gen.held += 1;
          report.warn(
            `${info.label}: could not publish its outcome (${why}); not acked and not requeued (that would run it again at once): the broker delivers it again when this worker stops`,
          );
          // The broker counts a held message against the prefetch: once they fill it, this worker
          // gets nothing more, and would look as if it were waiting for work.
          if (prefetch !== undefined && prefetch > 0 && gen.held === prefetch) {
            report.warn(
              `its prefetch of ${prefetch} is all taken by messages it holds unacked, so the broker delivers it nothing more: stop it (Ctrl-C) to give them back, once what refused their outcome is mended`,
            );
          }
        } else {
          report.warn(`${info.label}: could not publish its outcome (${why})`);
        }
      }
    };

    /**
     * Puts a copy of a failed message into the retry or failed queue. When that queue was deleted
     * while the worker ran, declares the job queues again and tries once more, so the copy is never
     * confirmed into nowhere and its original acked.
     */
    const publishCopy = async (
      gen: Generation,
      publisher: JobPublisher,
      into: string,
      content: Buffer,
      options: Options.Publish,
    ): Promise<void> => {
      try {
        await publisher.publishInto(into, content, options);
      } catch (error) {
        if (!(error instanceof UnroutableError)) throw error;
        report.warn(`queue '${into}' is gone: declaring it again`);
        await ensureJobQueues(gen.session.model, jobQueues, gen.session.settings);
        await publisher.publishInto(into, content, options);
      }
    };

    /**
     * Publishes the result to reply_to, when the message has one, and waits for the broker's
     * confirm. 'done' when sent or not asked for; `refused` when the broker refused it while the
     * connection lives (with manual acks the caller decides). Throws when the connection went
     * (manual acks: the message is not acked without its reply).
     */
    const reply = async (
      gen: Generation,
      info: JobInfo,
      message: ConsumeMessage,
      run: JobRun,
      failure: string | undefined,
    ): Promise<'done' | { refused: string }> => {
      const props = message.properties;
      const replyTo = replyToOf(props);
      if (replyTo === undefined) return 'done';
      try {
        const publisher = await publisherFor(gen);
        if (publisher === undefined) throw new StaleDelivery();
        await publishReply(publisher, props, run.stdout, {
          ...replyHeaders({
            exitCode: replyExitCode(run, (signal) => osConstants.signals[signal] ?? 0),
            durationMs: run.durationMs,
            worker: name,
            ...(failure === undefined ? {} : { failure: { reason: failure, signal: run.signal } }),
          }),
          ...(run.stdoutBytes > run.stdout.length ? { 'x-qtool-stdout-bytes': run.stdoutBytes } : {}),
        });
        report.replied(info, replyTo);
        return 'done';
      } catch (error) {
        if (ackMode === 'manual') {
          await letPendingIoRun();
          if (error instanceof PublishRefusedError && !stale(gen)) return { refused: error.why };
          throw error;
        }
        // With auto-ack the job's outcome stands whatever becomes of its reply.
        const why =
          error instanceof StaleDelivery
            ? 'the connection is down'
            : explainAmqpError(error, gen.session.settings).message;
        report.warn(`${info.label}: its reply to '${replyTo}' was not sent: ${why}`);
        return 'done';
      }
    };

    /** A delivery whose channel or connection is gone (manual acks): its tag can no longer be acked. */
    const stale = (gen: Generation) => gen.failure !== undefined || gen.session.isLost();

    /**
     * Leaving on an error: the finally below stops every job still running (SIGTERM). Prints the
     * tally and what that means for their messages, counting auto-ack ones as lost.
     */
    const leaveOnError = async (queueDeleted: boolean) => {
      // A job that ends from here on (the lost channel, the SIGTERM below) must not start the next
      // one from the inbox: those messages are counted as never run.
      leaving = true;
      // Jobs that have ended settle first (a lost channel makes that quick): the tally counts them.
      const settling = [...running]
        .filter(([, delivery]) => delivery.executing !== true)
        .map(([done]) => done);
      await Promise.race([Promise.all(settling), new Promise((resolve) => setTimeout(resolve, 2_000))]);
      const stopped = [...running.values()].filter((delivery) => delivery.executing === true).length;
      if (ackMode === 'auto') tally.lost += stopped;
      report.tally(tally, ackMode, inbox.length);
      const account = stoppedAccount(ackMode, stopped, queueDeleted);
      if (account !== undefined) report.notice(account);
    };

    let started = false;
    let declare = true;
    let channelRetries = 0;
    try {
      for (;;) {
        const session = link.session;
        const gen: Generation = {
          session,
          consumer: undefined,
          publisher: undefined,
          failure: undefined,
          held: 0,
        };
        current = gen;
        const noteFailure = (failure: Generation['failure']) => {
          if (gen.failure !== undefined) return;
          gen.failure = failure;
          wake();
        };
        void session.lost.then((error) => noteFailure({ error, retry: 'connection' }));
        // A memory or disk alarm: replies and copies wait for the broker, and their messages stay
        // unacked meanwhile. Said once, as send does, rather than hanging in silence.
        let blockedSince = 0;
        session.model.on('blocked', (reason: unknown) => {
          blockedSince = performance.now();
          report.warn(
            `the broker is blocking publishers: ${String(reason ?? 'no reason given')}. Replies and retry/failed copies wait until it resumes, and their messages stay unacked meanwhile; Ctrl-C stops.`,
          );
        });
        session.model.on('unblocked', () => {
          report.notice(
            `the broker resumed taking messages after ${formatDuration(performance.now() - blockedSince)}`,
          );
        });
        const heartbeat = negotiatedHeartbeat(session.model);
        let queueType: QueueType | null = null;
        /** The start lines, once, before the first delivery can be reported. */
        const announceStart = () => {
          if (started) return;
          started = true;
          report.notice(describeStart(link, session.settings, job, prefetch, ackMode, heartbeat));
          report.notice(mechanismLine(ackMode, job, { queue, retryQueue, failedQueue }, queueType, session));
          if (raisedFrom !== undefined) {
            report.warn(
              `--prefetch ${raisedFrom} raised to ${prefetch} so that --concurrency ${job.concurrency} jobs can run at once`,
            );
          }
          if (
            ackMode === 'manual' &&
            job.timeoutSeconds !== undefined &&
            job.timeoutSeconds * 1000 > DEFAULT_CONSUMER_TIMEOUT_MS
          ) {
            report.warn(
              `--job-timeout ${job.timeoutSeconds} s outlasts the broker's consumer timeout (30 min by default): a job that long makes the broker close the channel and redeliver its message before the ack`,
            );
          }
          if (options.prefetch !== undefined && ackMode === 'auto') {
            report.warn(
              '--prefetch has no effect without --acknowledge: the broker does not limit auto-ack consumers',
            );
          }
        };

        try {
          if (declare) {
            const ensured = await ensureQueue(
              session.model,
              queue,
              options.durability,
              session.settings,
              options.queueType,
            );
            if (!started && ackMode === 'manual') {
              queueType = ensured.type ?? (await inspectExistingQueue(session.model, queue)).type;
            }
            if (ackMode === 'manual') {
              await ensureJobQueues(session.model, jobQueues, session.settings);
            }
          }
          gen.publisher = await openJobPublisher(session.model);
          // Said before consuming: a queue that holds messages delivers them at once.
          announceStart();
          const consumer = await startConsumer(
            session.model,
            queue,
            { noAck: ackMode === 'auto', prefetch },
            (message) => {
              inbox.push({ message, gen });
              pump();
            },
          );
          gen.consumer = consumer;
          void consumer.stopped.then(async (stop) => {
            const explained = await explainConsumerStop(stop, session, queue);
            noteFailure({
              error: explained.error,
              retry: consumerRetry(stop, explained, session),
              queueDeleted: explained.queueDeleted,
            });
          });
          if (stopping) cancelled = consumer.cancel();
        } catch (error) {
          if (!session.isLost()) throw error;
          await session.lost;
        }

        while (!stopping && gen.failure === undefined) await waitForWake();

        const ended = gen.failure;
        if (ended !== undefined && !stopping) {
          const inFlight = [...running.values()].filter((delivery) => delivery.gen === gen).length;
          if (ended.retry === 'none' || (ended.retry === 'connection' && !options.reconnect.enabled)) {
            await leaveOnError(ended.queueDeleted === true);
            throw ended.error;
          }
          const account = inFlightAccount(ackMode, inFlight);
          report.warn(lostLine(explainAmqpError(ended.error, session.settings), ended.retry, account));
          declare = ended.retry === 'connection';
          if (ended.retry === 'connection') {
            let restored: Awaited<ReturnType<typeof reconnectSaying>>;
            try {
              restored = await reconnectSaying(link, (line) => report.notice(line), interrupted.signal);
            } catch (error) {
              // Given up (--reconnect-timeout): the jobs still running are stopped on the way out.
              await leaveOnError(false);
              throw error;
            }
            if (restored === null) {
              await allRunning();
              report.tally(tally, ackMode, inbox.length);
              return 0;
            }
            channelRetries = 0;
          } else {
            await gen.consumer?.close();
            await gen.publisher?.close();
            channelRetries = tally.received > 0 ? 1 : channelRetries + 1;
            await new Promise((resolve) => setTimeout(resolve, reconnectDelay(channelRetries)));
          }
          tally.reconnects += 1;
          if (stopping) {
            await allRunning();
            report.tally(tally, ackMode, inbox.length);
            return 0;
          }
          continue;
        }

        // Ctrl-C: no new job starts; the ones running finish and settle on this channel.
        if (cancelled !== undefined) await cancelled;
        while (running.size > 0) await allRunning();
        await gen.publisher?.close();
        await gen.consumer?.close();
        report.tally(tally, ackMode, inbox.length);
        return 0;
      }
    } finally {
      // Leaving on an error (a deleted queue, a reconnect given up): no job may outlive its worker,
      // and none may start after it.
      leaving = true;
      jobsEnd.abort();
      stopListening();
    }
  });
}

/**
 * How a job is named on its lines: its message id, quoted when it holds characters that would
 * garble a terminal line; `#<delivery tag>` without one.
 */
function jobLabel(messageId: unknown, deliveryTag: number): string {
  if (typeof messageId !== 'string' || messageId === '') return `#${deliveryTag}`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we look for
  return /[\u0000-\u001f\u007f\s]/.test(messageId) ? JSON.stringify(messageId) : messageId;
}

/** A job's message whose channel is gone: its outcome is not published and it is not acked. */
class StaleDelivery extends Error {
  override readonly name = 'StaleDelivery';
}

/** The properties a retried or failed message keeps from the original (not its expiration, not transience). */
function carriedProperties(props: MessageProperties): Options.Publish {
  const kept: Options.Publish = {};
  if (typeof props.messageId === 'string') kept.messageId = props.messageId;
  if (typeof props.correlationId === 'string') kept.correlationId = props.correlationId;
  if (typeof props.replyTo === 'string') kept.replyTo = props.replyTo;
  if (typeof props.contentType === 'string') kept.contentType = props.contentType;
  if (typeof props.contentEncoding === 'string') kept.contentEncoding = props.contentEncoding;
  if (typeof props.type === 'string') kept.type = props.type;
  if (typeof props.appId === 'string') kept.appId = props.appId;
  if (typeof props.timestamp === 'number') kept.timestamp = props.timestamp;
  if (typeof props.priority === 'number') kept.priority = props.priority;
  // Always persistent: the original is acked once its copy is confirmed, so the copy is the only
  // one left, and a transient message from a quorum queue (kept on disk whatever its mode) must not
  // become a transient copy in a classic queue that a broker restart forgets.
  kept.persistent = true;
  return kept;
}

/** What becomes of the jobs running when the connection went, or undefined when none was. */
function inFlightAccount(ackMode: AckMode, count: number): string | undefined {
  if (count === 0) return undefined;
  const jobs = count === 1 ? 'The job in flight keeps' : `The ${count} jobs in flight keep`;
  return ackMode === 'manual'
    ? `${jobs} running, but ${count === 1 ? 'its result is' : 'their results are'} dropped: ${count === 1 ? 'its message was' : 'their messages were'} not acknowledged, so the broker delivers ${count === 1 ? 'it' : 'them'} again (flagged redelivered).`
    : `${jobs} running to the end (auto-ack: the broker had already removed ${count === 1 ? 'its message' : 'their messages'}).`;
}

/** What becomes of the jobs a worker leaving on an error stops, or undefined when none was running. */
export function stoppedAccount(ackMode: AckMode, count: number, queueDeleted: boolean): string | undefined {
  if (count === 0) return undefined;
  const one = count === 1;
  const jobs = one ? 'The job running was' : `The ${count} jobs running were`;
  if (ackMode === 'auto') {
    return `${jobs} stopped (SIGTERM) and ${one ? 'its message is' : 'their messages are'} lost: with auto-ack the broker had already removed ${one ? 'it' : 'them'}.`;
  }
  if (queueDeleted) {
    return `${jobs} stopped (SIGTERM); ${one ? 'its message' : 'their messages'} went with the deleted queue.`;
  }
  return `${jobs} stopped (SIGTERM); ${one ? 'its message was' : 'their messages were'} not acked, so the broker delivers ${one ? 'it' : 'them'} again.`;
}

function describeStart(
  link: Link,
  settings: ConnectionSettings,
  job: JobOptions,
  prefetch: number | undefined,
  ackMode: AckMode,
  heartbeat: number,
): string {
  const parts = [
    `waiting for messages on '${settings.queue}' at ${nodeInUse(settings, link.clustered)}`,
    ackMode === 'manual' ? 'acks after the job' : 'auto-ack',
    prefetch === undefined ? 'prefetch unlimited' : `prefetch ${prefetch}`,
    `running sh -c ${shellQuote(job.command)}`,
    `${job.concurrency === 1 ? 'one job' : `up to ${job.concurrency} jobs`} at a time`,
    job.timeoutSeconds === undefined
      ? 'no job time-out'
      : `job time-out ${job.timeoutSeconds} s (SIGKILL ${job.killAfterSeconds} s later)`,
    heartbeat === 0 ? 'heartbeats off' : `heartbeat ${heartbeat} s`,
  ];
  return `${parts.join(', ')}. Ctrl-C to stop.`;
}

/** The one line that says what a failed job leads to on this queue. */
function mechanismLine(
  ackMode: AckMode,
  job: JobOptions,
  names: { queue: string; retryQueue: string; failedQueue: string },
  queueType: QueueType | null,
  session: Session,
): string {
  if (ackMode === 'auto') {
    return `failures: cannot be retried or kept without --acknowledge (auto-ack: the broker removes each message when it delivers it, so a failed job's message is gone)${job.retries > 0 ? '; --retries has no effect' : ''}.`;
  }
  const retries =
    job.retries === 0
      ? `failures: moved to '${names.failedQueue}' at once (no --retries)`
      : `failures: retried up to ${job.retries} time${job.retries === 1 ? '' : 's'}, ${job.retryDelaySeconds} s apart, through '${names.retryQueue}' (per-message TTL, then dead-lettered back to '${names.queue}'), then moved to '${names.failedQueue}'`;
  if (queueType !== 'quorum') return `${retries}.`;
  const version = rabbitmqVersion(announcedServer(session.model));
  const limit =
    version !== null && version.major < 4
      ? 'sets no delivery limit by default'
      : 'returns a message at most 20 times by default (x-delivery-limit)';
  return `${retries}; '${names.queue}' is a quorum queue whose broker ${limit}: failed jobs are acked and republished, so only messages a lost or stopped worker gives back count toward it.`;
}
