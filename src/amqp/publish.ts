import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib';

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
  /** Stops reading further messages (Ctrl-C); what was sent is still confirmed. */
  signal?: AbortSignal;
  /** Called after each message is handed to the socket, with the running count and body bytes. */
  onSent?: (sent: number, bytes: number) => void;
}

export interface PublishResult {
  /** Messages handed to the broker. */
  sent: number;
  /** Confirmed by the broker and routed to a queue (with confirms off: equal to `sent`). */
  confirmed: number;
  /** Refused by the broker (basic.nack). */
  nacked: number;
  /** Returned as unroutable: no queue bound for that routing key. */
  returned: number;
  /** Sent but neither confirmed nor refused because the channel or connection closed. */
  unconfirmed: number;
  /** Why publishing stopped early, if it did (a channel or connection error). */
  error: unknown;
  interrupted: boolean;
}

export const DEFAULT_CONFIRM_WINDOW = 512;

/**
 * Publishes every message from `messages`, streaming: the source is read only as fast as the
 * broker confirms (a bounded window of outstanding confirms) and the socket drains
 * (amqplib's write back-pressure), so a 1 GB input never sits in memory.
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
  };
  let outstanding = 0;
  let bytes = 0;
  let closed = false;
  let drained = true;
  // Only the publishing loop below ever waits, so one pending wake-up is enough.
  let wake: (() => void) | null = null;
  const wakeUp = () => {
    const resume = wake;
    wake = null;
    resume?.();
  };
  const waitUntil = async (condition: () => boolean) => {
    while (!condition() && !closed) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };

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
    result.returned += 1;
  });

  const settle = (error: unknown) => {
    outstanding -= 1;
    if (error === null || error === undefined) result.confirmed += 1;
    else if (/nacked/.test(String((error as Error).message))) result.nacked += 1;
    else result.unconfirmed += 1;
    wakeUp();
  };

  const publishOptions = { persistent: options.persistent, mandatory: true };
  try {
    for await (const body of messages) {
      if (closed || options.signal?.aborted) break;
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
        await waitUntil(() => drained);
      }
      if (options.confirm && outstanding >= window) await waitUntil(() => outstanding < window);
    }
    if (options.signal?.aborted) result.interrupted = true;
    if (options.confirm) await waitUntil(() => outstanding === 0);
  } finally {
    if (!closed) await channel.close().catch(() => {});
  }

  if (!options.confirm) result.confirmed = result.sent - result.returned;
  else result.confirmed -= result.returned; // returned messages are confirmed too, but reached no queue
  return result;
}
