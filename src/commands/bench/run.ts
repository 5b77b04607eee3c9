import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer } from '../../amqp/consume.js';
import { explainAmqpError } from '../../amqp/explain.js';
import type { PublishResult } from '../../amqp/publish.js';
import { declareQueue, deleteQueueCounting } from '../../amqp/queue.js';
import { openSession, type Session } from '../../amqp/session.js';
import { type ConnectionSettings, maskedUrl } from '../../config/connection.js';
import { QtoolError } from '../../errors.js';
import type { LiveDisplay } from '../../output/bench-progress.js';
import { explainConsumerStop } from '../consumer-stop.js';
import { startBenchConsumer } from './consumer.js';
import { DRAIN_MS, IDLE_MS } from './defaults.js';
import { type BenchPlan, expectedDeliveries, producerShare, queueIndexFor } from './plan.js';
import { runProducer } from './producer.js';
import { type BenchEnding, type BenchSummary, summarise } from './report.js';
import { liveFigures } from './report-text.js';
import { BenchStats } from './stats.js';

/** The live line's interval. */
const TICK_MS = 1_000;

/** The Ctrl-C's a run obeys: the first stops publishing, the second stops every wait. */
export interface RunControl {
  stop: AbortSignal;
  giveUp: AbortSignal;
}

export interface RunOutcome {
  summary: BenchSummary;
  /** Why the run failed (a lost connection, a refused declare), explained; the summary holds what it measured. */
  failure: QtoolError | undefined;
  /** Whether the producers started: else there is nothing to summarise. */
  started: boolean;
}

/** `qtool-bench-1a2b3c4d-1`, ...: names no one else uses, that say what made them. */
export function temporaryQueueNames(count: number, id = randomBytes(4).toString('hex')): string[] {
  return Array.from({ length: count }, (_, index) => `qtool-bench-${id}-${index + 1}`);
}

/**
 * One bench run: declares its temporary queues, starts the consumers (each on a connection of its
 * own), then the producers, shows the live line each second, waits for the deliveries, and deletes
 * the queues whatever happened. `pending` holds the queues that exist and are not deleted yet, for
 * a last-resort message should the process be ended at once.
 */
export async function runBenchOnce(
  settings: ConnectionSettings,
  plan: BenchPlan,
  control: RunControl,
  createDisplay: (plan: BenchPlan) => LiveDisplay,
  pending: string[],
): Promise<RunOutcome> {
  const names = temporaryQueueNames(plan.queues);
  const stats = new BenchStats();
  const results: PublishResult[] = [];
  let failure: QtoolError | undefined;
  // Publishing stops on the first Ctrl-C, and when something else fails.
  const stop = new AbortController();
  const giveUp = new AbortController();
  const onStop = () => stop.abort();
  const onGiveUp = () => {
    stop.abort();
    giveUp.abort();
  };
  control.stop.addEventListener('abort', onStop);
  control.giveUp.addEventListener('abort', onGiveUp);
  if (control.stop.aborted) stop.abort();
  if (control.giveUp.aborted) onGiveUp();
  /** Set once the run is over: the connections closing then are no failure. */
  let over = false;
  const fail = (error: unknown) => {
    if (over) return;
    failure ??= error instanceof QtoolError ? error : explainAmqpError(error, settings);
    onGiveUp();
  };

  const sessions: Session[] = [];
  let admin: Session | undefined;
  let display: LiveDisplay | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let ended: BenchEnding = plan.length.kind;
  let expectedReceived = 0;
  let queuesLeft: string[] = [];
  try {
    admin = await openSession(settings, 'bench');
    watchSession(admin, fail);
    for (const name of names) {
      await declareQueue(admin.model, name, {
        durable: true,
        arguments: { 'x-queue-type': plan.queueType },
      }).catch((error: unknown) => {
        throw explainAmqpError(error, settings);
      });
      pending.push(name);
    }

    const consumers: Consumer[] = [];
    for (let index = 0; index < plan.consumers; index += 1) {
      const session = await openSession(settings, `bench consumer ${index + 1}`);
      sessions.push(session);
      watchSession(session, fail);
      const queue = names[queueIndexFor(index, plan.queues)] as string;
      const consumer = await startBenchConsumer(session, queue, plan, stats);
      consumers.push(consumer);
      void consumer.stopped.then(async (stopped) => {
        if (!over) fail((await explainConsumerStop(stopped, session, queue)).error);
      });
    }
    const producers: Session[] = [];
    for (let index = 0; index < plan.producers; index += 1) {
      const session = await openSession(settings, `bench producer ${index + 1}`);
      sessions.push(session);
      producers.push(session);
      watchSession(session, fail);
    }

    const startedAt = performance.now();
    stats.begin(startedAt);
    display = createDisplay(plan);
    const shown = display;
    const progress = () => progressOf(plan, stats, performance.now());
    ticker = setInterval(() => {
      const sample = stats.sample(performance.now());
      shown.update(progress(), liveFigures(sample, plan));
    }, TICK_MS);
    const deadline = plan.length.kind === 'duration' ? startedAt + plan.length.seconds * 1000 : undefined;
    const count = plan.length.kind === 'count' ? plan.length.count : undefined;
    const queueOf = producers.map((_, index) => queueIndexFor(index, plan.queues));
    results.push(
      ...(await Promise.all(
        producers.map((session, index) =>
          runProducer(
            session,
            names[queueOf[index] as number] as string,
            plan,
            {
              queueIndex: queueOf[index] as number,
              count: count === undefined ? undefined : producerShare(count, plan.producers, index),
              deadline,
            },
            stats,
            { stop: stop.signal, giveUp: giveUp.signal },
            (reason) =>
              shown.note(
                reason === null
                  ? `qtool: producer ${index + 1}: the broker takes messages again`
                  : `qtool: producer ${index + 1}: the broker is blocking publishers: ${reason}`,
              ),
          ),
        ),
      )),
    );
    for (const result of results) {
      if (result.error !== undefined) fail(result.error);
    }

    // What the broker accepted, per queue: that is what the consumers should see.
    const accepted = names.map(() => 0);
    results.forEach((result, index) => {
      const queueIndex = queueOf[index] as number;
      const taken = plan.confirmWindow > 0 ? result.confirmed : result.sent - result.returned;
      accepted[queueIndex] = (accepted[queueIndex] as number) + taken;
    });
    expectedReceived = expectedDeliveries(plan, accepted);
    if (plan.consumers > 0 && failure === undefined) {
      await awaitDeliveries(stats, expectedReceived, plan, control, giveUp.signal);
    }
    if (control.stop.aborted) ended = 'interrupted';
  } catch (error) {
    fail(error);
  } finally {
    if (failure !== undefined) ended = 'failed';
    over = true;
    clearInterval(ticker);
    display?.stop();
    control.stop.removeEventListener('abort', onStop);
    control.giveUp.removeEventListener('abort', onGiveUp);
    await Promise.all(sessions.map((session) => session.close()));
    const declared = pending.filter((queue) => names.includes(queue));
    queuesLeft = await deleteQueues(settings, admin, declared);
    const deleted = new Set(declared.filter((queue) => !queuesLeft.includes(queue)));
    pending.splice(0, pending.length, ...pending.filter((queue) => !deleted.has(queue)));
    await admin?.close();
  }

  const summary = summarise({
    plan,
    broker: maskedUrl(settings),
    queues: names,
    stats,
    results,
    expectedReceived,
    ended,
    queuesLeft,
  });
  return { summary, failure, started: stats.startedAt > 0 };
}

