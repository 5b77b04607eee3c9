import { describe, expect, it } from 'vitest';
import {
  characterCount,
  countAbandoned,
  countLoss,
  DEFAULT_CONSUMER_TIMEOUT_MS,
  decide,
  emptyTally,
  finishesWorkInHand,
  isLost,
  outlastsConsumerTimeout,
  type WorkerPolicy,
  workDurationMs,
} from '../../src/worker/policy.js';

const text = (s: string) => Buffer.from(s);
const policy = (overrides: Partial<WorkerPolicy> = {}): WorkerPolicy => ({
  ackMode: 'auto',
  loseEvery: undefined,
  onLose: 'requeue',
  delayPerCharSeconds: 1,
  ...overrides,
});

describe('fake work time', () => {
  it('is one delay per character, as in the lab: 5 characters take 5 s', () => {
    expect(workDurationMs(text('hello'), 1)).toBe(5000);
  });

  it('allows fractions and zero', () => {
    expect(workDurationMs(text('hello'), 0.1)).toBe(500);
    expect(workDurationMs(text('hello'), 0)).toBe(0);
  });

  it('counts characters, not bytes, for text', () => {
    expect(characterCount(text('héllo'))).toBe(5);
    expect(characterCount(text('🐇🐇'))).toBe(2);
  });

  it('counts bytes for a body that is not text', () => {
    expect(characterCount(Buffer.from([0xff, 0xfe, 0x00]))).toBe(3);
  });
});

describe('lose-every', () => {
  it('loses exactly every n-th delivery', () => {
    const lost = [1, 2, 3, 4, 5, 6, 7, 8, 9].filter((n) => isLost(n, 3));
    expect(lost).toEqual([3, 6, 9]);
  });

  it('loses nothing without --lose-every', () => {
    expect([1, 2, 3].some((n) => isLost(n, undefined))).toBe(false);
  });

  it('drops the message for good with auto-ack, whatever --on-lose says', () => {
    expect(decide(3, text('abc'), policy({ loseEvery: 3, onLose: 'crash' }))).toEqual({
      action: 'lose',
      outcome: 'drop',
    });
  });

  it.each(['requeue', 'crash', 'hang'] as const)('with --acknowledge follows --on-lose %s', (onLose) => {
    expect(decide(3, text('abc'), policy({ loseEvery: 3, ackMode: 'manual', onLose }))).toEqual({
      action: 'lose',
      outcome: onLose,
    });
  });

  it('processes the others with their work time', () => {
    expect(decide(2, text('abc'), policy({ loseEvery: 3 }))).toEqual({ action: 'process', workMs: 3000 });
  });
});

describe('consumer timeout guard', () => {
  it('warns when acked work would reach the 30-minute default', () => {
    expect(outlastsConsumerTimeout(DEFAULT_CONSUMER_TIMEOUT_MS, 'manual')).toBe(true);
    expect(outlastsConsumerTimeout(DEFAULT_CONSUMER_TIMEOUT_MS - 1, 'manual')).toBe(false);
  });

  it('does not warn with auto-ack: there is nothing to time out', () => {
    expect(outlastsConsumerTimeout(DEFAULT_CONSUMER_TIMEOUT_MS * 2, 'auto')).toBe(false);
  });
});

describe('a message in hand when the worker is stopped', () => {
  it('is finished with auto-ack unless the connection went; with manual ack it is abandoned', () => {
    expect(finishesWorkInHand('queue-deleted', 'auto')).toBe(true);
    expect(finishesWorkInHand('consumer-cancelled', 'auto')).toBe(true);
    expect(finishesWorkInHand('connection-lost', 'auto')).toBe(false);
    for (const stop of ['queue-deleted', 'consumer-cancelled', 'connection-lost'] as const) {
      expect(finishesWorkInHand(stop, 'manual')).toBe(false);
    }
  });

  it('counts a hung message as left unacknowledged, not lost; a requeued one as lost and requeued', () => {
    const tally = emptyTally();
    countLoss(tally, 'hang');
    expect(tally).toMatchObject({ lost: 0, leftUnacked: 1, hung: 1 });
    countLoss(tally, 'requeue');
    expect(tally).toMatchObject({ lost: 1, requeued: 1, leftUnacked: 1 });
    countLoss(tally, 'drop');
    expect(tally).toMatchObject({ lost: 2, requeued: 1, leftUnacked: 1, hung: 1 });
  });

  it('is counted lost when auto-ack already removed it or its queue took it, else left to the broker', () => {
    const auto = emptyTally();
    expect(countAbandoned(auto, 'connection-lost', 'auto')).toBe('lost');
    expect(auto).toMatchObject({ lost: 1, cutShort: 1, leftUnacked: 0 });

    const deleted = emptyTally();
    expect(countAbandoned(deleted, 'queue-deleted', 'manual')).toBe('lost');
    expect(deleted).toMatchObject({ lost: 1, goneWithQueue: 1, leftUnacked: 0 });

    const unacked = emptyTally();
    expect(countAbandoned(unacked, 'connection-lost', 'manual')).toBe('left-unacked');
    expect(unacked).toMatchObject({ lost: 0, leftUnacked: 1 });
  });
});
