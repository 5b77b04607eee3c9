import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { thousands } from '../../src/output/format.js';

describe('thousands', () => {
  it('groups digits in threes with commas', () => {
    expect(thousands(0)).toBe('0');
    expect(thousands(999)).toBe('999');
    expect(thousands(1000)).toBe('1,000');
    expect(thousands(200_000)).toBe('200,000');
    expect(thousands(-1234567)).toBe('-1,234,567');
    expect(thousands(Number.MAX_SAFE_INTEGER)).toBe('9,007,199,254,740,991');
  });

  it("writes every safe integer as toLocaleString('en-US') does", () => {
    fc.assert(
      fc.property(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), (value) => {
        expect(thousands(value)).toBe(value.toLocaleString('en-US'));
      }),
    );
  });
});