/** A lost connection ends the run: nothing more can be measured on it. */
function watchSession(session: Session, fail: (error: unknown) => void): void {
  void session.lost.then(fail);
}

/** Where the bar stands: messages done in a --count run, seconds gone in a --duration run. */
function progressOf(plan: BenchPlan, stats: BenchStats, at: number): number {
  if (plan.length.kind === 'duration') return (at - stats.startedAt) / 1000;
  if (plan.consumers > 0) return stats.received;
  return plan.confirmWindow > 0 ? stats.confirmed : stats.sent;
}

/**
 * Waits for the consumers to receive `expected` deliveries. A --count run waits as long as they
 * keep coming (until IDLE_MS pass without one); a run that stopped early (time up, Ctrl-C) drains
 * for DRAIN_MS at most. The second Ctrl-C stops waiting at once.
 */
async function awaitDeliveries(
  stats: BenchStats,
  expected: number,
  plan: BenchPlan,
  control: RunControl,
  giveUp: AbortSignal,
): Promise<void> {
  let drainUntil =
    plan.length.kind === 'duration' || control.stop.aborted ? performance.now() + DRAIN_MS : null;
  while (stats.received < expected && !giveUp.aborted) {
    if (drainUntil === null && control.stop.aborted) drainUntil = performance.now() + DRAIN_MS;
    const waitMs = drainUntil === null ? IDLE_MS : drainUntil - performance.now();
    if (waitMs <= 0) return;
    const before = stats.received;
    const timer = new AbortController();
    const woken = await Promise.race([
      stats.whenReceived(expected).then(() => 'all' as const),
      sleep(waitMs, 'time' as const, { signal: timer.signal }).catch(() => 'cancelled' as const),
      abortOf(giveUp).then(() => 'given-up' as const),
      // The first Ctrl-C turns a --count run's patient wait into a short drain.
      drainUntil === null
        ? abortOf(control.stop).then(() => 'stopped' as const)
        : new Promise<never>(() => {}),
    ]);
    timer.abort();
    if (woken === 'time' && drainUntil === null && stats.received === before) return;
  }
}

/** Resolves when the signal aborts (at once if it has). */
function abortOf(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/**
 * Deletes the run's queues, on the run's own connection or, when that was lost, on a new one.
 * Returns the queues it could not delete (the broker is gone, say), for the user to delete later.
 */
async function deleteQueues(
  settings: ConnectionSettings,
  admin: Session | undefined,
  queues: string[],
): Promise<string[]> {
  if (queues.length === 0) return [];
  let session = admin;
  let ownSession: Session | undefined;
  if (session === undefined || session.isLost()) {
    try {
      ownSession = await openSession(settings, 'bench cleanup');
      session = ownSession;
    } catch {
      return queues;
    }
  }
  const left: string[] = [];
  for (const queue of queues) {
    try {
      await deleteQueueCounting(session.model, queue, { ifUnused: false, ifEmpty: false });
    } catch {
      left.push(queue);
    }
  }
  await ownSession?.close();
  return left;
}
