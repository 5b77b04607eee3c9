import { describe, expect, it } from 'vitest';
import { jobOptions } from '../../src/cli/job-options.js';
import {
  afterFailure,
  attemptsSoFar,
  failedHeaders,
  failureReason,
  type JobExit,
  jobEnvironment,
  jobPrefetch,
  jobSucceeded,
  replyExitCode,
  replyHeaders,
  retryHeaders,
} from '../../src/worker/job-policy.js';

const exited = (code: number, timedOut = false): JobExit => ({ code, signal: null, timedOut });
const killed = (signal: NodeJS.Signals, timedOut = false): JobExit => ({ code: null, signal, timedOut });
const signalNumbers: Record<string, number> = { SIGTERM: 15, SIGKILL: 9 };
const numberOf = (signal: NodeJS.Signals) => signalNumbers[signal] ?? 0;

describe('what a finished run counts as', () => {
  it('succeeds only on exit 0 within the time-out', () => {
    expect(jobSucceeded(exited(0))).toBe(true);
    expect(jobSucceeded(exited(1))).toBe(false);
    expect(jobSucceeded(exited(0, true))).toBe(false);
    expect(jobSucceeded(killed('SIGTERM'))).toBe(false);
    expect(jobSucceeded({ ...exited(0), spawnError: 'spawn sh ENOENT' })).toBe(false);
  });

  it.each([
    [exited(3), undefined, 'exit code 3'],
    [killed('SIGKILL'), undefined, 'killed by SIGKILL'],
    [killed('SIGTERM', true), 5, 'killed by SIGTERM after the 5 s job time-out'],
    [killed('SIGKILL', true), 0.5, 'killed by SIGKILL after the 0.5 s job time-out (it outlived SIGTERM)'],
    [exited(0, true), 2, 'exit code 0 on SIGTERM after the 2 s job time-out'],
    [
      { ...killed('SIGTERM'), spawnError: 'spawn sh ENOENT' },
      undefined,
      'could not start the command: spawn sh ENOENT',
    ],
  ] as const)('a failure is explained in words: %j', (exit, timeout, reason) => {
    expect(failureReason(exit, timeout)).toBe(reason);
  });
});

describe('after attempt k fails', () => {
  it('with n retries, attempts 1..n go to the retry queue and attempt n + 1 to .failed', () => {
    expect(afterFailure(1, 2, 'manual')).toEqual({ action: 'retry', attempts: 1, retry: 1 });
    expect(afterFailure(2, 2, 'manual')).toEqual({ action: 'retry', attempts: 2, retry: 2 });
    expect(afterFailure(3, 2, 'manual')).toEqual({ action: 'fail', attempts: 3 });
  });

  it('without retries, the first failure goes to .failed', () => {
    expect(afterFailure(1, 0, 'manual')).toEqual({ action: 'fail', attempts: 1 });
  });

  it('a message requeued from .failed with its old count is not retried forever', () => {
    expect(afterFailure(7, 2, 'manual')).toEqual({ action: 'fail', attempts: 7 });
  });

  it('with auto-ack nothing can be done: the message is gone', () => {
    expect(afterFailure(1, 3, 'auto')).toEqual({ action: 'gone', attempts: 1 });
  });

  it('reads the attempts so far from the header, and anything odd there as none', () => {
    expect(attemptsSoFar(undefined)).toBe(0);
    expect(attemptsSoFar({})).toBe(0);
    expect(attemptsSoFar({ 'x-qtool-attempts': 2 })).toBe(2);
    expect(attemptsSoFar({ 'x-qtool-attempts': '3' })).toBe(3);
    expect(attemptsSoFar({ 'x-qtool-attempts': -1 })).toBe(0);
    expect(attemptsSoFar({ 'x-qtool-attempts': 1.5 })).toBe(0);
    expect(attemptsSoFar({ 'x-qtool-attempts': 'many' })).toBe(0);
  });

  it('a message requeued from .failed with its headers starts a fresh count', () => {
    expect(attemptsSoFar({ 'x-qtool-attempts': 3, 'x-qtool-failed-at': '2026-12-04T03:00:00.000Z' })).toBe(0);
    // A retried copy keeps none of the failure headers, so its count goes on.
    const retried = retryHeaders(
      { 'x-qtool-failed-at': '2026-12-04T03:00:00.000Z', 'x-qtool-attempts': 3 },
      1,
    );
    expect(attemptsSoFar(retried)).toBe(1);
  });
});

