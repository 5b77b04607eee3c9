import { describe, expect, it } from 'vitest';
import { exitStatusFor, headerNumber, jobOutcome } from '../../src/commands/job-reply.js';
import { checkSendModes, type SendModes } from '../../src/commands/send-modes.js';
import { UsageError } from '../../src/errors.js';

const oneArgument: SendModes = {
  source: { kind: 'arguments', messages: ['job'] },
  count: 1,
  confirm: true,
  messageId: undefined,
  json: false,
  wait: false,
  timeoutGiven: false,
};

describe('checkSendModes', () => {
  it('lets one argument message have --message-id, --wait, --json and --timeout with --wait', () => {
    expect(() =>
      checkSendModes({ ...oneArgument, messageId: 'j1', wait: true, json: true, timeoutGiven: true }),
    ).not.toThrow();
  });

  it('lets many messages have --json, and ids of their own', () => {
    expect(() =>
      checkSendModes({ ...oneArgument, source: { kind: 'file', path: 'x' }, count: 3, json: true }),
    ).not.toThrow();
  });

  it.each([
    [
      { messageId: 'j1', count: 2 },
      /--message-id is for one message.*here: 2 messages \(1 arguments, --count 2\)/,
    ],
    [
      { wait: true, source: { kind: 'arguments' as const, messages: ['a', 'b'] } },
      /--wait is for one message/,
    ],
    [{ wait: true, source: { kind: 'file' as const, path: 'jobs.txt' } }, /here: messages from --file/],
    [
      { messageId: 'j1', source: { kind: 'stdin' as const, stream: process.stdin } },
      /here: messages from standard input/,
    ],
    [{ wait: true, confirm: false }, /--wait cannot go with --no-confirm/],
    [{ json: true, confirm: false }, /--json cannot go with --no-confirm/],
    [{ timeoutGiven: true }, /--timeout bounds --wait/],
  ])('refuses %o as a usage error', (change, message) => {
    const attempt = () => checkSendModes({ ...oneArgument, ...change });
    expect(attempt).toThrow(UsageError);
    expect(attempt).toThrow(message);
  });
});

describe('the reply of a job', () => {
  it('reads the exit code, duration and worker from the headers, numbers or text', () => {
    expect(
      jobOutcome({ 'x-qtool-exit-code': 3, 'x-qtool-duration-ms': 120, 'x-qtool-worker': 'w1' }),
    ).toEqual({
      exitCode: 3,
      signal: null,
      durationMs: 120,
      worker: 'w1',
    });
    expect(jobOutcome({ 'x-qtool-exit-code': '7' }).exitCode).toBe(7);
    expect(jobOutcome(undefined)).toEqual({ exitCode: null, signal: null, durationMs: null, worker: null });
    expect(jobOutcome({ 'x-qtool-signal': 'SIGKILL' }).signal).toBe('SIGKILL');
    expect(headerNumber('seven')).toBeNull();
  });

  it.each([
    [0, 0],
    [null, 0],
    [1, 1],
    [3, 3],
    [255, 255],
    [256, 255],
    [1000, 255],
    [-1, 1],
    [2.5, 1],
  ])('exit code %s ends send --wait with status %s (never 0 for a failure)', (code, status) => {
    expect(exitStatusFor(code)).toBe(status);
  });

  it('ends a job killed by a signal as a shell would: 128 + its number, 1 for an unknown one', () => {
    expect(exitStatusFor(null, 'SIGKILL')).toBe(137);
    expect(exitStatusFor(null, 'SIGTERM')).toBe(143);
    expect(exitStatusFor(null, 'SIGNOPE')).toBe(1);
    // An exit code, when there is one, is what counts.
    expect(exitStatusFor(2, 'SIGKILL')).toBe(2);
  });
});
