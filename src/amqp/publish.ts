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
   * At most this many body bytes unconfirmed at once, whatever `window` allows (a message larger
   * than that goes alone). Each unconfirmed body is kept, to be sent again after a lost connection.
   */
  windowBytes?: number;
  /**
   * Stops reading further messages (the first Ctrl-C). What was sent is still waited for, unless
   * the broker is blocking publishers: then it would never answer, so waiting stops at once.
   */
  signal?: AbortSignal;
  /** Stops waiting for the broker too (a second Ctrl-C): what it has not answered counts as unconfirmed. */
  giveUp?: AbortSignal;
  /** Called after each message is handed to the socket, with the running count and body bytes. */
  onSent?: (sent: number, bytes: number) => void;
  /**
   * Called as the broker confirms each message (with confirms): for a live count such as bench's,
   * and for send --json, which prints each confirmed message's id.
   */
  onConfirmed?: (body: Buffer, messageId: string | undefined) => void;
  /** A message the broker returned (it reached no queue), called when its confirm comes instead of onConfirmed. */
  onReturned?: (body: Buffer, messageId: string | undefined) => void;
  /**
   * Gives each message read from the source its message id (a message sent again after a lost
   * connection keeps the one it had). Without it, messages carry none.
   */
  nextMessageId?: () => string;
  /** Properties every message carries: reply_to and correlation_id for send --wait. */
  replyTo?: string;
  correlationId?: string;
  /** The broker stopped reading from this connection (a memory or disk alarm), for `reason`. */
  onBlocked?: (reason: string) => void;
  /** The broker reads from this connection again. */
  onUnblocked?: () => void;
  /**
   * Called (with confirms) when the channel closed because its connection was lost: a new
   * connection to carry on with, or null to stop. Without it, a lost connection ends publishing.
   */
  reconnect?: () => Promise<ChannelModel | null>;
  /**
   * The channel to start on, opened on the same connection with openPublishChannel while the caller
   * did its own round trips (a one-shot send checks its queue meanwhile). Without it, one is opened.
   */
  channel?: Promise<PublishChannel>;
  /**
   * The caller closes the connection right after: its close ends the channel too, so closing the
   * channel first would only cost a round trip. Everything sent has been answered by then.
   */
  leaveChannelOpen?: boolean;
}

/** A channel to publish on, with what became of it from the moment it opened. */
export interface PublishChannel {
  channel: Channel | ConfirmChannel;
  closed: boolean;
  /** The first error the channel reported, if any. */
  error: unknown;
}

/**
 * Opens a channel for publishAll (a confirm channel with confirms) and starts tracking it at
 * once, so that a close or an error before publishAll takes it over is not missed.
 */
export async function openPublishChannel(model: ChannelModel, confirm: boolean): Promise<PublishChannel> {
  const channel = confirm ? await model.createConfirmChannel() : await model.createChannel();
  const opened: PublishChannel = { channel, closed: false, error: undefined };
  channel.on('error', (error: unknown) => {
    opened.error ??= error;
  });
  channel.on('close', () => {
    opened.closed = true;
  });
  return opened;
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
  /** Sent again on a new connection because the lost one never confirmed them (each counted once in `sent`). */
  republished: number;
  /** Why publishing stopped early, if it did (a channel or connection error). */
  error: unknown;
  interrupted: boolean;
  /** The broker's reason when it was still blocking publishers as publishing ended, else null. */
  blockedBy: string | null;
}

/**
 * send's window: 2,048 unconfirmed messages and at most SEND_WINDOW_BYTES of their bodies. Small
 * persistent messages took 10 % (RabbitMQ 3.10) to 23 % (4.0) less time with 2,048 than with 512:
 * the broker confirms them in larger batches. That pays for the message id and mandatory flag each
 * of qtool's messages carries (BENCHMARKS.md, "RabbitMQ 3.10 and the mandatory flag").
 */
export const DEFAULT_CONFIRM_WINDOW = 2048;
export const SEND_WINDOW_BYTES = 16 * 1024 * 1024;

/** A message on its way: its body and the id it keeps if it must be sent again. */
interface Outgoing {
  body: Buffer;
  messageId: string | undefined;
  /** How often it was published: 0 never, 1 once, more when a lost connection made it go again. */
  sends: number;
}

