import type { EventEmitter } from 'node:events';
import type { Channel, ChannelModel } from 'amqplib';
import { letPendingIoRun } from './connect.js';

/**
 * How long qtool waits for the broker to answer a close or a cancel. RabbitMQ answers these at
 * once; no answer within a few seconds means the connection is stuck (a frozen broker, a dead
 * network path that TCP has not noticed yet), and waiting longer only hangs the command.
 */
export const BROKER_REPLY_TIMEOUT_MS = 5_000;

/**
 * - `closed`: the broker confirmed (CloseOk). Everything sent before on that channel, acks
 *   included, reached it.
 * - `ended`: the channel or connection ended without the broker's confirmation (it was lost
 *   mid-close, or was already closed).
 * - `timed-out`: no answer in time; qtool dropped the connection.
 */
export type CloseOutcome = 'closed' | 'ended' | 'timed-out';

/** The error a dropped connection reports; explainAmqpError turns it into the user's message. */
export class NoReplyError extends Error {
  override readonly name = 'NoReplyError';
  readonly code = 'QTOOL_NO_REPLY';
  constructor(
    /** What qtool was waiting for, e.g. "closing a channel". */
    readonly waitingFor: string,
    readonly timeoutMs: number,
  ) {
    super(`no reply from the broker within ${timeoutMs} ms while ${waitingFor}`);
  }
}

/**
 * Closes a channel without waiting forever. amqplib settles channel.close() only on CloseOk: when
 * the connection dies mid-close it never settles, and when nothing else keeps Node busy the
 * process ends with exit 13 and no message. On a time-out the whole connection is dropped, because
 * a broker that does not answer a channel close will not answer anything else either.
 */
export function closeChannel(channel: Channel, timeoutMs = BROKER_REPLY_TIMEOUT_MS): Promise<CloseOutcome> {
  return settleBounded(
    channel,
    () => channel.close(),
    timeoutMs,
    () => dropConnection(connectionOf(channel), new NoReplyError('closing a channel', timeoutMs)),
  );
}

/** Closes a connection without waiting forever; on a time-out the socket is dropped. */
export function closeConnection(
  model: ChannelModel,
  timeoutMs = BROKER_REPLY_TIMEOUT_MS,
): Promise<CloseOutcome> {
  return settleBounded(
    model,
    () => model.close(),
    timeoutMs,
    () => dropConnection(model.connection, new NoReplyError('closing the connection', timeoutMs)),
  );
}

/**
 * Sends one request on a channel (e.g. basic.cancel) and waits for its reply, for the channel to
 * end, or for the time-out, whichever comes first; on a time-out the connection is dropped.
 * `closed` means the broker replied; the request's own failure settles it as `ended`.
 */
export function requestBounded(
  channel: Channel,
  what: string,
  request: () => Promise<unknown>,
  timeoutMs = BROKER_REPLY_TIMEOUT_MS,
): Promise<CloseOutcome> {
  return settleBounded(channel, request, timeoutMs, () =>
    dropConnection(connectionOf(channel), new NoReplyError(what, timeoutMs)),
  );
}

function settleBounded(
  target: EventEmitter,
  start: () => Promise<unknown>,
  timeoutMs: number,
  onTimeout: () => Promise<void>,
): Promise<CloseOutcome> {
  return new Promise<CloseOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: CloseOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      target.off('close', onClose);
      resolve(outcome);
    };
    // amqplib emits 'close' synchronously just after settling a confirmed close, before that
    // promise's callbacks run: wait a turn, so a confirmed close is not mistaken for a lost one.
    const onClose = () => setImmediate(() => finish('ended'));
    target.on('close', onClose);
    const timer = setTimeout(async () => {
      // After a busy event loop the timer can fire before the socket is read: let the reply
      // that may already be waiting there arrive first.
      await letPendingIoRun();
      if (settled) return;
      finish('timed-out');
      await onTimeout();
    }, timeoutMs);
    start().then(
      () => finish('closed'),
      // Rejected at once: it was already closed or closing, so no confirmation will come.
      () => finish('ended'),
    );
  });
}

/** amqplib's connection object: the socket it reads from is not in its public types. */
interface ConnectionInternals {
  stream?: { destroy(error?: Error): void; destroyed?: boolean };
}

function connectionOf(channel: Channel): unknown {
  return (channel as unknown as { connection?: unknown }).connection;
}

/**
 * Destroys the socket with `reason`: amqplib reports it as the connection's error and closes
 * every channel, heartbeat timers included, so nothing waits on a stuck broker any more and
 * the process can exit. The connection's owner (openSession) listens for that 'error'.
 */
async function dropConnection(connection: unknown, reason: Error): Promise<void> {
  const stream = (connection as ConnectionInternals | undefined)?.stream;
  if (stream === undefined || stream.destroyed === true) return;
  stream.destroy(reason);
  // The socket reports its error on the next tick; amqplib then closes the connection.
  await letPendingIoRun();
}
