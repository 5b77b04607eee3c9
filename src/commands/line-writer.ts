/** Above this many bytes a batch is written at once, without waiting for the turn to end. */
const MAX_BATCH_BYTES = 64 * 1024;
const NEWLINE = Buffer.from('\n');

/**
 * Lines for a stream, written in batches, with an exact account of which ones reached the OS.
 *
 * `stream.write` only queues: on a pipe whose reader has stopped reading, the bytes wait in this
 * process's memory and the EPIPE comes much later, when the reader goes away. So a line counts as
 * written only once the write callback of its batch reports success: for a pipe, the bytes are in
 * the kernel's pipe buffer; for a file or terminal, written. Node calls write callbacks in order,
 * and once one fails every later one fails too, so the written lines are always a prefix of the
 * lines given, and the newest item of each written batch says how far that prefix reaches.
 *
 * Lines given in one turn of the event loop (amqplib dispatches every delivery of a socket read in
 * one go) become one write and one callback, up to MAX_BATCH_CHARS: one syscall for many lines.
 */
export class LineWriter<Item> {
  readonly #stream: NodeJS.WritableStream;
  readonly #onWritten: (newest: Item, writtenInAll: number) => void;
  readonly #onFailed: (error: Error) => void;
  /** Bytes, not text: a body that is not UTF-8 must reach the output exactly as it was sent. */
  #batch: Buffer[] = [];
  #batchBytes = 0;
  #batchLines = 0;
  #batchNewest: Item | undefined;
  #flushScheduled = false;
  #given = 0;
  #written = 0;
  #failed = 0;
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

  /** Lines given but neither written nor failed yet. */
  get pending(): number {
    return this.#given - this.#written - this.#failed;
  }

  /** The stream's first error, once it failed. */
  get error(): Error | undefined {
    return this.#error;
  }

  /** Queues one line (without its newline); `item` is what onWritten reports once it is written. */
  write(line: string | Buffer, item: Item): void {
    this.#given += 1;
    if (this.#error !== undefined) {
      this.#failed += 1;
      return;
    }
    const bytes = typeof line === 'string' ? Buffer.from(line) : line;
    this.#batch.push(bytes, NEWLINE);
    this.#batchBytes += bytes.length + 1;
    this.#batchLines += 1;
    this.#batchNewest = item;
    if (this.#batchBytes >= MAX_BATCH_BYTES) this.#flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        this.#flush();
      });
    }
  }

  /** Resolves (never rejects) once every line given so far was written or failed. */
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
    if (this.#batchLines === 0) return;
    const text = Buffer.concat(this.#batch, this.#batchBytes);
    const lines = this.#batchLines;
    const newest = this.#batchNewest as Item;
    this.#batch = [];
    this.#batchBytes = 0;
    this.#batchLines = 0;
    this.#batchNewest = undefined;
    if (this.#error !== undefined) {
      this.#settle(lines, newest, this.#error);
      return;
    }
    this.#stream.write(text, (error?: Error | null) => this.#settle(lines, newest, error ?? undefined));
  }

  #settle(lines: number, newest: Item, error: Error | undefined): void {
    if (error === undefined) {
      this.#written += lines;
      this.#onWritten(newest, this.#written);
    } else {
      this.#failed += lines;
      this.#fail(error);
    }
    if (this.pending === 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake();
    }
  }

  #fail(error: Error): void {
    if (this.#error !== undefined) return;
    this.#error = error;
    this.#onFailed(error);
  }
}
