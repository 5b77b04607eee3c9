import { letPendingIoRun } from '../amqp/connect.js';
import { type BrokerClose, parseBrokerClose } from '../amqp/explain.js';
import type { Session } from '../amqp/session.js';

/**
 * The broker close behind a failed operation: the channel's own (404, 406), or the connection's
 * when the broker closed that instead (540 NOT_IMPLEMENTED), in which case the operation itself
 * only sees "Channel ended"; amqplib gets a turn to report the connection's close first.
 */
export async function brokerCloseOf(error: unknown, session: Session): Promise<BrokerClose | null> {
  const own = parseBrokerClose(error);
  if (own) return own;
  await letPendingIoRun();
  return session.isLost() ? parseBrokerClose((await session.lost).cause) : null;
}
