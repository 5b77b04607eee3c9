import type { AckMode } from './policy.js';

/**
 * `qprocessor --exec`'s decisions as pure functions: how a finished command is judged, what
 * becomes of a failed message after attempt k, and the headers and environment each step carries.
 * The contract of `<queue>.failed` (the headers below) is shared with `qtool failed` and
 * `send --wait`: change it only together with them.
 */

/** Header on retried and failed messages: how many attempts (runs of the command) were made so far. */
export const ATTEMPTS_HEADER = 'x-qtool-attempts';

/** How one run of the command ended, as the child process reported it. */
export interface JobExit {
  /** The exit status, when the command exited; null when a signal killed it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Whether qtool stopped it for outlasting --job-timeout. */
  timedOut: boolean;
  /** The command could not be started at all (no shell, say): the reason. */
  spawnError?: string;
}

/** Whether a run counts as done: exit status 0, and not stopped by the time-out. */
export function jobSucceeded(exit: JobExit): boolean {
  return exit.code === 0 && !exit.timedOut && exit.spawnError === undefined;
}

/**
 * The human reason for a failed run, as `x-qtool-failure-reason` carries it: "exit code 3",
 * "killed by SIGTERM after the 5 s job time-out", "killed by SIGKILL".
 */
export function failureReason(exit: JobExit, timeoutSeconds: number | undefined): string {
  if (exit.spawnError !== undefined) return `could not start the command: ${exit.spawnError}`;
  const timeout =
    exit.timedOut && timeoutSeconds !== undefined ? ` after the ${timeoutSeconds} s job time-out` : '';
  if (exit.signal !== null) {
    const escalated = exit.timedOut && exit.signal === 'SIGKILL' ? ' (it outlived SIGTERM)' : '';
    return `killed by ${exit.signal}${timeout}${escalated}`;
  }
  // A command that catches SIGTERM and exits on its own after the time-out still timed out.
  if (exit.timedOut) return `exit code ${exit.code} on SIGTERM${timeout}`;
  return `exit code ${exit.code}`;
}

/** What to do with a message whose attempt number `attempt` (from 1) failed. */
export type AfterFailure =
  /** Publish it to the retry queue (with `attempts` in its header) and ack the original. */
  | { action: 'retry'; attempts: number; retry: number }
  /** Publish it to `<queue>.failed` and ack the original: no retries left. */
  | { action: 'fail'; attempts: number }
  /** Auto-ack: the broker removed it on delivery; nothing can be done with it. */
  | { action: 'gone'; attempts: number };

/** With n retries a message gets n + 1 attempts; after the last one it goes to `.failed`. */
export function afterFailure(attempt: number, retries: number, ackMode: AckMode): AfterFailure {
  if (ackMode === 'auto') return { action: 'gone', attempts: attempt };
  if (attempt <= retries) return { action: 'retry', attempts: attempt, retry: attempt };
  return { action: 'fail', attempts: attempt };
}

/**
 * The attempts made before this delivery, from the header qtool put on a retried message. Anything
 * else there (a missing header, a string, a negative number) counts as none: the message is new.
 * So does a message requeued from `.failed` as it was (it still carries `x-qtool-failed-at`, which
 * a retried copy never does): requeueing a failed job gives it a fresh set of retries, as RQ's does.
 */
export function attemptsSoFar(headers: Record<string, unknown> | undefined): number {
  if (headers?.['x-qtool-failed-at'] !== undefined) return 0;
  const value = headers?.[ATTEMPTS_HEADER];
  const number = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  return Number.isSafeInteger(number) && number > 0 ? number : 0;
}

/** Headers of a failed message in `<queue>.failed`: the contract `qtool failed` reads. */
export interface FailureFacts {
  exit: JobExit;
  timeoutSeconds: number | undefined;
  attempts: number;
  worker: string;
  queue: string;
  failedAt: Date;
  /** Why it failed when the run itself does not say (its reply or retry copy was refused). */
  reason?: string;
}

export function failedHeaders(
  original: Record<string, unknown> | undefined,
  facts: FailureFacts,
): Record<string, unknown> {
  return {
    ...carriedHeaders(original),
    'x-qtool-failure-reason': facts.reason ?? failureReason(facts.exit, facts.timeoutSeconds),
    ...(facts.exit.code === null || facts.exit.spawnError !== undefined
      ? {}
      : { 'x-qtool-exit-code': facts.exit.code }),
    ...(facts.exit.signal === null ? {} : { 'x-qtool-signal': facts.exit.signal }),
    'x-qtool-failed-at': facts.failedAt.toISOString(),
    'x-qtool-worker': facts.worker,
    [ATTEMPTS_HEADER]: facts.attempts,
    'x-qtool-queue': facts.queue,
  };
}

