import type { ChannelModel } from 'amqplib';

/**
 * The cluster name the broker announced in the AMQP handshake (RabbitMQ's `cluster_name` server
 * property; it defaults to the first node's name), or null when the server did not say.
 */
export function announcedClusterName(model: ChannelModel): string | null {
  const name = model.connection.serverProperties?.cluster_name;
  return typeof name === 'string' && name !== '' ? name : null;
}
