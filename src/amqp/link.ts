import type { ConnectionSettings } from '../config/connection.js';
import { hostAndPort, nodesOf } from '../config/connection.js';
import { QtoolError } from '../errors.js';
import { formatDuration } from '../output/format.js';
import { isPermanentConnectFailure, reconnectDelay } from './reconnect-policy.js';
import { openSession, type Session } from './session.js';

export interface ReconnectOptions {
  /** False with --no-reconnect: the first loss is final. */
  enabled: boolean;
  /** --reconnect-timeout: give up when the broker has not been back for this long; undefined: never. */
  timeoutMs: number | undefined;
}

/** What a link reports while it reconnects, for the command to tell its user. */
export interface LinkEvents {
  /** An attempt (every node tried once) failed; the next one starts in `delayMs`. */
  onRetry?(error: QtoolError, attempt: number, delayMs: number): void;
}

/** How a reconnection went, for the line that says the link is back. */
export interface Restored {
  session: Session;
  /** Attempts it took (each tries every node once). */
  attempts: number;
  /** From the loss to the new connection. */
  downtimeMs: number;
}

/**
 * A connection that comes back: the command's connections in a row, one Session (generation)
 * each. The commands own what runs on a connection (declare, qos, consume, publish) and set it
 * up again on every generation; the link only finds the broker again.
 *
 * Hand-written on plain amqplib connections rather than amqplib's own `recovery` option or
 * amqp-connection-manager: see docs/reconnection.md for the reasons and the measurements.
 */
export class Link {
  /** Connections lost and made again so far. */
  reconnects = 0;

  private constructor(
    private readonly settings: ConnectionSettings,
    private readonly purpose: string,
    private readonly options: ReconnectOptions,
    private current: Session,
  ) {}

  /** Connects to the first node that answers; the first connection is not retried (a typo should fail fast). */
  static async open(settings: ConnectionSettings, purpose: string, options: ReconnectOptions): Promise<Link> {
    return new Link(settings, purpose, options, await openSession(settings, purpose));
  }

  get session(): Session {
    return this.current;
  }

  /** Whether there is more than one node to fail over to. */
  get clustered(): boolean {
    return this.settings.failover.length > 0;
  }

  /**
   * After the current session was lost: connects again, trying the nodes from the one after the
   * lost one (so a cluster moves on from a node that went down), and backing off between rounds.
   * Returns null when `signal` aborts (Ctrl-C). Throws the error to end with when reconnecting is
   * off, the failure is permanent (a password changed meanwhile), or --reconnect-timeout passed.
   */
  async restore(events: LinkEvents, signal?: AbortSignal): Promise<Restored | null> {
    const lost = this.current;
    const lostError = await lost.lost;
    if (!this.options.enabled) throw lostError;
    const since = performance.now();
    const nodes = nodesOf(this.settings);
    for (let attempt = 1; ; attempt += 1) {
      if (signal?.aborted) return null;
      try {
        const session = await openSession(this.settings, this.purpose, (lost.nodeIndex + 1) % nodes.length);
        if (signal?.aborted) {
          await session.close();
          return null;
        }
        this.current = session;
        this.reconnects += 1;
        return { session, attempts: attempt, downtimeMs: performance.now() - since };
      } catch (error) {
        const explained =
          error instanceof QtoolError ? error : new QtoolError(String(error), { cause: error });
        if (isPermanentConnectFailure(explained)) throw explained;
        const waited = performance.now() - since;
        const delayMs = reconnectDelay(attempt);
        if (this.options.timeoutMs !== undefined && waited + delayMs > this.options.timeoutMs) {
          throw new QtoolError(
            `gave up reconnecting after ${formatDuration(waited)} (--reconnect-timeout): ${explained.message}`,
            {
              cause: error,
              hint: `The connection to ${hostAndPort(lost.settings)} was lost: ${lostError.message}.`,
            },
          );
        }
        events.onRetry?.(explained, attempt, delayMs);
        if (!(await pause(delayMs, signal))) return null;
      }
    }
  }

  /** Closes the current connection (bounded, see Session.close). */
  close(): Promise<void> {
    return this.current.close();
  }
}

/** Waits `ms`, or less when `signal` aborts; false when it did. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
