import { deliveryCountField, deliveryCountOf } from '../amqp/delivery-count.js';
import { findQueue, inspectExistingQueue, type PeekedMessage, peekMessages } from '../amqp/queue.js';
import type { QueueType } from '../amqp/queue-type.js';
import { announcedServer, type ServerIdentity } from '../amqp/server-identity.js';
import { bodyForJson } from '../body.js';
import type { ConnectionSettings } from '../config/connection.js';
import { QtoolError } from '../errors.js';
import { plural } from '../output/format.js';
import { type NackReturnCost, nackReturnCost, rabbitmqVersion } from '../worker/delivery-limit.js';
import { brokerCloseOf } from './broker-close.js';
import { type CommandIo, writeLine } from './io.js';
import { explainUnsupported, missingQueueError } from './queue-admin.js';
import { withSession } from './with-session.js';

export interface PeekOptions {
  /** How many messages from the head of the queue to show. */
  count: number;
  json: boolean;
  /** Peek even where each peek counts toward a quorum queue's default delivery limit. */
  force: boolean;
}

/**
 * `qtool peek`: shows the first messages of a queue without taking them. They are fetched with
 * manual ack and all put back before anything is printed, so even `qtool peek | head -1` leaves
 * a classic queue as it was, except that the broker now marks them redelivered. A quorum queue
 * may reorder what comes back (3.10 puts it last, 4.0 first but behind earlier returns) and may
 * count the return (see nackReturnCost): where that brings the messages closer to being dropped
 * by default, peek refuses unless --force, and says how often they have come back.
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
    const server = announcedServer(session.model);
    // Where qtool cannot tell the type (no configure permission) it peeks as at a classic queue;
    // the messages' own x-delivery-count then gives a quorum queue away, for the summary.
    const { type } = await inspectExistingQueue(session.model, queue);
    const cost = nackReturnCost(server);
    checkPeekAllowed(queue, type, server, options.force);

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
    const quorum =
      type === 'quorum' || (type === null && messages.some((message) => deliveryCountOf(message) !== null));
    const ready = messages.length + last.fields.messageCount;
    writeLine(
      io.stderr,
      `peeked at ${messages.length === ready ? `all ${plural(ready, 'ready message')}` : `the first ${messages.length} of ${plural(ready, 'ready message')}`} in queue '${queue}'; ` +
        (quorum
          ? `they are back in the queue, though a quorum queue may not keep their order${behindTheOthers(server)}, and the broker now marks them redelivered${returnsCounted(messages, cost)}.`
          : 'they are back in the queue in the same order, but the broker now marks them redelivered.'),
    );
    return 0;
  });
}

/**
 * Refuses, unless forced, to peek at a quorum queue where the broker counts every return toward
 * its default delivery limit (RabbitMQ 4.0 to 4.2): each peek brings the messages closer to being
 * dropped. `qtool failed` peeks the same way, so it shares this.
 */
export function checkPeekAllowed(
  queue: string,
  type: QueueType | null,
  server: ServerIdentity,
  force: boolean,
): void {
  if (type !== 'quorum' || nackReturnCost(server) !== 'limit' || force) return;
  const broker =
    server.version === null ? 'this broker' : `${server.product ?? 'the broker'} ${server.version}`;
  throw new QtoolError(
    `queue '${queue}' is a quorum queue, and ${broker} counts every return of a message toward its delivery limit (20 by default): each peek brings the messages it shows one return closer to being dropped or dead-lettered`,
    {
      hint: 'Run again with --force to peek anyway; qtool then says how often they have come back. RabbitMQ 4.3 and later do not count a peek.',
    },
  );
}

/** Where RabbitMQ 3.x (seen on 3.10) puts a returned message: at the back of the queue. */
function behindTheOthers(server: ServerIdentity): string {
  return rabbitmqVersion(server)?.major === 3
    ? ` (RabbitMQ ${server.version} puts them behind the others)`
    : '';
}

/**
 * What a quorum queue counted for putting them back, for the summary: nothing where a nack is
 * free. The most returned message's count is the one it carried plus this peek's return.
 */
function returnsCounted(messages: PeekedMessage[], cost: NackReturnCost): string {
  const counts = messages.map((message) => deliveryCountOf(message) ?? 0);
  const most = Math.max(...counts) + 1;
  const times = most === 1 ? 'once' : `${most} times`;
  if (cost === 'limit') {
    const gone =
      most > 20
        ? ' (this one, under the default limit, is gone: dropped, or dead-lettered if the queue has a dead-letter exchange)'
        : '';
    return ` and counted one more return for each: the most returned has now come back ${times}${gone}; at its 21st return by default the broker drops it or dead-letters it`;
  }
  if (cost === 'count') {
    return ` and raised their x-delivery-count by one (the most returned: ${times}); that matters only if x-delivery-limit or a delivery-limit policy sets a limit`;
  }
  return '';
}

/** The same record as `qtool receive --json`, so scripts can read either. */
function jsonRecord(queue: string, message: PeekedMessage) {
  return {
    queue,
    ...bodyForJson(message.content),
    redelivered: message.fields.redelivered,
    ...deliveryCountField(message),
    deliveryTag: message.fields.deliveryTag,
    properties: Object.fromEntries(
      Object.entries(message.properties as unknown as Record<string, unknown>).filter(
        ([, value]) => value !== undefined,
      ),
    ),
    receivedAt: new Date().toISOString(),
  };
}
