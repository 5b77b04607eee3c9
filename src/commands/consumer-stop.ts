import { letPendingIoRun } from '../amqp/connect.js';
import { parseBrokerClose } from '../amqp/explain.js';
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
 * What a consumer that the broker ended can do next: `connection` when the connection is gone
 * (reconnect), `channel` when the connection is fine and consuming again makes sense (a quorum
 * queue's leader moved, a node went down, the consumer timeout closed the channel), `none` when
 * it would fail the same way again (the queue was deleted, permissions, a refused argument).
 */
export type ConsumerRetry = 'connection' | 'channel' | 'none';

export function consumerRetry(stop: ConsumerStop, explained: ExplainedStop, session: Session): ConsumerRetry {
  if (session.isLost()) return 'connection';
  if (stop.kind === 'cancelled-by-broker') return explained.queueDeleted ? 'none' : 'channel';
  // RabbitMQ closes the channel of a consumer that held a message past consumer_timeout.
  const close = parseBrokerClose(stop.error);
  return close?.replyCode === 406 && /acknowledgement .* timed out|consumer_timeout/i.test(close.text)
    ? 'channel'
    : 'none';
}

/**
 * Turns a consumer that the broker ended into the error worth showing, and tells whether the queue
 * was deleted. When the whole connection went (a broker shutdown closes channels first, then the
 * connection), the connection's story is the one to tell. A basic.cancel from the broker
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
