import { type EnsuredQueue, inspectExistingQueue } from '../amqp/queue.js';
import { announcedServer } from '../amqp/server-identity.js';
import type { Session } from '../amqp/session.js';
import { deliveryLimitNotice } from '../worker/delivery-limit.js';
import type { AckMode } from '../worker/policy.js';

/**
 * qprocessor's word on the delivery limit, for a quorum queue read with manual acks (with auto-ack
 * nothing ever goes back to the queue, so no limit can apply). The type comes from ensureQueue when
 * it knows it, else from inspectExistingQueue; when neither can tell, nothing is said rather than
 * a guess.
 */
export async function deliveryLimitNoticeFor(
  session: Session,
  queue: EnsuredQueue,
  ackMode: AckMode,
): Promise<string | undefined> {
  if (ackMode !== 'manual') return undefined;
  const type = queue.type ?? (await inspectExistingQueue(session.model, queue.name)).type;
  return type === 'quorum' ? deliveryLimitNotice(queue.name, announcedServer(session.model)) : undefined;
}
