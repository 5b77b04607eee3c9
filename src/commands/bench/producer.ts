import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { type PublishResult, publishAll } from '../../amqp/publish.js';
import type { Session } from '../../amqp/session.js';
import { TokenBucket } from './pacing.js';
import type { BenchPlan } from './plan.js';
import { stampedBody } from './stamp.js';
import type { BenchStats } from './stats.js';

/**
 * Without --rate a producer would publish for as long as the socket takes data and confirms keep
 * up, without the event loop ever turning: consumers, confirms and the live line would starve.
 * So it lets the loop turn after this many messages.
 */
const TURN_EVERY = 64;

export interface ProducerRun {
  /** Index of the queue it publishes to. */
  queueIndex: number;
  /** Messages to send, or undefined to send until `deadline` or the stop. */
  count: number | undefined;
  /** performance.now() time to stop publishing at, for a --duration run. */
  deadline: number | undefined;
}

export interface ProducerSignals {
  /** Stop publishing (the first Ctrl-C, or another part of the run failed); confirms are still awaited. */
  stop: AbortSignal;
  /** Stop waiting for confirms too (the second Ctrl-C). */
  giveUp: AbortSignal;
}

/**
 * One producer on its own connection: publishes stamped bodies to its queue through publishAll,
 * which keeps at most the confirm window unconfirmed and waits for the socket's 'drain', so memory
 * stays bounded however slow the broker is. Resolves with publishAll's account once done.
 */
export async function runProducer(
  session: Session,
  queue: string,
  plan: BenchPlan,
  run: ProducerRun,
  stats: BenchStats,
  signals: ProducerSignals,
  onBlocked: (reason: string | null) => void,
): Promise<PublishResult> {
  return publishAll(
    session.model,
    { exchange: '', routingKey: queue },
    stampedBodies(plan, run, signals.stop),
    {
      persistent: plan.persistent,
      confirm: plan.confirmWindow > 0,
      window: Math.max(plan.confirmWindow, 1),
      signal: signals.stop,
      giveUp: signals.giveUp,
      onSent: () => stats.noteSent(performance.now()),
      onConfirmed: () => stats.noteConfirmed(performance.now()),
      onBlocked: (reason) => onBlocked(reason),
      onUnblocked: () => onBlocked(null),
    },
  );
}

/**
 * The bodies one producer sends, each stamped with its send time as publishAll asks for it (it
 * publishes at once), paced by --rate when given.
 */
async function* stampedBodies(plan: BenchPlan, run: ProducerRun, stop: AbortSignal): AsyncGenerator<Buffer> {
  const padding = Buffer.alloc(plan.size);
  const bucket = plan.rate === undefined ? null : new TokenBucket(plan.rate, performance.now());
  let made = 0;
  let sinceTurn = 0;
  while (!stop.aborted && (run.count === undefined || made < run.count)) {
    const now = performance.now();
    if (run.deadline !== undefined && now >= run.deadline) return;
    if (bucket !== null) {
      const wait = bucket.take(now);
      if (wait > 0) {
        const until = run.deadline === undefined ? wait : Math.min(wait, run.deadline - now);
        await sleep(until, undefined, { signal: stop }).catch(() => {});
        continue;
      }
    } else if (++sinceTurn >= TURN_EVERY) {
      sinceTurn = 0;
      await nextTurn();
      continue;
    }
    made += 1;
    yield stampedBody(padding, performance.now());
  }
}
