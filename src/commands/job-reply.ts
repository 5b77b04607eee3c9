import { constants as osConstants } from 'node:os';

/**
 * What a worker's reply to `send --wait` says, read from its headers as the worker writes them
 * (see README, "Waiting for the result"): pure functions, so the reading is unit-tested.
 */

/** Reply headers qtool's worker sets. */
export const EXIT_CODE_HEADER = 'x-qtool-exit-code';
export const DURATION_HEADER = 'x-qtool-duration-ms';
export const WORKER_HEADER = 'x-qtool-worker';
/** Set instead of an exit code when the job's command was killed (by --job-timeout, say). */
export const SIGNAL_HEADER = 'x-qtool-signal';

/** A job's outcome as its reply tells it. */
export interface JobOutcome {
  /** The command's exit code; null when the reply carries none (a responder that is not qtool's). */
  exitCode: number | null;
  /** The signal that killed the command (`SIGKILL`), when one did. */
  signal: string | null;
  durationMs: number | null;
  worker: string | null;
}

/** A header as a number: amqplib gives numbers as numbers, but another client may send text. */
export function headerNumber(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return null;
}

/** A header as text (a long string may come as bytes from other clients). */
export function headerText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return null;
}

export function jobOutcome(headers: Record<string, unknown> | undefined): JobOutcome {
  return {
    exitCode: headerNumber(headers?.[EXIT_CODE_HEADER]),
    signal: headerText(headers?.[SIGNAL_HEADER]),
    durationMs: headerNumber(headers?.[DURATION_HEADER]),
    worker: headerText(headers?.[WORKER_HEADER]),
  };
}

/**
 * The exit status send --wait ends with: 0 for a job that exited 0 (or a reply that gives no
 * code: the responder reported no failure), otherwise the job's code clipped to 1..255, since a
 * process status is one byte and a failure must never read as 0 (256 would wrap round to it).
 * A job killed by a signal (and no exit code) ends as a shell reports it: 128 + the signal's
 * number (137 for SIGKILL), or 1 for a signal this system does not know.
 */
export function exitStatusFor(exitCode: number | null, signal: string | null = null): number {
  if (exitCode === null && signal !== null) {
    const number = (osConstants.signals as Record<string, number | undefined>)[signal];
    return number === undefined ? 1 : Math.min(128 + number, 255);
  }
  if (exitCode === null || exitCode === 0) return 0;
  if (!Number.isInteger(exitCode) || exitCode < 1) return 1;
  return Math.min(exitCode, 255);
}
