import type { QueueType } from '../../amqp/queue-type.js';
import { UsageError } from '../../errors.js';
import { plural, thousands } from '../../output/format.js';
import { checkStreamConsumer } from '../queue-request.js';
import {
  COMPARE_LATENCY_RATE,
  COMPARE_PHASE_SECONDS,
  DEFAULT_DURATION_SECONDS,
  MIN_SIZE,
} from './defaults.js';

/** `qtool bench`'s options as given on the command line (parsed, not yet checked together). */
export interface BenchRequest {
  producers: number;
  consumers: number;
  /** Body size in bytes, the send time included. */
  size: number;
  durationSeconds: number | undefined;
  /** Messages in all, shared out among the producers. */
  count: number | undefined;
  /** Messages per second, per producer; undefined: as fast as the broker takes them. */
  rate: number | undefined;
  /** Unconfirmed messages a producer may have at once; 0: no publisher confirms. */
  confirm: number;
  persistent: boolean;
  acknowledge: boolean;
  prefetch: number | undefined;
  queueType: QueueType | undefined;
  queues: number;
  compare: boolean;
}

/** How long one run lasts: a number of messages, or a number of seconds of publishing. */
export type RunLength = { kind: 'count'; count: number } | { kind: 'duration'; seconds: number };

/**
 * The two runs of a --compare row: at full speed for its throughput, then at a fixed rate for its
 * latency. At full speed a queue builds up whenever the consumers are slower than the producers,
 * and the latency measures that backlog rather than the setting: a row that publishes more
 * slowly would look faster.
 */
export type ComparePhase = 'throughput' | 'latency';

/** One benchmark run, checked and with every default applied. */
export interface BenchPlan {
  /** The --compare row this run is, or null for a plain run. */
  variant: string | null;
  /** Which of its row's runs this is; null for a plain run. */
  phase: ComparePhase | null;
  producers: number;
  consumers: number;
  size: number;
  queues: number;
  queueType: QueueType;
  persistent: boolean;
  acknowledge: boolean;
  /** basic.qos per consumer; undefined: no limit. */
  prefetch: number | undefined;
  /** Outstanding confirms per producer; 0: no confirms. */
  confirmWindow: number;
  /** The window asked for, when the memory bound made it smaller (see confirmWindowFor). */
  confirmAsked: number | null;
  rate: number | undefined;
  length: RunLength;
}

/** RabbitMQ 4's default max_message_size (16 MiB): a larger message is refused by the broker. */
export const MAX_SIZE = 16 * 1024 * 1024;
/** Each producer and consumer has a connection of its own; more than this only measures the client. */
export const MAX_CLIENTS = 100;
/**
 * A producer keeps every unconfirmed body until the broker answers, so the window is cut down for
 * big messages to keep at most this much in memory per producer.
 */
export const MAX_UNCONFIRMED_BYTES = 64 * 1024 * 1024;

/**
 * Checks the options together and applies the defaults: one plan for a plain run, the matrix of
 * plans for --compare. Every problem found is reported in one UsageError (exit 2), the first as
 * its message and the others below it.
 */
export function planBench(request: BenchRequest): BenchPlan[] {
  const problems = benchProblems(request);
  if (problems.length > 0) {
    throw new UsageError(
      problems[0] as string,
      problems.length > 1 ? problems.slice(1).join('\n') : undefined,
    );
  }
  const length: RunLength =
    request.count !== undefined
      ? { kind: 'count', count: request.count }
      : {
          kind: 'duration',
          seconds:
            request.durationSeconds ?? (request.compare ? COMPARE_PHASE_SECONDS : DEFAULT_DURATION_SECONDS),
        };
  const window = confirmWindowFor(request.confirm, request.size);
  const base: BenchPlan = {
    variant: null,
    phase: null,
    producers: request.producers,
    consumers: request.consumers,
    size: request.size,
    queues: request.queues,
    queueType: request.queueType ?? 'classic',
    persistent: request.persistent,
    acknowledge: request.acknowledge,
    prefetch: request.prefetch,
    confirmWindow: window,
    confirmAsked: window === request.confirm ? null : request.confirm,
    rate: request.rate,
    length,
  };
  return request.compare ? compareMatrix(base, request.rate ?? COMPARE_LATENCY_RATE) : [base];
}

