import type { ConsumeMessage } from 'amqplib';

/**
 * A quorum queue's count of this message's earlier deliveries that did not end in an ack, from its
 * x-delivery-count header; null when the broker sent none. Classic queues and streams never send
 * it, and quorum queues (RabbitMQ 3.10 and 4.x alike) only from a redelivery on. Up to RabbitMQ
 * 4.2 it counts every return to the queue; from 4.3 only failed ones (a reject, a consumer lost
 * with the message), not a nack with requeue (4.3 counts those in x-acquired-count instead).
 */
export function deliveryCountOf(message: Pick<ConsumeMessage, 'properties'>): number | null {
  const value: unknown = message.properties.headers?.['x-delivery-count'];
  const count = typeof value === 'bigint' ? Number(value) : value;
  return typeof count === 'number' && Number.isSafeInteger(count) && count >= 0 ? count : null;
}

/** `{deliveryCount}` for a `--json` record when the broker sent one, else nothing: classic queues stay as they were. */
export function deliveryCountField(
  message: Pick<ConsumeMessage, 'properties'>,
): { deliveryCount: number } | Record<string, never> {
  const count = deliveryCountOf(message);
  return count === null ? {} : { deliveryCount: count };
}
