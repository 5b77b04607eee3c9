import type { ChannelModel, GetMessage, Options } from 'amqplib';
import { closeChannel } from './close.js';

export interface MoveOptions {
  /** Which of the messages looked at to move; the others go back to where they were. */
  select: (message: GetMessage) => boolean;
  /** Stop after the first message moved (an id names one). */
  firstOnly: boolean;
  /** Look at no more than this many (the count when it started: messages failing anew wait). */
  limit: number;
  /** The headers the moved copy carries. */
  headers: (message: GetMessage) => Record<string, unknown>;
}

export interface MoveResult {
  /** Messages taken off `from` to look at. */
  looked: number;
  /** Published to `to`, confirmed there, then acked off `from`. */
  moved: number;
  /** Why moving stopped early (the broker returned or refused a copy), if it did. */
  problem: 'unroutable' | 'nacked' | null;
}

/**
 * Moves messages from one queue to another through the default exchange, one at a time on a
 * confirm channel: each copy is published (mandatory), and only once the broker confirmed it
 * routed to `to` is the original acked. A crash in between leaves both (at-least-once), never
 * neither. The ones not selected are nacked back in place at the end, as peek does. The copy keeps
 * the original's body and properties, except `expiration` (the broker drops it on dead-lettering;
 * a copy should not expire where the original did not) and `userId` (the broker checks it against
 * the connection's user).
 */
export async function moveMessages(
  model: ChannelModel,
  from: string,
  to: string,
  options: MoveOptions,
): Promise<MoveResult> {
  const channel = await model.createConfirmChannel();
  channel.on('error', () => {});
  let returned = false;
  channel.on('return', () => {
    returned = true;
  });
  const result: MoveResult = { looked: 0, moved: 0, problem: null };
  let skipped = 0;
  try {
    while (result.looked < options.limit) {
      const message = await channel.get(from, { noAck: false });
      if (message === false) break;
      result.looked += 1;
      if (!options.select(message)) {
        skipped += 1;
        continue;
      }
      returned = false;
      const confirmed = await new Promise<boolean>((resolve) => {
        channel.publish('', to, message.content, copyOptions(message, options.headers(message)), (error) =>
          resolve(error === null || error === undefined),
        );
      });
      // The broker returns an unroutable message before it confirms it: the copy reached no queue.
      if (!confirmed || returned) {
        result.problem = confirmed ? 'unroutable' : 'nacked';
        skipped += 1;
        break;
      }
      channel.ack(message);
      result.moved += 1;
      if (options.firstOnly) break;
    }
    if (skipped > 0) channel.nackAll(true);
  } finally {
    // Closing also puts back anything still unacknowledged, whatever went wrong above.
    await closeChannel(channel);
  }
  return result;
}

function copyOptions(message: GetMessage, headers: Record<string, unknown>): Options.Publish {
  const { properties } = message;
  const options: Options.Publish = { mandatory: true, headers };
  if (properties.deliveryMode !== undefined) options.deliveryMode = properties.deliveryMode;
  if (properties.contentType !== undefined) options.contentType = properties.contentType;
  if (properties.contentEncoding !== undefined) options.contentEncoding = properties.contentEncoding;
  if (properties.priority !== undefined) options.priority = properties.priority;
  if (properties.correlationId !== undefined) options.correlationId = properties.correlationId;
  if (properties.replyTo !== undefined) options.replyTo = properties.replyTo;
  if (properties.messageId !== undefined) options.messageId = properties.messageId;
  if (properties.timestamp !== undefined) options.timestamp = properties.timestamp;
  if (properties.type !== undefined) options.type = properties.type;
  if (properties.appId !== undefined) options.appId = properties.appId;
  return options;
}
