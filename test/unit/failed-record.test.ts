import { describe, expect, it } from 'vitest';
import {
  failedQueueOf,
  failureOf,
  failureSummary,
  requeuedHeaders,
} from '../../src/commands/failed-record.js';

describe('failed jobs', () => {
  const headers = {
    'x-qtool-failure-reason': 'the command exited with code 2',
    'x-qtool-exit-code': 2,
    'x-qtool-failed-at': '2026-12-04T03:00:00.000Z',
    'x-qtool-worker': 'w1',
    'x-qtool-attempts': 3,
    'x-qtool-queue': 'jobs',
    'x-qtool-retry-delay-ms': 1000,
    'x-death': [{ count: 3, reason: 'expired', queue: 'jobs.delay' }],
    'x-first-death-reason': 'expired',
    'x-delivery-count': 2,
    'x-app': 'kept',
  };

  it('names the failed queue after the work queue', () => {
    expect(failedQueueOf('jobs')).toBe('jobs.failed');
  });

  it('reads the failure record the worker writes, and summarises it in one line', () => {
    const record = failureOf(headers);
    expect(record).toEqual({
      reason: 'the command exited with code 2',
      exitCode: 2,
      signal: null,
      failedAt: '2026-12-04T03:00:00.000Z',
      worker: 'w1',
      attempts: 3,
      queue: 'jobs',
    });
    expect(failureSummary(record)).toBe(
      'the command exited with code 2, after 3 attempts, on worker w1, at 2026-12-04T03:00:00.000Z',
    );
  });

  it('falls back on the signal, the exit code, or the broker dead-lettering reason', () => {
    expect(failureSummary(failureOf({ 'x-qtool-signal': 'SIGKILL', 'x-qtool-attempts': 1 }))).toBe(
      'killed by SIGKILL, after 1 attempt',
    );
    expect(failureSummary(failureOf({ 'x-qtool-exit-code': 4 }))).toBe('exited with code 4');
    expect(
      failureOf({ 'x-first-death-reason': 'delivery_limit', 'x-first-death-queue': 'jobs' }).reason,
    ).toBe("dead-lettered by the broker (delivery_limit in 'jobs')");
    expect(failureSummary(failureOf(undefined))).toBe('no reason recorded');
  });

  it('requeues a copy without any x-qtool- header or the broker dead-lettering headers, keeping the rest', () => {
    expect(requeuedHeaders(headers)).toEqual({ 'x-app': 'kept' });
    expect(requeuedHeaders(undefined)).toEqual({});
  });
});
