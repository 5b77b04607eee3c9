import { describe, expect, it } from 'vitest';
import { newJobId } from '../../src/job-id.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newJobId', () => {
  it('makes UUID v4 strings, all different, across many batches', () => {
    const ids = Array.from({ length: 10_000 }, () => newJobId());
    for (const id of ids) expect(id).toMatch(UUID_V4);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('keeps each id as it was when later batches are formatted', () => {
    const first = newJobId();
    const copy = `${first}`;
    for (let n = 0; n < 300; n++) newJobId();
    expect(first).toBe(copy);
  });

  it('spreads its random digits: every hex digit shows up in each random position over many ids', () => {
    const ids = Array.from({ length: 2_000 }, () => newJobId());
    for (const position of [0, 9, 15, 20, 35]) {
      expect(new Set(ids.map((id) => id[position])).size).toBe(16);
    }
    // The variant digit takes only 8, 9, a and b.
    expect(new Set(ids.map((id) => id[19]))).toEqual(new Set(['8', '9', 'a', 'b']));
  });
});
