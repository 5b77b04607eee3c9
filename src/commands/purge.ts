import { purgeQueueMessages } from '../amqp/queue.js';
import type { ConnectionSettings } from '../config/connection.js';
import { plural } from '../output/format.js';
import { brokerCloseOf } from './broker-close.js';
import { type CommandIo, writeLine } from './io.js';
import { explainUnsupported, missingQueueError } from './queue-admin.js';
import { withSession } from './with-session.js';

/**
 * `qtool purge`: removes every ready message from the queue and says how many. Messages that
 * consumers hold unacknowledged are not ready, so they survive (and return if not acked).
 */
export async function runPurge(settings: ConnectionSettings, io: CommandIo): Promise<number> {
  const queue = settings.queue;
  return withSession(settings, 'purge', async (session) => {
    let removed: number;
    try {
      removed = await purgeQueueMessages(session.model, queue);
    } catch (error) {
      const close = await brokerCloseOf(error, session);
      if (close?.replyCode === 404) throw missingQueueError(queue, settings.vhost);
      throw (
        explainUnsupported(
          queue,
          'purging',
          close,
          'A stream drops old messages by its retention (x-max-length-bytes, x-max-age); delete it to start afresh.',
        ) ?? error
      );
    }
    writeLine(io.stdout, `purged ${plural(removed, 'message')} from queue '${queue}'`);
    return 0;
  });
}
