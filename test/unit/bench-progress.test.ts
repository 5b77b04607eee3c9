import { describe, expect, it } from 'vitest';
import { createLiveDisplay } from '../../src/output/bench-progress.js';

describe('bench live line', () => {
  it('numbers each tick of a --duration run by the second it stands for, early or late', () => {
    let written = '';
    const stream = {
      isTTY: false,
      write: (text: string) => {
        written += text;
        return true;
      },
    } as unknown as NodeJS.WritableStream;
    const display = createLiveDisplay(stream, { label: 'bench', unit: 'seconds', total: 60 });
    // setInterval(1000) fires a little early or late; a tick at 0.999 s once read "0/60".
    for (const elapsed of [0.999, 2.004, 2.998]) display.update(elapsed, 'x');
    expect(written).toBe('bench 1/60 s: x\nbench 2/60 s: x\nbench 3/60 s: x\n');
  });
});
