import { randomBytes } from 'node:crypto';
import { sleep } from '../worker/long-sleep.js';
import { letPendingIoRun, negotiatedHeartbeat } from '../amqp/connect.js';
import { type ConsumeMessage, startConsumer } from '../amqp/consume.js';
import { type DurabilityRequest, ensureQueue } from '../amqp/queue.js';
import { type ConnectionSettings, maskedUrl } from '../config/connection.js';
import { EXIT_CRASH, QtoolError } from '../errors.js';
import { formatDuration } from '../output/format.js';
import { colorLevel, createStyle } from '../output/style.js';
import { createWorkerReporter, type DeliveryInfo } from '../output/worker-report.js';
import {
  decide,
  emptyTally,
  type OnLose,
  outlastsConsumerTimeout,
  type WorkerPolicy,
} from '../worker/policy.js';
import { consumerStopError } from './consumer-stop.js';
import type { CommandIo } from './io.js';
import { withSession } from './with-session.js';

export interface QprocessorOptions {
  name: string | undefined;
  delayPerCharSeconds: number;
  /** Busy-wait instead of sleeping: starves heartbeats, as the lab's time-out section needs. */
  block: boolean;
  acknowledge: boolean;
  prefetch: number | undefined;
  loseEvery: number | undefined;
  onLose: OnLose;
  json: boolean;
  durability: DurabilityRequest;
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

  return withSession(settings, `qprocessor ${name}`, async (session) => {
    await ensureQueue(session.model, settings.queue, options.durability, settings);

    // Deliveries wait here and are worked on one at a time, as a single-threaded worker does.
    const inbox: ConsumeMessage[] = [];
    let wakeLoop: (() => void) | null = null;
    const wake = () => {
      const resume = wakeLoop;
      wakeLoop = null;
      resume?.();
    };
    const consumer = await startConsumer(
      session.model,
      settings.queue,
      { noAck: policy.ackMode === 'auto', prefetch: options.prefetch },
      (message) => {
        inbox.push(message);
        wake();
      },
    );

    let stopping = false;
    const stopListening = io.onInterrupt((count) => {
      if (count > 1) {
        report.notice('second interrupt: exiting at once');
        io.exitNow(130);
      }
      if (stopping) return;
      stopping = true;
      report.notice('stopping: finishing the message in hand (Ctrl-C again to quit at once)');
      void consumer.cancel();
      wake();
    });

    const heartbeat = negotiatedHeartbeat(session.model);
    report.notice(describeStart(settings, policy, options, heartbeat));
    if (options.prefetch !== undefined && policy.ackMode === 'auto') {
      report.warn(
        '--prefetch has no effect without --acknowledge: the broker does not limit auto-ack consumers',
      );
    }

    const tally = emptyTally();
    let deliveries = 0;
    // Set when the consumer's channel or the connection ends under us.
    let failure: unknown;
    // Ends the fake work early when the channel or connection dies under it.
    const failed = new AbortController();
    const noteFailure = (reason: unknown) => {
      failure ??= reason;
      failed.abort();
      wake();
    };
    void consumer.stopped.then(async (stop) =>
      noteFailure(await consumerStopError(stop, session, settings.queue)),
    );
    void session.lost.then(noteFailure);

    try {
      while (!stopping && failure === undefined) {
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
        };

        const decision = decide(deliveries, message.content, policy);
        if (decision.action === 'lose') {
          tally.lost += 1;
          report.lost(delivery, deliveries, decision.outcome);
          if (decision.outcome === 'requeue') {
            consumer.requeue(message);
            tally.requeued += 1;
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
        const started = performance.now();
        await doWork(decision.workMs, options.block, failed.signal);
        const elapsed = performance.now() - started;
        // A busy wait starves the event loop: let socket reads run, so a connection the broker
        // dropped meanwhile is noticed before we claim an ack.
        if (options.block) await letPendingIoRun();
        if (failure !== undefined || session.isLost()) {
          failure ??= await session.lost;
          if (options.block) failure = heartbeatStarvation(elapsed, heartbeat, failure);
          break;
        }
        if (policy.ackMode === 'manual') consumer.ack(message);
        tally.processed += 1;
        report.processed(delivery, elapsed, policy.ackMode === 'manual');
      }
    } finally {
      stopListening();
    }

    if (failure !== undefined) {
      report.tally(tally, policy.ackMode === 'auto' ? inbox.length : 0);
      throw failure;
    }
    await consumer.close();
    report.tally(tally, policy.ackMode === 'auto' ? inbox.length : 0);
    return 0;
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

/** After a blocking piece of work, a lost connection is the heartbeat time-out the lab shows. */
function heartbeatStarvation(blockedMs: number, heartbeatSeconds: number, original: unknown): unknown {
  if (heartbeatSeconds === 0 || blockedMs < heartbeatSeconds * 1000) return original;
  return new QtoolError(
    `lost the connection to the broker: this worker blocked for ${formatDuration(blockedMs)} without sending heartbeats ` +
      `(every ${heartbeatSeconds} s), so the broker timed it out`,
    {
      cause: original,
      hint: 'The message was not acknowledged, so the broker will redeliver it. Raise --heartbeat above the longest job, or drop --block.',
    },
  );
}

function describeStart(
  settings: ConnectionSettings,
  policy: WorkerPolicy,
  options: QprocessorOptions,
  heartbeat: number,
): string {
  const parts = [
    `waiting for messages on '${settings.queue}' at ${maskedUrl(settings)}`,
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
