import { letPendingIoRun } from '../amqp/connect.js';
import type { ConsumerStop } from '../amqp/consume.js';
import type { Session } from '../amqp/session.js';
import { QtoolError } from '../errors.js';

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
  if (stop.kind === 'cancelled-by-broker') {
    return new QtoolError(`queue '${queue}' was deleted, so the broker ended this consumer`, {
      hint: 'Declare it again (any qtool send or receive does) and restart.',
    });
  }
  await letPendingIoRun();
  if (session.isLost()) return session.lost;
  return stop.error ?? new QtoolError('the broker closed the channel');
}
