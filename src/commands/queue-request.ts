import {
  type QueueRequest,
  type QueueType,
  STREAM_CONSUMER_NOTE,
  STREAM_CONSUMER_RULE,
} from '../amqp/queue-type.js';
import { UsageError } from '../errors.js';

/**
 * Usage checks on --durable / --no-durable / --queue-type that hold for every command, made
 * before connecting: the broker would refuse these only later, and less clearly.
 */

/** Quorum queues and streams are replicated logs on disk: RabbitMQ has no non-durable kind. */
export function checkQueueRequest(request: QueueRequest): void {
  const { type } = request;
  if ((type === 'quorum' || type === 'stream') && request.durability === 'non-durable') {
    throw new UsageError(
      `--no-durable cannot go with --queue-type ${type}: ${type} queues are always durable (leave out --no-durable, or use --queue-type classic)`,
    );
  }
}

/** How a consumer would read: manual acks or auto-ack, and its prefetch window. */
export interface ConsumerMode {
  manualAck: boolean;
  prefetch: number | undefined;
}

/**
 * RabbitMQ serves a stream only to a consumer with manual acks and a prefetch window (basic.qos):
 * it refuses one without a window (406), and closes the whole connection over an auto-ack one
 * (540). qtool does not pick these for the user, since they change how the worker reads; it says
 * which flags to add. A stream keeps its messages whether acked or not: the acks only make room
 * in the window.
 */
export function checkStreamConsumer(type: QueueType | undefined, mode: ConsumerMode): void {
  if (type !== 'stream' || (mode.manualAck && mode.prefetch !== undefined)) return;
  const missing = [
    mode.manualAck ? null : '--acknowledge',
    mode.prefetch === undefined ? '--prefetch n' : null,
  ]
    .filter((flag) => flag !== null)
    .join(' and ');
  throw new UsageError(
    `reading a stream needs ${missing}: ${STREAM_CONSUMER_RULE}`,
    `Add ${missing} (e.g. --acknowledge --prefetch 100). ${STREAM_CONSUMER_NOTE}`,
  );
}
