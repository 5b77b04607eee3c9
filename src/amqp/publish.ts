import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib';
import { closeChannel } from './close.js';

export interface PublishTarget {
  /** '' is the default exchange, which routes by queue name. */
  exchange: string;
  routingKey: string;
}

export interface PublishOptions {
  /** Delivery mode 2: the broker writes the message to disk (in a durable queue). */
  persistent: boolean;
  /** Publisher confirms: count only what the broker confirmed. */
  confirm: boolean;
  /** How many confirms may be outstanding at once; pipelining without unbounded memory. */
  window?: number;
  /**
   * Stops reading further messages (the first Ctrl-C). What was sent is still waited for, unless
   * the broker is blocking publishers: then it would never answer, so waiting stops at once.
   */
  signal?: AbortSignal;
  /** Stops waiting for the broker too (a second Ctrl-C): what it has not answered counts as unconfirmed. */
  giveUp?: AbortSignal;
  /** Called after each message is handed to the socket, with the running count and body bytes. */
  onSent?: (sent: number, bytes: number) => void;
  /** The broker stopped reading from this connection (a memory or disk alarm), for `reason`. */
  onBlocked?: (reason: string) => void;
  /** The broker reads from this connection again. */
  onUnblocked?: () => void;
}

export interface PublishResult {
  /** Messages handed to the broker. */
  sent: number;
  /**
   * Confirmed by the broker and routed to a queue. Without confirms: the messages the broker
   * processed without returning them (known from a round trip after the last one), else 0.
   */
  confirmed: number;
  /** Refused by the broker (basic.nack). */
  nacked: number;
  /** Returned as unroutable: no queue bound for that routing key. */
  returned: number;
  /** Sent, but the broker never answered for them: it may or may not have them. */
  unconfirmed: number;
  /** Why publishing stopped early, if it did (a channel or connection error). */
  error: unknown;
  interrupted: boolean;
  /** The broker's reason when it was still blocking publishers as publishing ended, else null. */
  blockedBy: string | null;
}

export const DEFAULT_CONFIRM_WINDOW = 512;

/**
 * Publishes every message from `messages`, streaming: the source is read only as fast as the
 * broker confirms (a bounded window of outstanding confirms) and the socket drains
 * (amqplib's write back-pressure), so a 1 GB input never sits in memory.
 *
 * Every publish is mandatory, so an unroutable message comes back instead of vanishing. Without
 * confirms, a synchronous round trip after the last message still makes the broker report a
 * channel error or a return before the channel is closed (closing at once would swallow both).
 */
