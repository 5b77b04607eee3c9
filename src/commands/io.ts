/** What a command may touch of the outside world; main passes the real process, tests may pass fakes. */
export interface CommandIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Readonly<Record<string, string | undefined>>;
  /**
   * Calls `handler` on Ctrl-C / SIGTERM with how many interrupts arrived so far (1, 2, ...); with
   * `hangup`, on SIGHUP too (a closed terminal or ssh session), which otherwise ends Node at once.
   * Returns a function that removes the handler.
   */
  onInterrupt(handler: (count: number) => void, options?: { hangup?: boolean }): () => void;
  /** Ends the process at once, without cleanup: for a deliberate crash and a second Ctrl-C. */
  exitNow(code: number): never;
}

/** Writes one line to a stream. */
export function writeLine(stream: NodeJS.WritableStream, line: string): void {
  stream.write(`${line}\n`);
}
