import { InvalidArgumentError } from 'commander';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_SECONDS,
  nonNegativeSeconds,
  positiveInteger,
  positiveSeconds,
  prefetchCount,
} from '../../src/cli/parsers.js';
import { MAX_TIMER_MS } from '../../src/worker/long-sleep.js';

/** What a parser makes of `text`: the number, or the message of its InvalidArgumentError. */
function outcome(parse: (text: string) => number, text: string): number | string {
  try {
    return parse(text);
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    return error.message;
  }
}

/** Strings that look numeric to Number() or parseInt() but are not what a person means by a count. */
const MISLEADING = ['0x10', '0b1', '0o7', '1_000', '+5', '-1', 'Infinity', 'NaN', '', ' ', '٣', '1,5', '5 5'];

describe('whole-number options (--count, --lose-every, --workers, --prefetch)', () => {
  it('take every safe whole number from 1, with spaces around it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.constantFrom('', ' ', '\t'),
        (n, pad) => {
          expect(positiveInteger(`${pad}${n}${pad}`)).toBe(n);
        },
      ),
    );
  });

  it('refuse 0, fractions, exponents, hex and signs', () => {
    for (const text of ['0', '1.5', '1e3', '1.0', ...MISLEADING]) {
      expect(outcome(positiveInteger, text), text).toBe(
        'expected a whole number from 1 to 9,007,199,254,740,991.',
      );
    }
  });

  it('name the largest value when one is too large to count exactly, instead of "1 or more"', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: BigInt(Number.MAX_SAFE_INTEGER) + 1n, max: 10n ** 30n }), (n) => {
        expect(outcome(positiveInteger, String(n))).toBe(
          'expected a whole number from 1 to 9,007,199,254,740,991.',
        );
      }),
    );
  });

  it('never return anything but a safe whole number of 1 or more, whatever the text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^\s*[-+0-9.exob_]{0,25}\s*$/)), (text) => {
        const value = outcome(positiveInteger, text);
        if (typeof value === 'number') {
          expect(Number.isSafeInteger(value) && value >= 1).toBe(true);
          expect(text.trim()).toMatch(/^\d+$/);
        }
      }),
    );
  });

  it('--prefetch stops at the 16 bits basic.qos has', () => {
    expect(prefetchCount('65535')).toBe(65535);
    expect(outcome(prefetchCount, '65536')).toBe('expected at most 65535 (the protocol limit).');
    expect(outcome(prefetchCount, '0')).toMatch(/^expected a whole number from 1/);
  });
});

describe('seconds options (--idle-timeout, --interval, --delay-per-char)', () => {
  const tooLong =
    'expected a number of seconds from 0 to 2147483.647 (about 24.9 days, the longest a timer can wait).';

  it('refuse a value whose milliseconds overflow setTimeout (it would fire after 1 ms)', () => {
    expect(outcome(nonNegativeSeconds, '2147484')).toBe(tooLong);
    expect(outcome(positiveSeconds, '2147484')).toBe(
      'expected a number of seconds greater than 0, at most 2147483.647 (about 24.9 days, the longest a timer can wait).',
    );
    expect(outcome(nonNegativeSeconds, '1e400')).toBe(tooLong);
    fc.assert(
      fc.property(fc.double({ min: MAX_SECONDS, max: 1e300, noNaN: true }), (seconds) => {
        fc.pre(seconds * 1000 > MAX_TIMER_MS);
        expect(outcome(nonNegativeSeconds, String(seconds))).toBe(tooLong);
      }),
    );
  });

  it('take the largest value that still fits, exactly', () => {
    expect(MAX_SECONDS).toBe(2147483.647);
    expect(nonNegativeSeconds('2147483.647')).toBe(2147483.647);
    expect(positiveSeconds('2147483.647') * 1000).toBe(MAX_TIMER_MS);
  });

  it('give back every number they accept as String() writes it, 1e-7 included (qtool lab passes them on so)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: MAX_SECONDS, noNaN: true }), (seconds) => {
        fc.pre(!Object.is(seconds, -0));
        expect(nonNegativeSeconds(String(seconds))).toBe(seconds);
      }),
    );
    expect(nonNegativeSeconds('1e-7')).toBe(1e-7);
    expect(nonNegativeSeconds(' 2.5 ')).toBe(2.5);
    expect(nonNegativeSeconds('.5')).toBe(0.5);
  });

  it('never return a value whose milliseconds overflow a timer, or one that is not a number, whatever the text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^\s*[-+0-9.eExob_]{0,30}\s*$/)), (text) => {
        for (const parse of [nonNegativeSeconds, positiveSeconds]) {
          const value = outcome(parse, text);
          if (typeof value === 'number') {
            expect(Number.isFinite(value) && value >= 0 && value * 1000 <= MAX_TIMER_MS, text).toBe(true);
          }
        }
      }),
    );
  });

  it('refuse negatives, hex and the like', () => {
    for (const text of MISLEADING) {
      expect(outcome(nonNegativeSeconds, text), text).toBe(tooLong);
    }
  });

  it('--idle-timeout and --interval refuse 0; --delay-per-char takes it', () => {
    expect(outcome(positiveSeconds, '0')).toMatch(/^expected a number of seconds greater than 0/);
    expect(outcome(positiveSeconds, '0e5')).toMatch(/^expected a number of seconds greater than 0/);
    expect(nonNegativeSeconds('0')).toBe(0);
  });
});
