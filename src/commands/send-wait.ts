import { letPendingIoRun } from '../amqp/connect.js';
import type { ConsumeMessage, Consumer } from '../amqp/consume.js';
import type { Link } from '../amqp/link.js';
import { listenForReplies } from '../amqp/reply-queue.js';
import type { Session } from '../amqp/session.js';
import type { QtoolError } from '../errors.js';
import { lostLine, type ReconnectOptions, reconnectSaying } from './with-link.js';

/** How waiting for a reply ended. */
export type WaitOutcome =
  | { kind: 'reply'; message: ConsumeMessage }
  | { kind: 'timed-out' }
  | { kind: 'interrupted' }
  /** The connection was lost for good (--no-reconnect, --reconnect-timeout, a refused login). */
  | { kind: 'lost'; error: QtoolError };

/**
 * send --wait's side of RabbitMQ's RPC pattern: a reply queue of this sender's own, and the one
 * reply whose correlation id is the request's. The queue is exclusive, so a lost connection takes
 * it away: after every reconnect it is declared again under the same name (`listenOn`), before
 * anything is published again, so that a worker that reruns the job after a broker restart finds
 * it when it replies. A reply sent while no queue of that name existed is dropped by the broker:
 * the window is this sender's reconnection time.
 */
export class ReplyWaiter {
  private reply: ConsumeMessage | null = null;
  private consumer: Consumer | null = null;
  private wake: (() => void) | null = null;

  constructor(
    /** The reply queue's name, `qtool.reply.<uuid>`. */
    readonly queue: string,
    /** The request's correlation id: replies with another one are stray or stale, and ignored. */
    readonly correlationId: string,
  ) {}

  /** Declares the reply queue on this session's connection and consumes it. */
  async listenOn(session: Session): Promise<void> {
    this.consumer = await listenForReplies(session.model, this.queue, (message) => {
      if (message.properties.correlationId !== this.correlationId) return;
      this.reply ??= message;
      this.wake?.();
    });
  }

  /**
   * Waits for the reply until `timeoutMs` (undefined: no limit) or `signal` (Ctrl-C). A lost
   * connection is made again through the link (reconnect options permitting), saying so through
   * `say`, and the reply queue declared again; the time-out keeps counting meanwhile.
   */
  async wait(
    link: Link,
    options: {
      timeoutMs: number | undefined;
      signal: AbortSignal;
      reconnect: ReconnectOptions;
      say: (line: string) => void;
    },
  ): Promise<WaitOutcome> {
    const deadline = options.timeoutMs === undefined ? null : performance.now() + options.timeoutMs;
    let timedOut = false;
    // Aborts at Ctrl-C or at the time-out, whichever comes first; `timedOut` tells them apart.
    const stop = new AbortController();
    const onInterrupt = () => stop.abort();
    options.signal.addEventListener('abort', onInterrupt, { once: true });
    if (options.signal.aborted) stop.abort();
    const timer =
      deadline === null
        ? null
        : setTimeout(
            () => {
              timedOut = true;
              stop.abort();
            },
            Math.max(0, deadline - performance.now()),
          );
    const stopped = stop.signal;
    const ended = (): WaitOutcome => (timedOut ? { kind: 'timed-out' } : { kind: 'interrupted' });
    try {
      for (;;) {
        if (this.reply !== null) return { kind: 'reply', message: this.reply };
        if (stopped.aborted) return ended();
        const session = link.session;
        const consumer = this.consumer;
        const event = await new Promise<'reply' | 'stop' | 'lost' | 'cancelled'>((resolve) => {
          const onStop = () => resolve('stop');
          stopped.addEventListener('abort', onStop, { once: true });
          this.wake = () => resolve('reply');
          void session.lost.then(() => resolve('lost'));
          void consumer?.stopped.then(() => resolve('cancelled'));
        }).finally(() => {
          this.wake = null;
        });
        if (event === 'lost') {
          if (!options.reconnect.enabled) return { kind: 'lost', error: await session.lost };
          options.say(
            `qtool: ${lostLine(await session.lost, 'connection')} The reply queue goes with it and is declared again once back.`,
          );
          let restored: Awaited<ReturnType<typeof reconnectSaying>>;
          try {
            restored = await reconnectSaying(link, (line) => options.say(`qtool: ${line}`), stopped);
          } catch (error) {
            return { kind: 'lost', error: error as QtoolError };
          }
          if (restored === null) return ended();
          await this.listenOn(restored.session);
        } else if (event === 'cancelled') {
          // amqplib closes the channels before it reports the connection's end: let that arrive.
          await letPendingIoRun();
          // The broker ended the consumer (someone deleted the reply queue): declare it again.
          if (!session.isLost()) await this.listenOn(session);
        }
      }
    } finally {
      if (timer !== null) clearTimeout(timer);
      options.signal.removeEventListener('abort', onInterrupt);
    }
  }
}
