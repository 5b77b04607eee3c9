import type { MessageProperties } from 'amqplib';
import type { JobPublisher } from '../amqp/job-queues.js';

/** The queue a message asks its result to be sent to, if any. */
export function replyToOf(props: MessageProperties): string | undefined {
  return typeof props.replyTo === 'string' && props.replyTo !== '' ? props.replyTo : undefined;
}

/**
 * Sends a worker's result to the message's reply_to, as RabbitMQ's RPC tutorial does: through the
 * default exchange, correlation id = the request's (or, without one, its message id). Resolves
 * once the broker confirmed it. Not mandatory: a reply whose queue is gone (the sender gave up) is
 * dropped by the broker and must not stop the worker.
 */
export async function publishReply(
  publisher: JobPublisher,
  props: MessageProperties,
  body: Buffer,
  headers: Record<string, unknown>,
): Promise<void> {
  const replyTo = replyToOf(props);
  if (replyTo === undefined) return;
  const correlationId =
    typeof props.correlationId === 'string' && props.correlationId !== ''
      ? props.correlationId
      : typeof props.messageId === 'string' && props.messageId !== ''
        ? props.messageId
        : undefined;
  await publisher.publish(replyTo, body, {
    ...(correlationId === undefined ? {} : { correlationId }),
    headers,
  });
}
