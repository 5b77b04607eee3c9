import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { receivePrefetch, shouldAckAtOnce } from '../../src/commands/receive.js';

/**
 * A broker with a per-consumer prefetch window, driven by receive's ack rule: it delivers while
 * fewer than `prefetch` messages are unacked and the queue has any left.
 */
function simulate(count: number, requestedPrefetch: number | undefined, available: number) {
  const prefetch = receivePrefetch(count, requestedPrefetch) as number;
  let delivered = 0;
  let unacked = 0;
  let printed = 0;
  let maxDelivered = 0;
  while (printed < count) {
    // The broker pushes as much as the window allows.
    while (unacked < prefetch && delivered < available) {
      delivered += 1;
      unacked += 1;
    }
    maxDelivered = Math.max(maxDelivered, delivered);
    if (printed === delivered) break; // nothing in hand: the queue ran dry (or the window is stuck)
    printed += 1;
    if (shouldAckAtOnce(printed, count, prefetch)) unacked -= 1;
  }
  return { delivered: maxDelivered, printed };
}

describe('receive --count acks (shouldAckAtOnce)', () => {
  it('never lets the broker send more than --count, and never stalls before it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2000 }),
        fc.option(fc.integer({ min: 1, max: 3000 }), { nil: undefined }),
        fc.integer({ min: 0, max: 3000 }),
        (count, prefetch, available) => {
          const { delivered, printed } = simulate(count, prefetch, available);
          expect(delivered).toBeLessThanOrEqual(count);
          expect(printed).toBe(Math.min(count, available));
        },
      ),
    );
  });

  it('keeps --prefetch as given without --count', () => {
    expect(receivePrefetch(undefined, 7)).toBe(7);
    expect(receivePrefetch(undefined, undefined)).toBeUndefined();
  });

  it('acks at once without --count', () => {
    expect(shouldAckAtOnce(10, undefined, 1)).toBe(true);
  });

  it('holds back the last prefetch-many acks of a --count run', () => {
    expect([1, 2, 3, 4, 5].map((n) => shouldAckAtOnce(n, 5, 2))).toEqual([true, true, true, false, false]);
  });
});
