import type { ChannelModel, ConsumeMessage } from 'amqplib';
import { closeChannel } from './close.js';
import { type Consumer, startConsumer } from './consume.js';

/**
 * Declares send --wait's reply queue on this connection and consumes it, auto-ack (a reply is
 * read once; should this sender die, nobody else wants it). Exclusive: private to this connection
 * and deleted with it by the broker, so a sender that is gone leaves nothing behind. The name is
 * the client's own (the broker reserves `amq.` for names it makes up), so that after a reconnect
 * the same queue can be declared again and a late reply still finds it.
 */
export async function listenForReplies(
  model: ChannelModel,
  queue: string,
  onReply: (message: ConsumeMessage) => void,
): Promise<Consumer> {
  const channel = await model.createChannel();
  channel.on('error', () => {});
  try {
    await channel.assertQueue(queue, { exclusive: true, durable: false, autoDelete: false });
  } finally {
    await closeChannel(channel);
  }
  return startConsumer(model, queue, { noAck: true }, (message) => onReply(message));
}
