/**
 * qtool's one error type. Everything the user should read as a plain message is thrown as a
 * QtoolError; the CLI's single error boundary prints `message` (and `hint`) and exits with `exitCode`.
 */
export class QtoolError extends Error {
  override readonly name = 'QtoolError';
  /** 2 for usage errors, 1 for everything else, 3 for a deliberate crash. */
  readonly exitCode: number;
  /** A second line telling the user what to do about it. */
  readonly hint: string | undefined;

  constructor(message: string, options: { exitCode?: number; hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = options.exitCode ?? 1;
    this.hint = options.hint;
  }
}

/** A usage error: bad flag values, bad environment values. Exit code 2. */
export class UsageError extends QtoolError {
  constructor(message: string, hint?: string) {
    super(message, hint === undefined ? { exitCode: 2 } : { exitCode: 2, hint });
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** The exit status of a worker that crashes on purpose (`--on-lose crash`). */
export const EXIT_CRASH = 3;