/** The publish options publishAll sets (amqplib's Options.Publish, the fields it uses). */
interface PublishProperties {
  persistent: boolean;
  mandatory: boolean;
  messageId?: string;
  replyTo?: string;
  correlationId?: string;
}

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
  const windowBytes = options.windowBytes ?? Number.POSITIVE_INFINITY;
  const result: PublishResult = {
    sent: 0,
    confirmed: 0,
    nacked: 0,
    returned: 0,
    unconfirmed: 0,
    republished: 0,
    error: undefined,
    interrupted: false,
    blockedBy: null,
  };
  let bytes = 0;
  let answered = false;
  // Only the publishing loop below ever waits, so one pending wake-up is enough.
  let wake: (() => void) | null = null;
  const wakeUp = () => {
    const resume = wake;
    wake = null;
    resume?.();
  };
  const stopping = () => options.signal?.aborted === true;
  options.signal?.addEventListener('abort', wakeUp);
  options.giveUp?.addEventListener('abort', wakeUp);

  /**
   * What one channel has in flight. After a lost connection the bodies it never confirmed are
   * published again on the next one: the broker may have kept some, so a duplicate is possible,
   * a loss is not.
   */
  interface Generation {
    model: ChannelModel;
    channel: Channel | ConfirmChannel;
    /** Sent on this channel, not yet answered, in publishing order. */
    inFlight: Map<number, Outgoing>;
    /** The body bytes of inFlight. */
    inFlightBytes: number;
    closed: boolean;
    drained: boolean;
    blockedBy: string | null;
    /** False once this channel's account is taken: late callbacks change nothing. */
    counting: boolean;
    /** Ids of messages returned on this channel whose confirm has not come yet. */
    returnedIds: Set<string>;
    release(): void;
  }
  let nextId = 0;

  const open = async (on: ChannelModel, ready?: Promise<PublishChannel>): Promise<Generation> => {
    const opened = await (ready ?? openPublishChannel(on, options.confirm));
    const channel = opened.channel;
    result.error ??= opened.error;
    const gen: Generation = {
      model: on,
      channel,
      inFlight: new Map(),
      inFlightBytes: 0,
      closed: opened.closed,
      drained: true,
      blockedBy: null,
      counting: true,
      returnedIds: new Set(),
      release: () => {},
    };
    const onBlocked = (reason: unknown) => {
      gen.blockedBy = String(reason ?? 'no reason given');
      options.onBlocked?.(gen.blockedBy);
      wakeUp();
    };
    const onUnblocked = () => {
      gen.blockedBy = null;
      options.onUnblocked?.();
      wakeUp();
    };
    on.on('blocked', onBlocked);
    on.on('unblocked', onUnblocked);
    gen.release = () => {
      on.off('blocked', onBlocked);
      on.off('unblocked', onUnblocked);
    };
    channel.on('error', (error: unknown) => {
      result.error ??= error;
    });
    channel.on('close', () => {
      gen.closed = true;
      wakeUp();
    });
    channel.on('drain', () => {
      gen.drained = true;
      wakeUp();
    });
    // The broker returns an unroutable mandatory message before confirming it. With confirms and an
    // id, it counts as returned only with its confirm: a connection lost between the two frames
    // leaves it unanswered (sent again, or owed), not both returned and unconfirmed. Without
    // confirms nothing else comes for it, and nothing is kept per message.
    channel.on('return', (returned: { properties?: { messageId?: unknown } } | undefined) => {
      if (!gen.counting) return;
      const id = returned?.properties?.messageId;
      if (options.confirm && typeof id === 'string') gen.returnedIds.add(id);
      else result.returned += 1;
    });
    return gen;
  };

  let gen = await open(model, options.channel);
  // A blocked broker reads nothing more from us, so after Ctrl-C there is nothing worth waiting for.
  const givenUp = () => options.giveUp?.aborted === true || (stopping() && gen.blockedBy !== null);
  const waitUntil = async (condition: () => boolean) => {
    while (!condition() && !gen.closed && !givenUp()) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };

  /** Messages to publish again (their channel died unanswered), before any new one from the source. */
  let backlog: Outgoing[] = [];
  /**
   * The channel closed: if its connection was lost and the caller reconnects, carry what it never
   * confirmed over to a new channel and go on; otherwise stop (false).
   */
  const carryOver = async (): Promise<boolean> => {
    if (!options.confirm || options.reconnect === undefined || result.error !== undefined || stopping()) {
      return false;
    }
    const old = gen;
    old.counting = false;
    old.release();
    const next = await options.reconnect();
    if (next === null) {
      old.counting = true;
      return false;
    }
    backlog = [...old.inFlight.values(), ...backlog];
    gen = await open(next);
    return true;
  };

  // One options object for every publish: amqplib encodes a message's properties during publish(),
  // so setting messageId just before each call spares an object per message.
  const publishOptions: PublishProperties = { persistent: options.persistent, mandatory: true };
  if (options.replyTo !== undefined) publishOptions.replyTo = options.replyTo;
  if (options.correlationId !== undefined) publishOptions.correlationId = options.correlationId;
  const nextMessageId = options.nextMessageId;
  const source = (
    Symbol.asyncIterator in messages
      ? (messages as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
      : (messages as Iterable<Buffer>)[Symbol.iterator]()
  ) as AsyncIterator<Buffer> | Iterator<Buffer>;
  let sourceDone = false;
  const taken = (item: IteratorResult<Buffer>): Outgoing | undefined => {
    if (item.done === true) {
      sourceDone = true;
      return undefined;
    }
    return {
      body: item.value,
      messageId: nextMessageId === undefined ? undefined : nextMessageId(),
      sends: 0,
    };
  };
  /**
   * The next message to publish, from the backlog first; undefined when there is none. A promise only when
   * the source must wait: a sync source (arguments) then costs no microtask per message.
   */
  const nextMessage = (): Outgoing | undefined | Promise<Outgoing | undefined> => {
    const queued = backlog.shift();
    if (queued !== undefined) return queued;
    if (sourceDone || stopping()) return undefined;
    const item = source.next();
    return item instanceof Promise ? item.then(taken) : taken(item);
  };

  try {
    for (;;) {
      if (gen.closed) {
        if (await carryOver()) continue;
        break;
      }
      const pending = nextMessage();
      const message = pending instanceof Promise ? await pending : pending;
      if (message === undefined) {
        if (!options.confirm) break;
        await waitUntil(() => gen.inFlight.size === 0);
        if (gen.closed && gen.inFlight.size > 0 && (await carryOver())) continue;
        break;
      }
      const body = message.body;
      if (gen.closed || stopping()) {
        // A republished body stays owed (counted unconfirmed at the end); one just read from the
        // source was never sent, so after Ctrl-C it is simply not counted.
        if (message.sends > 0 || !stopping()) backlog.unshift(message);
        if (!stopping()) continue;
        if (options.confirm) await waitUntil(() => gen.inFlight.size === 0);
        break;
      }
      let writable: boolean;
      if (nextMessageId !== undefined) publishOptions.messageId = message.messageId as string;
      if (options.confirm) {
        const id = nextId++;
        const on = gen;
        on.inFlight.set(id, message);
        on.inFlightBytes += body.length;
        writable = (on.channel as ConfirmChannel).publish(
          target.exchange,
          target.routingKey,
          body,
          publishOptions,
          (error: unknown) => {
            // Once the result is handed back, or the channel's account taken, a late callback (the
            // connection closing) changes nothing.
            if (!on.counting || !on.inFlight.delete(id)) return;
            if (error === null || error === undefined) {
              result.confirmed += 1;
              if (message.messageId !== undefined && on.returnedIds.delete(message.messageId)) {
                result.returned += 1;
                options.onReturned?.(body, message.messageId);
              } else options.onConfirmed?.(body, message.messageId);
            } else if (/nacked/.test(String((error as Error).message))) result.nacked += 1;
            else {
              on.inFlight.set(id, message); // the channel died: unanswered, kept for carryOver
              return wakeUp();
            }
            on.inFlightBytes -= body.length;
            wakeUp();
          },
        );
      } else {
        writable = gen.channel.publish(target.exchange, target.routingKey, body, publishOptions);
      }
      // Each message counts once in `sent`, and once in `republished` however often it went again.
      if (message.sends === 0) {
        result.sent += 1;
        bytes += body.length;
      } else if (message.sends === 1) result.republished += 1;
      message.sends += 1;
      options.onSent?.(result.sent, bytes);
      if (!writable) {
        gen.drained = false;
        await waitUntil(() => gen.drained || stopping());
      }
      if (options.confirm && (gen.inFlight.size >= window || gen.inFlightBytes >= windowBytes)) {
        await waitUntil(() => (gen.inFlight.size < window && gen.inFlightBytes < windowBytes) || stopping());
      }
    }
    if (!options.confirm && result.sent > 0 && !gen.closed && !givenUp()) {
      // basic.qos with no limit changes nothing for a channel that does not consume, needs no
      // permission, and is answered only after every publish before it has been routed.
      // (then() also turns a throw of an already closing channel into a rejection.)
      let over = false;
      const channel = gen.channel;
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
    gen.release();
    options.signal?.removeEventListener('abort', wakeUp);
    options.giveUp?.removeEventListener('abort', wakeUp);
    // A blocked broker would never answer channel.close; closing the connection ends the channel.
    if (!gen.closed && gen.blockedBy === null && options.leaveChannelOpen !== true) {
      await closeChannel(gen.channel);
    }
    gen.counting = false;
  }

  // Ctrl-C while waiting for the broker counts too: the account may then be incomplete.
  result.interrupted = stopping();
  result.blockedBy = gen.blockedBy;
  // Owed: what the last channel never answered, and what a lost one never answered and was not
  // sent again (the broker may have either). A message read from the source but never published
  // (its connection went while it was being read) is not counted at all.
  if (options.confirm) {
    result.unconfirmed += gen.inFlight.size + backlog.filter((message) => message.sends > 0).length;
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
