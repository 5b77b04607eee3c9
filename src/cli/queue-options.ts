import { type Command, Option } from 'commander';
import type { DurabilityRequest } from '../amqp/queue.js';
import { QUEUE_TYPES, type QueueType } from '../amqp/queue-type.js';
import { type ConsumerMode, checkQueueRequest, checkStreamConsumer } from '../commands/queue-request.js';

/**
 * --durable, --no-durable and --queue-type, worded once for every command that may create the
 * queue (send, receive, qprocessor, declare): each says what a created queue gets, and that an
 * existing queue is checked only against what was asked for.
 */
export function addQueueOptions(command: Command): Command {
  return command
    .option('--durable', 'a queue qtool creates is durable (the default); stop if the existing one is not')
    .option(
      '--no-durable',
      'create a non-durable classic queue (refused by RabbitMQ 4.3+); stop if the existing one is durable',
    )
    .addOption(
      new Option(
        '--queue-type <type>',
        "type of a queue qtool creates (x-queue-type; default: the broker's, classic); quorum and stream are always durable; stop if the existing one has another type",
      ).choices(QUEUE_TYPES),
    );
}

/** The queue flags as the commands take them. */
export interface QueueOptions {
  durability: DurabilityRequest;
  queueType: QueueType | undefined;
}

/**
 * The queue flags as given. Refuses, as usage errors before connecting, what no broker accepts:
 * a non-durable quorum queue or stream, and for a consumer (`consumer` given) reading a stream
 * named by --queue-type in a way the broker does not serve.
 */
export function queueOptions(
  options: { durable?: boolean; queueType?: QueueType },
  consumer?: ConsumerMode,
): QueueOptions {
  const durability: DurabilityRequest =
    options.durable === undefined ? 'unspecified' : options.durable ? 'durable' : 'non-durable';
  checkQueueRequest({ durability, type: options.queueType });
  if (consumer !== undefined) checkStreamConsumer(options.queueType, consumer);
  return { durability, queueType: options.queueType };
}
