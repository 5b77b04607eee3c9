import { findQueue, type PeekedMessage, peekMessages } from '../amqp/queue.js';
import { bodyForJson } from '../body.js';
import type { ConnectionSettings } from '../config/connection.js';
import { plural } from '../output/format.js';
import { brokerCloseOf } from './broker-close.js';
import { type CommandIo, writeLine } from './io.js';
import { explainUnsupported, missingQueueError } from './queue-admin.js';
import { withSession } from './with-session.js';

export interface PeekOptions {
  /** How many messages from the head of the queue to show. */
  count: number;
  json: boolean;
}

/**
 * `qtool peek`: shows the first messages of a queue without taking them. They are fetched with
 * manual ack and all put back before anything is printed, so even `qtool peek | head -1` leaves
 * the queue as it was, except that the broker now marks them redelivered.
 */
export async function runPeek(
  settings: ConnectionSettings,
  options: PeekOptions,
  io: CommandIo,
): Promise<number> {
  const queue = settings.queue;
  return withSession(settings, 'peek', async (session) => {
    const figures = await findQueue(session.model, queue);
    if (figures === null) throw missingQueueError(queue, settings.vhost);

    let messages: PeekedMessage[];
    try {
      messages = await peekMessages(session.model, queue, options.count);
    } catch (error) {
      const close = await brokerCloseOf(error, session);
      if (close?.replyCode === 404) throw missingQueueError(queue, settings.vhost);
      throw (
        explainUnsupported(
          queue,
          'peeking (basic.get)',
          close,
          'A stream is read by consumers from an offset (x-stream-offset), never taken with basic.get.',
        ) ?? error
      );
    }

    const last = messages.at(-1);
    if (last === undefined) {
      const held =
        figures.consumerCount > 0
          ? ` (its ${plural(figures.consumerCount, 'consumer')} may hold messages not yet acknowledged; those cannot be peeked at)`
          : '';
      writeLine(io.stderr, `queue '${queue}' is empty: no ready message to peek at${held}`);
      return 0;
    }
    for (const message of messages) {
      writeLine(
        io.stdout,
        options.json ? JSON.stringify(jsonRecord(queue, message)) : message.content.toString(),
      );
    }
    const ready = messages.length + last.fields.messageCount;
    writeLine(
      io.stderr,
      `peeked at ${messages.length === ready ? `all ${plural(ready, 'ready message')}` : `the first ${messages.length} of ${plural(ready, 'ready message')}`} in queue '${queue}'; ` +
        'they are back in the queue in the same order, but the broker now marks them redelivered.',
    );
    return 0;
  });
}

/** The same record as `qtool receive --json`, so scripts can read either. */
function jsonRecord(queue: string, message: PeekedMessage) {
  return {
    queue,
    ...bodyForJson(message.content),
    redelivered: message.fields.redelivered,
    deliveryTag: message.fields.deliveryTag,
    properties: Object.fromEntries(
      Object.entries(message.properties as unknown as Record<string, unknown>).filter(
        ([, value]) => value !== undefined,
      ),
    ),
    receivedAt: new Date().toISOString(),
  };
}
