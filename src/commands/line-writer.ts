import { fstatSync } from 'node:fs';

/** At most about this many bytes are handed to the stream at a time (one line may be longer). */
const MAX_BATCH_BYTES = 64 * 1024;
const NEWLINE = Buffer.from('\n');

/**
 * Lines for a stream, written in batches, with an exact account of which ones reached the OS.
 *
 * `stream.write` only queues: on a pipe whose reader has stopped reading, the bytes wait in this
 * process's memory and the EPIPE comes much later, when the reader goes away. So a line counts as
 * written only once the write callback of its batch reports success: for a pipe, the bytes are in
 * the kernel's pipe buffer (a reader that stops early, like `head`, may never read them); for a
 * file or terminal, written. Once one write fails every later one fails too, so the written lines
 * are always a prefix of the lines given, and the newest item of each written batch says how far
 * that prefix reaches.
 *
 * Only one batch is with the stream at a time, the rest waits here: lines that the stream has not
 * taken yet can still be dropped (abandon) when they must not be printed any more, for instance
 * because the connection died and the broker will deliver them again. Lines given in one turn of
 * the event loop (amqplib dispatches every delivery of a socket read in one go) become one write,
 * up to MAX_BATCH_BYTES: one syscall for many lines.
 */
export class LineWriter<Item> {
  readonly #stream: NodeJS.WritableStream;
  readonly #onWritten: (newest: Item, writtenInAll: number) => void;
  readonly #onFailed: (error: Error) => void;
  /** Lines waiting for the stream, oldest first. Bytes, not text: a body that is not UTF-8 must reach the output exactly as it was sent. */
  #queue: { bytes: Buffer; item: Item }[] = [];
  /** Where the waiting lines start in #queue: taking from the front of a long array would copy it. */
  #head = 0;
  #flushScheduled = false;
  /** Lines of the batch the stream holds now (0: none). */
  #inFlight = 0;
  #abandoned = false;
  #given = 0;
  #written = 0;
  #failed = 0;
  #dropped = 0;
  #error: Error | undefined;
  #waiters: (() => void)[] = [];
  readonly #onStreamError = (error: Error) => this.#fail(error);

  constructor(
    stream: NodeJS.WritableStream,
    /** After each batch reached the OS: its newest item, and how many lines are written so far. */
    onWritten: (newest: Item, writtenInAll: number) => void,
    /** Once, when the stream first fails; every line not written by then never will be. */
    onFailed: (error: Error) => void,
  ) {
    this.#stream = stream;
    this.#onWritten = onWritten;
    this.#onFailed = onFailed;
    // Without a listener, a stream error (EPIPE) would be an uncaught exception.
    stream.on('error', this.#onStreamError);
  }

  /** Lines given so far. */
  get given(): number {
    return this.#given;
  }

  /** Lines the OS has taken. */
  get written(): number {
    return this.#written;
  }

  /** Lines given but neither written, failed nor dropped yet (after abandon: the batch the stream holds). */
  get pending(): number {
    return this.#given - this.#written - this.#failed - this.#dropped;
  }

  /** The stream's first error, once it failed. */
  get error(): Error | undefined {
    return this.#error;
  }

  /** Queues one line (without its newline); `item` is what onWritten reports once it is written. */
  write(line: string | Buffer, item: Item): void {
    this.#given += 1;
    if (this.#abandoned) {
      this.#dropped += 1;
      return;
    }
    if (this.#error !== undefined) {
      this.#failed += 1;
      return;
    }
    this.#queue.push({ bytes: typeof line === 'string' ? Buffer.from(line) : line, item });
    if (this.#inFlight > 0 || this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  /**
   * Drops every line the stream has not taken yet, and any given later; returns how many it
   * dropped. The batch the stream already holds cannot be called back: see `pending`.
   */
  abandon(): number {
    this.#abandoned = true;
    const dropped = this.#queue.length - this.#head;
    this.#queue = [];
    this.#head = 0;
    this.#dropped += dropped;
    this.#wakeIfSettled();
    return dropped;
  }

  /** Resolves (never rejects) once every line given so far was written, failed or dropped. */
  settled(): Promise<void> {
    this.#flush();
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Stops listening to the stream, once nothing is pending on it any more. */
  release(): void {
    void this.settled().then(() => this.#stream.off('error', this.#onStreamError));
  }

  #flush(): void {
    if (this.#inFlight > 0 || this.#head === this.#queue.length) return;
    if (this.#error !== undefined) {
      this.#failed += this.#queue.length - this.#head;
      this.#queue = [];
      this.#head = 0;
      this.#wakeIfSettled();
      return;
    }
    const parts: Buffer[] = [];
    let bytes = 0;
    let taken = 0;
    let newest: Item | undefined;
    while (this.#head < this.#queue.length) {
      const line = this.#queue[this.#head] as { bytes: Buffer; item: Item };
      if (taken > 0 && bytes + line.bytes.length + 1 > MAX_BATCH_BYTES) break;
      parts.push(line.bytes, NEWLINE);
      bytes += line.bytes.length + 1;
      taken += 1;
      newest = line.item;
      this.#head += 1;
    }
    // Let go of the lines taken, now and then (amortised: never more copying than lines queued).
    if (this.#head === this.#queue.length || this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#inFlight = taken;
    this.#stream.write(Buffer.concat(parts, bytes), (error?: Error | null) =>
      this.#settle(taken, newest as Item, error ?? undefined),
    );
  }

  #settle(lines: number, newest: Item, error: Error | undefined): void {
    this.#inFlight = 0;
    if (error === undefined) {
      this.#written += lines;
      this.#onWritten(newest, this.#written);
    } else {
      this.#failed += lines;
      this.#fail(error);
    }
    this.#flush();
    this.#wakeIfSettled();
  }

  #wakeIfSettled(): void {
    if (this.pending !== 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  #fail(error: Error): void {
    if (this.#error !== undefined) return;
    this.#error = error;
    this.#onFailed(error);
  }
}

/**
 * Whether a stream writes into a pipe or socket: a line handed to one has reached the reader's
 * buffer, not necessarily the reader (`| head -3` throws the rest of that buffer away).
 */
export function writesToPipe(stream: NodeJS.WritableStream): boolean {
  const fd = (stream as { fd?: unknown }).fd;
  if (typeof fd !== 'number') return false;
  try {
    const stat = fstatSync(fd);
    return stat.isFIFO() || stat.isSocket();
  } catch {
    return false;
  }
}
