import { Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineWriter } from '../../src/commands/line-writer.js';
import { ackableUpTo, endedEarlyAccount, receivePrefetch } from '../../src/commands/receive.js';

/**
 * A broker with a per-consumer prefetch window, driven by receive's ack rule: it delivers while
 * fewer than `prefetch` messages are unacked and the queue has any left. Printed lines reach the OS
 * in batches whose sizes `writeBatches` picks (a slow pipe), and only written lines may be acked.
 */
function simulate(
  count: number,
  requestedPrefetch: number | undefined,
  available: number,
  writeBatches: number[],
) {
  const prefetch = receivePrefetch(count, requestedPrefetch) as number;
  let delivered = 0;
  let printed = 0;
  let written = 0;
  let acked = 0;
  let maxDelivered = 0;
  let turn = 0;
  for (;;) {
    // The broker pushes as much as the window allows.
    while (delivered - acked < prefetch && delivered < available) delivered += 1;
    maxDelivered = Math.max(maxDelivered, delivered);
    const printable = Math.min(delivered, count) - printed;
    if (printable === 0 && written === printed) break; // nothing in hand, nothing in flight: stuck or done
    printed += printable;
    // Some of the printed lines reach the OS; at least one, so the run moves on.
    const batch = Math.max(1, writeBatches[turn++ % writeBatches.length] ?? 1);
    written = Math.min(printed, written + batch);
    acked = Math.max(acked, ackableUpTo(written, count, prefetch));
  }
  return { delivered: maxDelivered, printed, written };
}

describe('receive --count acks (ackableUpTo)', () => {
  it('never lets the broker send more than --count, and never stalls before it, however slowly lines are written', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2000 }),
        fc.option(fc.integer({ min: 1, max: 3000 }), { nil: undefined }),
        fc.integer({ min: 0, max: 3000 }),
        fc.array(fc.integer({ min: 1, max: 600 }), { minLength: 1, maxLength: 8 }),
        (count, prefetch, available, writeBatches) => {
          const { delivered, printed, written } = simulate(count, prefetch, available, writeBatches);
          expect(delivered).toBeLessThanOrEqual(count);
          expect(printed).toBe(Math.min(count, available));
          expect(written).toBe(printed);
        },
      ),
    );
  });

  it('keeps --prefetch as given without --count', () => {
    expect(receivePrefetch(undefined, 7)).toBe(7);
    expect(receivePrefetch(undefined, undefined)).toBeUndefined();
  });

  it('acks every written line without --count', () => {
    expect(ackableUpTo(10, undefined, 1)).toBe(10);
    expect(ackableUpTo(0, undefined, undefined)).toBe(0);
  });

  it('holds back the last prefetch-many acks of a --count run, and never acks an unwritten line', () => {
    expect([0, 1, 2, 3, 4, 5].map((written) => ackableUpTo(written, 5, 2))).toEqual([0, 1, 2, 3, 3, 3]);
    expect(ackableUpTo(3, 3, 3)).toBe(0);
  });
});

