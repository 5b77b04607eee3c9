import { headerNumber, headerText } from './job-reply.js';

/**
 * What a message in a `<queue>.failed` queue says about its failure, read from the headers qtool's
 * worker writes, and the clean copy `qtool failed --requeue` sends back: pure functions.
 */

/** The failed-jobs queue of a work queue. */
export function failedQueueOf(queue: string): string {
  return `${queue}.failed`;
}

/** A failed message's story, as its headers tell it; null where a header is missing. */
export interface FailureRecord {
  reason: string | null;
  exitCode: number | null;
  signal: string | null;
  failedAt: string | null;
  worker: string | null;
  attempts: number | null;
  /** The work queue it failed in (x-qtool-queue). */
  queue: string | null;
}

export function failureOf(headers: Record<string, unknown> | undefined): FailureRecord {
  const reason = headerText(headers?.['x-qtool-failure-reason']) ?? brokerReason(headers);
  return {
    reason,
    exitCode: headerNumber(headers?.['x-qtool-exit-code']),
    signal: headerText(headers?.['x-qtool-signal']),
    failedAt: headerText(headers?.['x-qtool-failed-at']),
    worker: headerText(headers?.['x-qtool-worker']),
    attempts: headerNumber(headers?.['x-qtool-attempts']),
    queue: headerText(headers?.['x-qtool-queue']),
  };
}

/**
 * A message dead-lettered by the broker rather than moved by qtool's worker (a delivery limit, a
 * reject, a TTL) carries no x-qtool-failure-reason, but the broker's own x-first-death-reason.
 */
function brokerReason(headers: Record<string, unknown> | undefined): string | null {
  const reason = headerText(headers?.['x-first-death-reason']);
  if (reason === null) return null;
  const from = headerText(headers?.['x-first-death-queue']);
  return `dead-lettered by the broker (${reason}${from === null ? '' : ` in '${from}'`})`;
}

/** One line of what went wrong: the reason, else what the exit code or signal says. */
export function failureSummary(record: FailureRecord): string {
  const parts = [
    record.reason ??
      (record.signal !== null
        ? `killed by ${record.signal}`
        : record.exitCode !== null
          ? `exited with code ${record.exitCode}`
          : 'no reason recorded'),
  ];
  if (record.attempts !== null)
    parts.push(`after ${record.attempts} attempt${record.attempts === 1 ? '' : 's'}`);
  if (record.worker !== null) parts.push(`on worker ${record.worker}`);
  if (record.failedAt !== null) parts.push(`at ${record.failedAt}`);
  return parts.join(', ');
}

/** Headers the broker adds when it dead-letters a message (RabbitMQ 3.x and 4.x). */
const BROKER_DEATH_HEADERS = [
  'x-death',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
  'x-delivery-count',
];

/**
 * The headers of the copy that goes back to the work queue: without the failure record, so the
 * job starts afresh (attempts counted from zero again, as for a new message). That means every
 * x-qtool-* header (the worker's bookkeeping: reason, exit code, signal, time, worker, attempts,
 * queue) and the broker's dead-lettering headers, which a retry count may be based on. The
 * sender's own headers stay.
 */
export function requeuedHeaders(headers: Record<string, unknown> | undefined): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.startsWith('x-qtool-') || BROKER_DEATH_HEADERS.includes(name)) continue;
    kept[name] = value;
  }
  return kept;
}
