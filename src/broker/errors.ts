/** A throwaway RabbitMQ node did not come up. The message ends with the tail of the node's logs. */
export class BrokerStartError extends Error {
  override readonly name = 'BrokerStartError';
  /** The node's data folder, or null when it has already been removed. */
  readonly baseDir: string | null;

  constructor(message: string, options: { baseDir?: string | null; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.baseDir = options.baseDir ?? null;
  }
}

/**
 * startLocalNode was aborted (its `signal`) before the node was up. By then the half-started node
 * has been killed and, when startLocalNode created it, its folder removed.
 */
export class BrokerStartInterrupted extends Error {
  override readonly name = 'BrokerStartInterrupted';
}

/** A rabbitmqctl call failed (non-zero exit, timeout or spawn failure). */
export class RabbitmqctlError extends Error {
  override readonly name = 'RabbitmqctlError';
  readonly args: readonly string[];
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;

  constructor(
    message: string,
    details: {
      args: readonly string[];
      exitCode: number | null;
      stdout: string;
      stderr: string;
      cause?: unknown;
    },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.args = details.args;
    this.exitCode = details.exitCode;
    this.stdout = details.stdout;
    this.stderr = details.stderr;
  }
}
