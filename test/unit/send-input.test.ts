import { describe, expect, it } from 'vitest';
import { messagesFrom, splitLines } from '../../src/commands/send-input.js';

async function collect(source: AsyncIterable<Buffer>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of source) out.push(line.toString('latin1'));
  return out;
}

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield Buffer.from(part, 'latin1');
}

describe('splitLines', () => {
  it('splits on newlines across chunk borders', async () => {
    expect(await collect(splitLines(chunks('he', 'llo\nwor', 'ld\n')))).toEqual(['hello', 'world']);
  });

  it('keeps a last line without a newline, drops \\r of Windows line ends, skips blank lines', async () => {
    expect(await collect(splitLines(chunks('a\r\n\n\r\nb')))).toEqual(['a', 'b']);
  });

  it('keeps bytes that are not UTF-8 as they are', async () => {
    const lines = [];
    for await (const line of splitLines(chunks('\xff\xfe\n'))) lines.push(line);
    expect(lines[0]).toEqual(Buffer.from([0xff, 0xfe]));
  });
});

describe('messagesFrom', () => {
  it('repeats arguments --count times, the whole set each round', async () => {
    const source = messagesFrom({ kind: 'arguments', messages: ['a', 'b'] }, 3);
    expect(await collect(source)).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
  });

  it('repeats standard input, which can only be read once', async () => {
    const stream = chunks('x\ny\n') as unknown as NodeJS.ReadableStream;
    expect(await collect(messagesFrom({ kind: 'stdin', stream }, 2))).toEqual(['x', 'y', 'x', 'y']);
  });
});