export async function publishAll(
  model: ChannelModel,
  target: PublishTarget,
  messages: AsyncIterable<Buffer> | Iterable<Buffer>,
  options: PublishOptions,
): Promise<PublishResult> {
  const window = options.window ?? DEFAULT_CONFIRM_WINDOW;
  const channel: Channel | ConfirmChannel = options.confirm
    ? await model.createConfirmChannel()
    : await model.createChannel();

  const result: PublishResult = {
    sent: 0,
    confirmed: 0,
    nacked: 0,
    returned: 0,
    unconfirmed: 0,
    error: undefined,
    interrupted: false,
    blockedBy: null,
  };
  let outstanding = 0;
  let bytes = 0;
  let closed = false;
  let drained = true;
  let answered = false;
  let blockedBy: string | null = null;
  let counting = true;
  // Only the publishing loop below ever waits, so one pending wake-up is enough.
  let wake: (() => void) | null = null;
  const wakeUp = () => {
    const resume = wake;
    wake = null;
    resume?.();
  };
  const stopping = () => options.signal?.aborted === true;
  // A blocked broker reads nothing more from us, so after Ctrl-C there is nothing worth waiting for.
  const givenUp = () => options.giveUp?.aborted === true || (stopping() && blockedBy !== null);
  const waitUntil = async (condition: () => boolean) => {
    while (!condition() && !closed && !givenUp()) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };

  const onBlocked = (reason: unknown) => {
    blockedBy = String(reason ?? 'no reason given');
    options.onBlocked?.(blockedBy);
    wakeUp();
  };
  const onUnblocked = () => {
    blockedBy = null;
    options.onUnblocked?.();
    wakeUp();
  };
  model.on('blocked', onBlocked);
  model.on('unblocked', onUnblocked);
  options.signal?.addEventListener('abort', wakeUp);
  options.giveUp?.addEventListener('abort', wakeUp);

  channel.on('error', (error: unknown) => {
    result.error ??= error;
  });
  channel.on('close', () => {
    closed = true;
    wakeUp();
  });
  channel.on('drain', () => {
    drained = true;
    wakeUp();
  });
  // The broker returns an unroutable mandatory message before confirming it.
  channel.on('return', () => {
    if (counting) result.returned += 1;
  });

  const settle = (error: unknown) => {
    // Once the result is handed back, a late callback (the connection closing) changes nothing.
    if (!counting) return;
    outstanding -= 1;
    if (error === null || error === undefined) result.confirmed += 1;
    else if (/nacked/.test(String((error as Error).message))) result.nacked += 1;
    else result.unconfirmed += 1;
    wakeUp();
  };

  const publishOptions = { persistent: options.persistent, mandatory: true };
  try {
    for await (const body of messages) {
      if (closed || stopping()) break;
      let writable: boolean;
      if (options.confirm) {
        outstanding += 1;
        writable = (channel as ConfirmChannel).publish(
          target.exchange,
          target.routingKey,
          body,
          publishOptions,
          settle,
        );
      } else {
        writable = channel.publish(target.exchange, target.routingKey, body, publishOptions);
      }
      result.sent += 1;
      bytes += body.length;
      options.onSent?.(result.sent, bytes);
      if (!writable) {
        drained = false;
        await waitUntil(() => drained || stopping());
      }
      if (options.confirm && outstanding >= window) await waitUntil(() => outstanding < window || stopping());
    }
    if (options.confirm) {
      await waitUntil(() => outstanding === 0);
    } else if (result.sent > 0 && !closed && !givenUp()) {
      // basic.qos with no limit changes nothing for a channel that does not consume, needs no
      // permission, and is answered only after every publish before it has been routed.
      // (then() also turns a throw of an already closing channel into a rejection.)
      let over = false;
      Promise.resolve()
        .then(() => channel.prefetch(0))
        .then(
          () => {
            answered = true;
          },
          () => {},
        )
        .finally(() => {
          over = true;
          wakeUp();
        });
      await waitUntil(() => over);
    }
  } finally {
    model.off('blocked', onBlocked);
    model.off('unblocked', onUnblocked);
    options.signal?.removeEventListener('abort', wakeUp);
    options.giveUp?.removeEventListener('abort', wakeUp);
    // A blocked broker would never answer channel.close; closing the connection ends the channel.
    if (!closed && blockedBy === null) await closeChannel(channel);
    counting = false;
  }

  // Ctrl-C while waiting for the broker counts too: the account may then be incomplete.
  result.interrupted = stopping();
  result.blockedBy = blockedBy;
  if (options.confirm) {
    result.unconfirmed += outstanding;
    result.confirmed -= result.returned; // returned messages are confirmed too, but reached no queue
  } else if (answered && result.error === undefined) {
    result.confirmed = result.sent - result.returned;
  } else {
    result.unconfirmed = result.sent - result.returned;
  }
  return result;
}

/**
 * Lets the process end although the broker blocks this connection: amqplib closes a blocked
 * connection at once, but a broker that reads nothing never answers the socket's close either,
 * and the open socket would keep Node running.
 */
export function releaseBlockedConnection(model: ChannelModel): void {
  const socket = (model.connection as unknown as { stream?: { unref?: () => void } }).stream;
  socket?.unref?.();
}
