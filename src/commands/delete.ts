import { deleteQueueCounting, findQueue } from '../amqp/queue.js';
import type { ConnectionSettings } from '../config/connection.js';
import { plural } from '../output/format.js';
import { brokerCloseOf } from './broker-close.js';
import { type CommandIo, writeLine } from './io.js';
import {
  type DeleteRequest,
  decideDelete,
  explainDeleteRefusal,
  explainUnsupported,
  missingQueueError,
} from './queue-admin.js';
import { withSession } from './with-session.js';

export type DeleteOptions = DeleteRequest;

/**
 * `qtool delete`: deletes the queue, refusing one with consumers or messages unless --force (or
 * the protocol's --if-unused / --if-empty, where the broker decides). The broker happily
 * "deletes" a missing queue, so qtool checks first and says it does not exist.
 */
export async function runDelete(
  settings: ConnectionSettings,
  options: DeleteOptions,
  io: CommandIo,
): Promise<number> {
  const queue = settings.queue;
  return withSession(settings, 'delete', async (session) => {
    const figures = await findQueue(session.model, queue);
    if (figures === null) throw missingQueueError(queue, settings.vhost);
    const decision = decideDelete(queue, figures, options);
    if (decision.kind === 'refuse') throw decision.error;

    let deleted: number;
    try {
      deleted = await deleteQueueCounting(session.model, queue, decision.conditions);
    } catch (error) {
      const close = await brokerCloseOf(error, session);
      throw (
        explainDeleteRefusal(queue, close, figures) ??
        explainUnsupported(
          queue,
          '--if-unused and --if-empty',
          close,
          'Leave them out: without --force, qtool itself refuses to delete a queue that has consumers or messages.',
        ) ??
        error
      );
    }
    writeLine(
      io.stdout,
      deleted === 0
        ? `deleted queue '${queue}' (it had no ready messages)`
        : `deleted queue '${queue}' and its ${plural(deleted, 'message')}`,
    );
    if (figures.consumerCount > 0) {
      writeLine(
        io.stderr,
        `the broker cancelled its ${plural(figures.consumerCount, 'consumer')}; they print that the queue was deleted`,
      );
    }
    return 0;
  });
}
