import type { Channel, ChannelModel } from 'amqplib';
import { closeChannel } from './close.js';
import { parseBrokerClose } from './explain.js';

/** What a passive declare tells about a queue: all AMQP itself can say. */
export interface QueueProbe {
  name: string;
  /** Ready messages (not counting unacknowledged ones). */
  ready: number;
  consumers: number;
}

/**
 * Passive-declares each queue and returns its figures, or null for a queue that does not exist.
 * One channel serves every probe until a 404 closes it; then the next probe opens another.
 */
export async function probeQueues(
  model: ChannelModel,
  names: readonly string[],
): Promise<(QueueProbe | null)[]> {
  const results: (QueueProbe | null)[] = [];
  let channel: Channel | null = null;
  try {
    for (const name of names) {
      if (channel === null) {
        channel = await model.createChannel();
        // Without a listener, the 404's channel close would be thrown as an unhandled 'error' event.
        channel.on('error', () => {});
      }
      try {
        const reply = await channel.checkQueue(name);
        results.push({ name, ready: reply.messageCount, consumers: reply.consumerCount });
      } catch (error) {
        // Anything else is left raw, so withSession can tell a lost connection's story instead.
        if (parseBrokerClose(error)?.replyCode !== 404) throw error;
        results.push(null);
        channel = null; // the broker closed it
      }
    }
  } finally {
    if (channel !== null) await closeChannel(channel);
  }
  return results;
}
