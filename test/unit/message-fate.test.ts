import { describe, expect, it } from 'vitest';
import { type HeldMessages, heldMessagesFate } from '../../src/worker/message-fate.js';

const persistent = { persistent: true };
const transient = { persistent: false };
const inHand = (message: { persistent: boolean }, waiting: { persistent: boolean }[] = []): HeldMessages => ({
  inHand: message,
  hung: [],
  waiting,
});
const nothing: HeldMessages = { inHand: null, hung: [], waiting: [] };

describe('heldMessagesFate', () => {
  it('says nothing when the worker held nothing', () => {
    expect(heldMessagesFate('manual', nothing, 'durable', 'broker-shutdown')).toBeUndefined();
    expect(heldMessagesFate('auto', nothing, 'durable', 'broker-up')).toBeUndefined();
  });

  it('never promises a redelivery with auto-ack', () => {
    for (const end of ['broker-shutdown', 'broker-up', 'unknown'] as const) {
      const fate = heldMessagesFate('auto', inHand(persistent), 'durable', end);
      expect(fate).toBe(
        'With auto-ack the broker removed the message in hand when it delivered it, so it is lost: nothing is redelivered.',
      );
    }
    expect(heldMessagesFate('auto', inHand(transient, [transient, transient]), 'durable', 'unknown')).toMatch(
      /removed the message in hand and 2 more that had arrived when it delivered them, so they are lost/,
    );
  });

  it('with manual ack and the broker up, the message goes back whatever its persistence', () => {
    expect(heldMessagesFate('manual', inHand(transient), 'non-durable', 'broker-up')).toBe(
      'The message in hand was not acknowledged, so the broker puts it back in the queue and delivers it again.',
    );
  });

  it('on a shutdown, only a persistent message in a durable queue survives the restart', () => {
    expect(heldMessagesFate('manual', inHand(persistent), 'durable', 'broker-shutdown')).toBe(
      'The message in hand was not acknowledged, so it stays in the queue; the queue is durable and the message persistent, so it survives the restart.',
    );
    expect(heldMessagesFate('manual', inHand(transient), 'durable', 'broker-shutdown')).toMatch(
      /it is not persistent \(send with --persistent\), so the restart loses it\.$/,
    );
    expect(heldMessagesFate('manual', inHand(persistent), 'non-durable', 'broker-shutdown')).toMatch(
      /the queue is not durable, so the restart deletes it with the message\.$/,
    );
    // Quorum queues and streams keep every message, persistent or not.
    expect(heldMessagesFate('manual', inHand(transient), 'always-persistent', 'broker-shutdown')).toMatch(
      /the queue keeps every message on disk, so it survives the restart\.$/,
    );
    expect(heldMessagesFate('manual', inHand(persistent), 'unknown', 'broker-shutdown')).toMatch(
      /whether it survives the restart depends on the queue's durability, which qtool could not learn/,
    );
  });

  it('counts persistent and transient ones apart when they are mixed', () => {
    const fate = heldMessagesFate(
      'manual',
      inHand(persistent, [transient, persistent, transient]),
      'durable',
      'broker-shutdown',
    );
    expect(fate).toMatch(/^The message in hand and 3 more that had arrived were not acknowledged/);
    expect(fate).toMatch(/the persistent 2 survive the restart, the transient 2 do not\.$/);
  });

  it('covers the messages hung by --on-lose hang: they were never acknowledged either', () => {
    expect(
      heldMessagesFate('manual', { inHand: null, hung: [transient], waiting: [] }, 'durable', 'broker-up'),
    ).toBe(
      'The message hung by --on-lose hang was not acknowledged, so the broker puts it back in the queue and delivers it again.',
    );
    const three = { inHand: null, hung: [transient, transient, transient], waiting: [] };
    expect(heldMessagesFate('manual', three, 'durable', 'unknown')).toMatch(
      /^The 3 messages hung by --on-lose hang were not acknowledged, so the broker puts them back in the queue if the broker is still running; if it went down, they are not persistent/,
    );
    const mixed = { inHand: persistent, hung: [persistent, transient], waiting: [transient] };
    const fate = heldMessagesFate('manual', mixed, 'durable', 'broker-shutdown');
    expect(fate).toMatch(
      /^The message in hand, the 2 messages hung by --on-lose hang and 1 more that had arrived were not acknowledged, so they stay in the queue;/,
    );
    expect(fate).toMatch(/the persistent 2 survive the restart, the transient 2 do not\.$/);
  });

  it('when the connection just went, says both what happens if the broker is up and if it went down', () => {
    expect(heldMessagesFate('manual', inHand(transient), 'durable', 'unknown')).toBe(
      'The message in hand was not acknowledged, so the broker puts it back in the queue if the broker is still running; ' +
        'if it went down, it is not persistent (send with --persistent), so its restart loses it.',
    );
  });
});