describe('headers', () => {
  const failedAt = new Date('2026-12-04T03:00:00.000Z');

  it('of a failed message: the contract qtool failed reads, with the original headers kept', () => {
    const headers = failedHeaders(
      { own: 'kept', 'x-delivery-count': 4, 'x-qtool-attempts': 2 },
      { exit: exited(3), timeoutSeconds: undefined, attempts: 3, worker: 'w1', queue: 'jobs', failedAt },
    );
    expect(headers).toEqual({
      own: 'kept',
      'x-qtool-failure-reason': 'exit code 3',
      'x-qtool-exit-code': 3,
      'x-qtool-failed-at': '2026-12-04T03:00:00.000Z',
      'x-qtool-worker': 'w1',
      'x-qtool-attempts': 3,
      'x-qtool-queue': 'jobs',
    });
  });

  it('of a message killed by a signal: the signal, no exit code', () => {
    const headers = failedHeaders(undefined, {
      exit: killed('SIGTERM', true),
      timeoutSeconds: 5,
      attempts: 1,
      worker: 'w',
      queue: 'q',
      failedAt,
    });
    expect(headers['x-qtool-signal']).toBe('SIGTERM');
    expect(headers).not.toHaveProperty('x-qtool-exit-code');
    expect(headers['x-qtool-failure-reason']).toBe('killed by SIGTERM after the 5 s job time-out');
  });

  it('of a retried message: the attempts so far, replacing an older count', () => {
    expect(retryHeaders({ own: 1, 'x-qtool-attempts': 1 }, 2)).toEqual({ own: 1, 'x-qtool-attempts': 2 });
  });

  it('of a reply: exit code, duration in whole ms, worker; on a failure the reason and signal too', () => {
    expect(replyHeaders({ exitCode: 0, durationMs: 12.6, worker: 'w' })).toEqual({
      'x-qtool-exit-code': 0,
      'x-qtool-duration-ms': 13,
      'x-qtool-worker': 'w',
    });
    expect(
      replyHeaders({
        exitCode: 137,
        durationMs: 1,
        worker: 'w',
        failure: { reason: 'killed by SIGKILL', signal: 'SIGKILL' },
      }),
    ).toMatchObject({ 'x-qtool-failure-reason': 'killed by SIGKILL', 'x-qtool-signal': 'SIGKILL' });
  });

  it("a reply's exit code is a shell's: 128 + the signal's number when killed", () => {
    expect(replyExitCode(exited(0), numberOf)).toBe(0);
    expect(replyExitCode(exited(4), numberOf)).toBe(4);
    expect(replyExitCode(killed('SIGTERM'), numberOf)).toBe(143);
    expect(replyExitCode(killed('SIGKILL'), numberOf)).toBe(137);
    expect(replyExitCode(exited(0, true), numberOf)).toBe(1);
  });
});

describe('the environment of a job', () => {
  it('carries the metadata, empty where the broker sent none', () => {
    expect(
      jobEnvironment({
        messageId: undefined,
        queue: 'q',
        redelivered: true,
        deliveryCount: null,
        correlationId: undefined,
        attempt: 2,
        worker: 'w',
      }),
    ).toEqual({
      QTOOL_MESSAGE_ID: '',
      QTOOL_QUEUE: 'q',
      QTOOL_REDELIVERED: 'true',
      QTOOL_DELIVERY_COUNT: '',
      QTOOL_CORRELATION_ID: '',
      QTOOL_ATTEMPT: '2',
      QTOOL_WORKER: 'w',
    });
  });
});

describe('prefetch for --concurrency', () => {
  it('is the concurrency when unset, raised when lower, kept when higher', () => {
    expect(jobPrefetch(3, undefined, 'manual')).toEqual({ prefetch: 3, raisedFrom: undefined });
    expect(jobPrefetch(3, 1, 'manual')).toEqual({ prefetch: 3, raisedFrom: 1 });
    expect(jobPrefetch(3, 10, 'manual')).toEqual({ prefetch: 10, raisedFrom: undefined });
  });

  it('is left alone with auto-ack, where the broker does not limit the consumer', () => {
    expect(jobPrefetch(3, 1, 'auto')).toEqual({ prefetch: 1, raisedFrom: undefined });
  });
});

describe('qprocessor job options', () => {
  const flags = { killAfter: 5, concurrency: 1, retries: 0, retryDelay: 5 };
  const givenOnly =
    (...names: string[]) =>
    (name: string) =>
      names.includes(name);

  it('are undefined without --exec', () => {
    expect(jobOptions(flags, givenOnly())).toBeUndefined();
  });

  it('refuse a job option without --exec, and a fake-work option with it', () => {
    expect(() => jobOptions({ ...flags, retries: 2 }, givenOnly('retries'))).toThrow(
      /--retries needs --exec/,
    );
    expect(() => jobOptions({ ...flags, exec: 'true' }, givenOnly('block'))).toThrow(
      /--block is about the fake work/,
    );
    expect(() => jobOptions({ ...flags, exec: 'true' }, givenOnly('retryDelay'))).toThrow(
      /--retry-delay needs --retries/,
    );
  });

  it('are what was given with --exec', () => {
    expect(
      jobOptions({ ...flags, exec: 'true', jobTimeout: 2, retries: 1 }, givenOnly('jobTimeout', 'retries')),
    ).toEqual({
      command: 'true',
      timeoutSeconds: 2,
      killAfterSeconds: 5,
      concurrency: 1,
      retries: 1,
      retryDelaySeconds: 5,
    });
  });
});
