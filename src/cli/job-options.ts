import type { JobOptions } from '../commands/job-worker.js';
import { UsageError } from '../errors.js';

/** SIGKILL this long after a timed-out job's SIGTERM (as GNU timeout's --kill-after). */
export const DEFAULT_KILL_AFTER_SECONDS = 5;
/** How long a failed message waits in the retry queue. */
export const DEFAULT_RETRY_DELAY_SECONDS = 5;

/** qprocessor's flags as commander parsed them, the job ones among them. */
interface QprocessorFlags {
  exec?: string;
  jobTimeout?: number;
  killAfter: number;
  concurrency: number;
  retries: number;
  retryDelay: number;
}

const JOB_ONLY = ['jobTimeout', 'killAfter', 'concurrency', 'retries', 'retryDelay'] as const;
const FAKE_WORK_ONLY = ['delayPerChar', 'block', 'loseEvery', 'onLose'] as const;

/** `--job-timeout` for `jobTimeout`. */
const flagOf = (name: string) => `--${name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;

/**
 * The job options of `qprocessor`, or undefined without --exec. Refuses, as usage errors, a job
 * option without --exec and a fake-work option with it: either would silently do nothing.
 */
export function jobOptions(flags: QprocessorFlags, given: (name: string) => boolean): JobOptions | undefined {
  if (flags.exec === undefined) {
    const stray = JOB_ONLY.find(given);
    if (stray !== undefined)
      throw new UsageError(`${flagOf(stray)} needs --exec: it is about running a command per message`);
    return undefined;
  }
  const fake = FAKE_WORK_ONLY.find(given);
  if (fake !== undefined) {
    throw new UsageError(
      `${flagOf(fake)} is about the fake work, which --exec replaces: give one or the other`,
    );
  }
  if (given('killAfter') && flags.jobTimeout === undefined) {
    throw new UsageError(
      '--kill-after needs --job-timeout: it says how long after the time-out SIGKILL follows',
    );
  }
  if (given('retryDelay') && flags.retries === 0) {
    throw new UsageError(
      '--retry-delay needs --retries: without retries a failed message goes to the failed queue at once',
    );
  }
  return {
    command: flags.exec,
    timeoutSeconds: flags.jobTimeout,
    killAfterSeconds: flags.killAfter,
    concurrency: flags.concurrency,
    retries: flags.retries,
    retryDelaySeconds: flags.retryDelay,
  };
}
