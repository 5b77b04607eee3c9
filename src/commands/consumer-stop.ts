import { letPendingIoRun } from '../amqp/connect.js';
import type { ConsumerStop } from '../amqp/consume.js';
import { findQueue } from '../amqp/queue.js';
import type { Session } from '../amqp/session.js';
import { QtoolError } from '../errors.js';

/** A consumer the broker ended, explained, and whether its queue is gone. */
export interface ExplainedStop {
  error: unknown;
  /** True only when a look at the broker found the queue no longer there. */
  queueDeleted: boolean;
}

/**
 * Turns a consumer that the broker ended into the error worth showing. When the whole connection
 * went (a broker shutdown closes channels first, then the connection), the connection's story is
 * the one to tell, so give amqplib a turn to report it before deciding.
 */
export async function consumerStopError(
  stop: ConsumerStop,
  session: Session,
  queue: string,
): Promise<unknown> {
  return (await explainConsumerStop(stop, session, queue)).error;
}

/**
 * As consumerStopError, and tells whether the queue was deleted. A basic.cancel from the broker
 * means "the queue was deleted" only sometimes: a node that went down or a quorum queue's leader
 * moving cancel consumers too. So a passive declare on a fresh channel decides which it was.
 */
export async function explainConsumerStop(
  stop: ConsumerStop,
  session: Session,
  queue: string,
): Promise<ExplainedStop> {
  if (stop.kind === 'cancelled-by-broker') {
    const exists = await findQueue(session.model, queue).then(
      (figures) => figures !== null,
      () => undefined,
    );
    if (exists === false) {
      return {
        queueDeleted: true,
        error: new QtoolError(`queue '${queue}' was deleted, so the broker ended this consumer`, {
          hint: 'Declare it again (any qtool send or receive does) and restart.',
        }),
      };
    }
    if (exists === undefined && session.isLost()) return { queueDeleted: false, error: await session.lost };
    return {
      queueDeleted: false,
      error: new QtoolError(
        `the broker cancelled this consumer of queue '${queue}'${exists ? ', though the queue still exists' : ''}`,
        {
          hint: 'A broker node going down or a quorum queue changing its leader does that. Start the command again to consume anew.',
        },
      ),
    };
  }
  await letPendingIoRun();
  if (session.isLost()) return { queueDeleted: false, error: await session.lost };
  return { queueDeleted: false, error: stop.error ?? new QtoolError('the broker closed the channel') };
}
