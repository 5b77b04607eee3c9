import { EventEmitter } from 'node:events';
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { startConsumer } from '../../src/amqp/consume.js';

/** A channel that records acks and, once told, throws as amqplib does on a closing channel. */
function fakeModel() {
  const channel = Object.assign(new EventEmitter(), {
    acked: [] as number[],
    closing: false,
    prefetch: async () => {},
    consume: async () => ({ consumerTag: 'tag-1' }),
    ack(message: ConsumeMessage) {
      if (channel.closing) throw new Error('Channel closing');
      channel.acked.push(message.fields.deliveryTag);
    },
    nack() {
      if (channel.closing) throw new Error('Channel closing');
    },
  });
  const model = { createChannel: async () => channel } as unknown as ChannelModel;
  return { model, channel };
}

const message = (deliveryTag: number) => ({ fields: { deliveryTag } }) as unknown as ConsumeMessage;

describe('Consumer.ack', () => {
  it('returns true when it sent the ack', async () => {
    const { model, channel } = fakeModel();
    const consumer = await startConsumer(model, 'q', { noAck: false }, () => {});
    expect(consumer.ack(message(1))).toBe(true);
    expect(channel.acked).toEqual([1]);
  });

  it('returns false, and does not throw, on a closing channel (amqplib throws there)', async () => {
    const { model, channel } = fakeModel();
    const consumer = await startConsumer(model, 'q', { noAck: false }, () => {});
    channel.closing = true;
    expect(() => consumer.ack(message(2))).not.toThrow();
    expect(consumer.ack(message(2))).toBe(false);
    expect(consumer.requeue(message(2))).toBe(false);
  });

  it('returns false on a closed channel', async () => {
    const { model, channel } = fakeModel();
    const consumer = await startConsumer(model, 'q', { noAck: false }, () => {});
    channel.emit('close');
    expect(consumer.ack(message(3))).toBe(false);
    expect(channel.acked).toEqual([]);
  });
});