/** Every usage problem with the request, in the order a reader would fix them. */
export function benchProblems(request: BenchRequest): string[] {
  const problems: string[] = [];
  const { producers, consumers, queues } = request;
  if (request.count !== undefined && request.durationSeconds !== undefined) {
    problems.push('--count and --duration both say when to stop: give one of them');
  }
  if (producers === 0 && consumers === 0) {
    problems.push('--producers 0 and --consumers 0 leave nothing to measure: give at least one producer');
  } else if (producers === 0) {
    problems.push(
      "--producers 0: bench's temporary queues get messages only from its own producers, so its consumers would wait for nothing (use --producers 1 or more)",
    );
  }
  for (const [flag, value] of [
    ['--producers', producers],
    ['--consumers', consumers],
  ] as const) {
    if (value > MAX_CLIENTS) {
      problems.push(
        `${flag} ${value} is too many: at most ${MAX_CLIENTS} (each has a connection of its own; run several benches for more)`,
      );
    }
  }
  if (request.size < MIN_SIZE) {
    problems.push(
      `--size ${request.size} is too small: each message carries its ${MIN_SIZE}-byte send time (use --size ${MIN_SIZE} or more)`,
    );
  } else if (request.size > MAX_SIZE) {
    problems.push(
      `--size ${request.size} is too big: at most ${MAX_SIZE} bytes (16 MiB, RabbitMQ 4's default max_message_size)`,
    );
  }
  if (producers > 0 && queues > producers) {
    problems.push(
      `--queues ${queues} needs at least ${plural(queues, 'producer')} (each queue gets its own; ${plural(producers, 'producer')} given): use fewer queues or more --producers`,
    );
  }
  if (consumers > 0 && queues > consumers) {
    problems.push(
      `--queues ${queues} needs at least ${plural(queues, 'consumer')} (each queue gets its own; ${plural(consumers, 'consumer')} given): use fewer queues or more --consumers`,
    );
  }
  if (request.count !== undefined && request.count < producers) {
    problems.push(
      `--count ${request.count} is fewer than the ${plural(producers, 'producer')}: each needs a message at least (use --count ${producers} or more)`,
    );
  }
  if (request.compare) {
    const varied = [
      request.acknowledge ? '--acknowledge' : null,
      request.persistent ? '--persistent' : null,
      request.prefetch !== undefined ? '--prefetch' : null,
      request.queueType !== undefined ? '--queue-type' : null,
    ].filter((flag) => flag !== null);
    if (varied.length > 0) {
      problems.push(
        `--compare sets ${varied.join(', ')} itself (its rows vary ack mode, persistence, queue type and prefetch): leave ${varied.length === 1 ? 'it' : 'them'} out`,
      );
    }
    if (consumers === 0) problems.push('--compare measures consumers too: give --consumers 1 or more');
  } else if (consumers > 0) {
    try {
      checkStreamConsumer(request.queueType, { manualAck: request.acknowledge, prefetch: request.prefetch });
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  return problems;
}

/**
 * Warnings about options that are allowed but do less than they seem to: a prefetch without manual
 * acks (the broker ignores it), a confirm window cut down for big messages.
 */
export function planWarnings(request: BenchRequest, plans: readonly BenchPlan[]): string[] {
  const warnings: string[] = [];
  if (request.prefetch !== undefined && !request.acknowledge && request.consumers > 0) {
    warnings.push(
      '--prefetch has no effect without --acknowledge: the broker does not limit auto-ack consumers',
    );
  }
  if (request.consumers === 0 && (request.acknowledge || request.prefetch !== undefined)) {
    warnings.push('--acknowledge and --prefetch concern consumers, and --consumers is 0');
  }
  const plan = plans[0];
  if (plan !== undefined && plan.confirmAsked !== null) {
    warnings.push(
      `the confirm window is ${thousands(plan.confirmWindow)}, not ${thousands(plan.confirmAsked)}, for ${thousands(plan.size)}-byte messages: a producer keeps every unconfirmed message in memory, at most ${MAX_UNCONFIRMED_BYTES / 1024 / 1024} MiB`,
    );
  }
  return warnings;
}

/** What an unconfirmed message costs besides its body: a Buffer object, a Map entry, a callback. */
const UNCONFIRMED_OVERHEAD_BYTES = 256;

/** The confirm window asked for, cut down so that unconfirmed messages stay within MAX_UNCONFIRMED_BYTES. */
export function confirmWindowFor(asked: number, size: number): number {
  if (asked === 0) return 0;
  const fits = Math.floor(MAX_UNCONFIRMED_BYTES / (size + UNCONFIRMED_OVERHEAD_BYTES));
  return Math.min(asked, Math.max(1, fits));
}

/**
 * The --compare rows: a baseline of manual acks with prefetch 100, transient messages, a classic
 * queue, and one row per setting a class asks about, each differing from the baseline in that
 * setting alone, so any difference in the figures is that setting's cost. Each row is two runs,
 * at full speed and then at `latencyRate` per producer (see ComparePhase).
 */
export function compareMatrix(base: BenchPlan, latencyRate: number): BenchPlan[] {
  const baseline: BenchPlan = {
    ...base,
    variant: 'baseline',
    queueType: 'classic',
    persistent: false,
    acknowledge: true,
    prefetch: 100,
  };
  const rows: BenchPlan[] = [
    baseline,
    { ...baseline, variant: 'auto-ack', acknowledge: false, prefetch: undefined },
    { ...baseline, variant: 'prefetch 1', prefetch: 1 },
    { ...baseline, variant: 'persistent', persistent: true },
    { ...baseline, variant: 'quorum queue', queueType: 'quorum' },
  ];
  return rows.flatMap((row) => [
    { ...row, phase: 'throughput' as const, rate: undefined },
    { ...row, phase: 'latency' as const, rate: latencyRate },
  ]);
}

/** How many messages producer `index` (from 0) sends in a --count run: the count shared out evenly. */
export function producerShare(count: number, producers: number, index: number): number {
  return Math.floor(count / producers) + (index < count % producers ? 1 : 0);
}

/** The queue producer or consumer `index` (from 0) works on: spread round robin over the queues. */
export function queueIndexFor(index: number, queues: number): number {
  return index % queues;
}

/** How many consumers read queue `queueIndex`. */
export function consumersOn(queueIndex: number, plan: Pick<BenchPlan, 'consumers' | 'queues'>): number {
  let found = 0;
  for (let index = 0; index < plan.consumers; index += 1) {
    if (queueIndexFor(index, plan.queues) === queueIndex) found += 1;
  }
  return found;
}

/**
 * How many deliveries the consumers should see for `confirmedPerQueue` messages in each queue: one
 * per message, except that every consumer of a stream reads every message (a stream is a log that
 * consumers read, not a queue they take from).
 */
export function expectedDeliveries(
  plan: Pick<BenchPlan, 'consumers' | 'queues' | 'queueType'>,
  confirmedPerQueue: readonly number[],
): number {
  if (plan.consumers === 0) return 0;
  return confirmedPerQueue.reduce(
    (sum, confirmed, queueIndex) =>
      sum + confirmed * (plan.queueType === 'stream' ? consumersOn(queueIndex, plan) : 1),
    0,
  );
}

/**
 * What a --count run's bar counts up to: the deliveries its consumers should see (every consumer
 * of a stream reads every message), or with no consumers the messages sent.
 */
export function countGoal(plan: BenchPlan): number {
  if (plan.length.kind !== 'count') return 0;
  const count = plan.length.count;
  if (plan.consumers === 0) return count;
  const perQueue = Array.from({ length: plan.queues }, () => 0);
  for (let index = 0; index < plan.producers; index += 1) {
    const queueIndex = queueIndexFor(index, plan.queues);
    perQueue[queueIndex] = (perQueue[queueIndex] as number) + producerShare(count, plan.producers, index);
  }
  return expectedDeliveries(plan, perQueue);
}
