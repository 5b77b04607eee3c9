import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { messagesFrom, readUntilAborted, splitLines } from '../../src/commands/send-input.js';

async function collect(source: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of source) out.push(line.toString('latin1'));
  return out;
}

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield Buffer.from(part, 'latin1');
}

describe('splitLines', () => {
  it('yields the same lines however the input is cut into chunks (property)', async () => {
    // Lines of any bytes but \n; the model: split on \n, drop one trailing \r, skip empty ones.
    const line = fc
      .uint8Array({ maxLength: 40 })
      .map((bytes) => Buffer.from(bytes.filter((b) => b !== 0x0a)));
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { maxLength: 20 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 10 }),
        async (lines, finalNewline, cuts) => {
          const input = Buffer.concat(
            lines.flatMap((l, i) => (i < lines.length - 1 || finalNewline ? [l, Buffer.from('\n')] : [l])),
          );
          const points = [...new Set(cuts.map((c) => (input.length === 0 ? 0 : c % input.length)))].sort(
            (a, b) => a - b,
          );
          const pieces = [0, ...points, input.length]
            .slice(1)
            .map((end, i, ends) => input.subarray(i === 0 ? 0 : ends[i - 1], end));
          async function* feed() {
            yield* pieces;
          }
          const expected = lines
            .map((l) => (l.length > 0 && l[l.length - 1] === 0x0d ? l.subarray(0, -1) : l))
            .filter((l) => l.length > 0)
            .map((l) => l.toString('latin1'));
          expect(await collect(splitLines(feed()))).toEqual(expected);
        },
      ),
    );
  });

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

describe('readUntilAborted', () => {
  it('ends a read that waits for input once the signal aborts, without "Premature close"', async () => {
    const stream = new PassThrough();
    const stop = new AbortController();
    const lines: string[] = [];
    const reading = (async () => {
      for await (const line of messagesFrom({ kind: 'stdin', stream }, 1, stop.signal)) {
        lines.push(line.toString());
        if (lines.length === 2) setImmediate(() => stop.abort());
      }
    })();
    stream.write('one\ntwo\n');
    // The writer stays open: only the abort can end this read.
    await expect(reading).resolves.toBeUndefined();
    expect(lines).toEqual(['one', 'two']);
    expect(stream.destroyed).toBe(true);
  }, 5_000);

  it('passes on a real read error when nobody aborted', async () => {
    const stream = new PassThrough();
    const reading = (async () => {
      for await (const _chunk of readUntilAborted(stream, new AbortController().signal)) {
        // nothing to do with the chunks
      }
    })();
    stream.destroy(new Error('disk on fire'));
    await expect(reading).rejects.toThrow(/disk on fire/);
  });
});
