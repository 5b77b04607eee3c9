import { describe, expect, it } from 'vitest';
import { sendAccount } from '../../src/commands/send.js';

describe('sendAccount', () => {
  it('with confirms, says how many of those sent the broker confirmed, and what the rest may be', () => {
    expect(sendAccount({ sent: 5, confirmed: 2, returned: 0, unconfirmed: 0 }, true)).toBe(
      '2 of 5 messages sent were confirmed by the broker.',
    );
    expect(sendAccount({ sent: 1, confirmed: 0, returned: 0, unconfirmed: 1 }, true)).toBe(
      '0 of 1 message sent was confirmed by the broker. The broker may or may not have the 1 unconfirmed: count the queue before sending them again.',
    );
    expect(sendAccount({ sent: 2000, confirmed: 1488, returned: 0, unconfirmed: 512 }, true)).toMatch(
      /^1,488 of 2,000 messages .* have the 512 unconfirmed/,
    );
  });

  it('without confirms, never claims more than the round trip after the last message showed', () => {
    expect(sendAccount({ sent: 3, confirmed: 2, returned: 1, unconfirmed: 0 }, false)).toMatch(
      /^3 messages were handed to the broker without confirms; it routed 2 to a queue and returned 1 as unroutable/,
    );
    expect(sendAccount({ sent: 3, confirmed: 0, returned: 0, unconfirmed: 3 }, false)).toBe(
      '3 messages were handed to the broker without confirms, and it gave no account of them: count the queue before sending them again.',
    );
  });
});
