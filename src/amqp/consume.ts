import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { type CloseOutcome, closeChannel, requestBounded } from './close.js';

export type { ConsumeMessage } from 'amqplib';
export type { CloseOutcome } from './close.js';

export interface ConsumerOptions {
  /** Auto-ack: the broker forgets a message as soon as it sends it. */
  noAck: boolean;
  /** basic.qos prefetch per consumer; undefined leaves the broker's default (unlimited). */
  prefetch?: number | undefined;
}

/** Why a consumer stopped without being asked to. */
export type ConsumerStop =
  | { kind: 'cancelled-by-broker' } // the queue was deleted, or the broker cancelled us
  | { kind: 'channel-closed'; error: unknown };

export interface Consumer {
  readonly channel: Channel;
  /** Resolves when the broker ends the consumer or its channel; never rejects. */
  readonly stopped: Promise<ConsumerStop>;
  /**
   * Acks one message. False when it could not be sent (the channel is closed or closing): then the
   * broker has it back, or will, and delivers it again. Never throws.
   */
  ack(message: ConsumeMessage): boolean;
  /**
   * Acks this message and every earlier unacked one on the channel (basic.ack multiple). False
   * when the channel was closed already: then nothing was sent, and the broker requeues them.
   */
  ackUpTo(message: ConsumeMessage): boolean;
  /** basic.nack with requeue: the broker redelivers it, usually to another consumer. False when not sent. */
  requeue(message: ConsumeMessage): boolean;
  /**
   * Stops new deliveries; messages already delivered stay ours to ack. Waits a few seconds at
   * most; only `closed` (the broker's CancelOk) proves every delivery before it has arrived.
   */
  cancel(): Promise<CloseOutcome>;
  /**
   * Closes the channel: anything unacknowledged goes back to the queue. Waits a few seconds at
   * most; only `closed` (the broker's CloseOk) proves that the acks sent before reached it.
   */
  close(): Promise<CloseOutcome>;
}

/**
 * Starts a consumer on its own channel. Per-consumer QoS (global=false), because RabbitMQ 4.3
 * refuses global QoS and per-consumer prefetch is what fair dispatch needs anyway.
 */
export async function startConsumer(
  model: ChannelModel,
  queue: string,
  options: ConsumerOptions,
  /** Gets the consumer too: deliveries can arrive before startConsumer's promise resolves. */
  onMessage: (message: ConsumeMessage, consumer: Consumer) => void,
): Promise<Consumer> {
  const channel = await model.createChannel();
  let closedByUs = false;
  let reportStop: (stop: ConsumerStop) => void = () => {};
  const stopped = new Promise<ConsumerStop>((resolve) => {
    reportStop = resolve;
  });
  let channelError: unknown;
  channel.on('error', (error: unknown) => {
    channelError = error;
  });
  let channelClosed = false;
  channel.on('close', () => {
    channelClosed = true;
    if (!closedByUs) reportStop({ kind: 'channel-closed', error: channelError });
  });
  // amqplib throws on a closed channel. An ack or nack that can no longer be sent changes nothing:
  // the broker has already put every unacknowledged message of that channel back in the queue.
  // A channel that is closing (its close sent, not yet confirmed) throws too: caught here so an ack
  // in a promise chain cannot become an unhandled rejection.
  const unlessClosed = (send: () => void): boolean => {
    if (channelClosed || closedByUs) return false;
    try {
      send();
      return true;
    } catch {
      return false;
    }
  };

  let consumerTag: string | undefined;
  const consumer: Consumer = {
    channel,
    stopped,
    ack: (message) => unlessClosed(() => channel.ack(message)),
    ackUpTo: (message) => unlessClosed(() => channel.ack(message, true)),
    requeue: (message) => unlessClosed(() => channel.nack(message, false, true)),
    async cancel() {
      const tag = consumerTag;
      if (tag === undefined) return 'closed';
      return requestBounded(channel, 'cancelling a consumer', () => channel.cancel(tag));
    },
    close() {
      closedByUs = true;
      return closeChannel(channel);
    },
  };

  if (options.prefetch !== undefined) await channel.prefetch(options.prefetch, false);
  const reply = await channel.consume(
    queue,
    (message) => {
      // amqplib hands over null when the broker cancels the consumer (e.g. the queue was deleted).
      if (message === null) reportStop({ kind: 'cancelled-by-broker' });
      else onMessage(message, consumer);
    },
    { noAck: options.noAck },
  );
  consumerTag = reply.consumerTag;
  return consumer;
}