/** Headers of a message sent round the retry queue: the original's, with the attempts so far. */
export function retryHeaders(
  original: Record<string, unknown> | undefined,
  attempts: number,
): Record<string, unknown> {
  return { ...carriedHeaders(original), [ATTEMPTS_HEADER]: attempts };
}

/**
 * The original's headers minus those the broker sets on delivery (a quorum queue's
 * x-delivery-count) or that qtool sets again: keeping them would mislead the next reader.
 */
function carriedHeaders(original: Record<string, unknown> | undefined): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(original ?? {})) {
    if (key === 'x-delivery-count' || key.startsWith('x-qtool-')) continue;
    kept[key] = value;
  }
  return kept;
}

/**
 * The exit status a reply reports: the command's own, or as a shell reports a signal (128 + its
 * number: 143 for SIGTERM, 137 for SIGKILL), so `send --wait` can exit with it; 1 when it never ran.
 */
export function replyExitCode(exit: JobExit, signalNumber: (signal: NodeJS.Signals) => number): number {
  if (exit.spawnError !== undefined) return 1;
  if (exit.signal !== null) return 128 + signalNumber(exit.signal);
  if (exit.timedOut && exit.code === 0) return 1;
  return exit.code ?? 1;
}

/** Headers of a reply to a message's reply_to. */
export function replyHeaders(facts: {
  exitCode: number;
  durationMs: number;
  worker: string;
  /** On a final failure: why, and the signal if one killed it. */
  failure?: { reason: string; signal: NodeJS.Signals | null };
}): Record<string, unknown> {
  return {
    'x-qtool-exit-code': facts.exitCode,
    'x-qtool-duration-ms': Math.round(facts.durationMs),
    'x-qtool-worker': facts.worker,
    ...(facts.failure === undefined ? {} : { 'x-qtool-failure-reason': facts.failure.reason }),
    ...(facts.failure?.signal == null ? {} : { 'x-qtool-signal': facts.failure.signal }),
  };
}

/** What a command learns about its message, as environment variables. */
export interface JobFacts {
  messageId: string | undefined;
  queue: string;
  redelivered: boolean;
  /** A quorum queue's x-delivery-count; null when the broker sends none (classic queues). */
  deliveryCount: number | null;
  correlationId: string | undefined;
  /** This attempt's number, from 1. */
  attempt: number;
  worker: string;
}

export function jobEnvironment(facts: JobFacts): Record<string, string> {
  return {
    QTOOL_MESSAGE_ID: facts.messageId ?? '',
    QTOOL_QUEUE: facts.queue,
    QTOOL_REDELIVERED: facts.redelivered ? 'true' : 'false',
    // Classic queues do not count deliveries: empty then, rather than a guess.
    QTOOL_DELIVERY_COUNT: facts.deliveryCount === null ? '' : String(facts.deliveryCount),
    QTOOL_CORRELATION_ID: facts.correlationId ?? '',
    QTOOL_ATTEMPT: String(facts.attempt),
    QTOOL_WORKER: facts.worker,
  };
}

/** The prefetch a job worker asks for, and whether that overrides a lower --prefetch the user gave. */
export function jobPrefetch(
  concurrency: number,
  prefetch: number | undefined,
  ackMode: AckMode,
): { prefetch: number | undefined; raisedFrom: number | undefined } {
  // Auto-ack consumers are not limited by the broker: nothing to raise.
  if (ackMode === 'auto') return { prefetch, raisedFrom: undefined };
  // Unset: exactly one message per slot, so the other workers get a fair share.
  if (prefetch === undefined) return { prefetch: concurrency, raisedFrom: undefined };
  if (prefetch < concurrency) return { prefetch: concurrency, raisedFrom: prefetch };
  return { prefetch, raisedFrom: undefined };
}

/** The names of the queues a job worker's failures go through. */
export function retryQueueName(queue: string): string {
  return `${queue}.retry`;
}
export function failedQueueName(queue: string): string {
  return `${queue}.failed`;
}