/** A stream whose writes complete only when the test says so, like a pipe nobody reads. */
function heldStream() {
  const pending: { text: string; done: (error?: Error | null) => void }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending.push({ text: chunk.toString(), done });
    },
  });
  return { stream, pending };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('LineWriter', () => {
  it('writes the lines of one turn as one batch and reports them only once the stream took them', async () => {
    const { stream, pending } = heldStream();
    const reports: [string, number][] = [];
    const writer = new LineWriter<string>(
      stream,
      (newest, inAll) => reports.push([newest, inAll]),
      () => {},
    );
    writer.write('a', 'm1');
    writer.write('b', 'm2');
    await nextTurn();
    expect(pending.map((write) => write.text)).toEqual(['a\nb\n']);
    expect(writer.written).toBe(0);
    expect(writer.pending).toBe(2);
    pending.shift()?.done();
    await nextTurn();
    expect(reports).toEqual([['m2', 2]]);
    expect(writer.pending).toBe(0);
  });

  it('counts every line not written when the stream fails, and the lines given after it', async () => {
    const { stream, pending } = heldStream();
    stream.on('error', () => {});
    const failures: Error[] = [];
    const reports: [number, number][] = [];
    const writer = new LineWriter<number>(
      stream,
      (newest, inAll) => reports.push([newest, inAll]),
      (error) => failures.push(error),
    );
    writer.write('one', 1);
    await nextTurn();
    writer.write('two', 2);
    writer.write('three', 3);
    await nextTurn();
    const settled = writer.settled();
    pending.shift()?.done();
    pending.shift()?.done(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    writer.write('four', 4);
    await settled;
    expect(reports).toEqual([[1, 1]]);
    expect(failures).toHaveLength(1);
    expect(writer.error?.message).toBe('write EPIPE');
    expect([writer.given, writer.written, writer.pending]).toEqual([4, 1, 0]);
  });

  it('settles at once with nothing given, and only after the last write otherwise', async () => {
    const { stream, pending } = heldStream();
    const writer = new LineWriter<number>(
      stream,
      () => {},
      () => {},
    );
    await writer.settled();
    writer.write('x', 1);
    let settled = false;
    void writer.settled().then(() => {
      settled = true;
    });
    await nextTurn();
    expect(settled).toBe(false);
    pending.shift()?.done();
    await nextTurn();
    expect(settled).toBe(true);
  });

  it('hands the stream one batch at a time, so lines it has not taken can still be dropped', async () => {
    const { stream, pending } = heldStream();
    const reports: [number, number][] = [];
    const writer = new LineWriter<number>(
      stream,
      (newest, inAll) => reports.push([newest, inAll]),
      () => {},
    );
    writer.write('one', 1);
    await nextTurn();
    writer.write('two', 2);
    writer.write('three', 3);
    await nextTurn();
    // The stream holds only the first batch; the other two wait in the writer.
    expect(pending.map((write) => write.text)).toEqual(['one\n']);
    expect(writer.abandon()).toBe(2);
    writer.write('four', 4);
    expect(writer.pending).toBe(1);
    const settled = writer.settled();
    pending.shift()?.done();
    await settled;
    expect(pending).toHaveLength(0);
    expect(reports).toEqual([[1, 1]]);
    expect([writer.given, writer.written, writer.pending]).toEqual([4, 1, 0]);
  });

  it('caps a batch near 64 KiB, and writes the next as soon as the stream took the last', async () => {
    const { stream, pending } = heldStream();
    const writer = new LineWriter<number>(
      stream,
      () => {},
      () => {},
    );
    const line = 'x'.repeat(20 * 1024 - 1);
    for (let n = 1; n <= 5; n += 1) writer.write(line, n);
    await nextTurn();
    expect(pending.map((write) => write.text.length)).toEqual([3 * 20 * 1024]);
    pending.shift()?.done();
    await nextTurn();
    expect(pending.map((write) => write.text.length)).toEqual([2 * 20 * 1024]);
    expect(writer.written).toBe(3);
  });
});

describe('what receive says when the connection or consumer ends first (endedEarlyAccount)', () => {
  it('with manual acks: printed ones come again, the rest go back, and a pipe is "handed", not "printed"', () => {
    expect(
      endedEarlyAccount(true, true, false, { printedNotAcked: 2, beingWritten: 3, notWritten: 95 }),
    ).toBe(
      'Ended early: 2 messages handed to the output but not acked go back to the queue and will be redelivered; ' +
        '3 messages still being written (they may reach the output too) go back to the queue; ' +
        '95 messages not written go back to the queue.',
    );
    expect(
      endedEarlyAccount(true, false, false, { printedNotAcked: 1, beingWritten: 0, notWritten: 0 }),
    ).toBe('Ended early: 1 message printed but not acked goes back to the queue and will be redelivered.');
    expect(
      endedEarlyAccount(true, false, false, { printedNotAcked: 0, beingWritten: 0, notWritten: 0 }),
    ).toBe(undefined);
  });

  it('says nothing goes back to a queue that was deleted', () => {
    expect(endedEarlyAccount(true, false, true, { printedNotAcked: 0, beingWritten: 0, notWritten: 4 })).toBe(
      'Ended early: 4 messages not written are lost with the deleted queue.',
    );
  });

  it('with auto-ack: what was handed over and not written is lost', () => {
    expect(
      endedEarlyAccount(false, true, false, { printedNotAcked: 0, beingWritten: 2, notWritten: 5 }),
    ).toBe('Ended early: 7 messages handed over but not written are lost (auto-ack).');
    expect(
      endedEarlyAccount(false, true, false, { printedNotAcked: 0, beingWritten: 0, notWritten: 0 }),
    ).toBe(undefined);
  });
});
