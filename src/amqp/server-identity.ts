import type { ChannelModel } from 'amqplib';

/**
 * The cluster name the broker announced in the AMQP handshake (RabbitMQ's `cluster_name` server
 * property; it defaults to the first node's name), or null when the server did not say.
 */
export function announcedClusterName(model: ChannelModel): string | null {
  const name = model.connection.serverProperties?.cluster_name;
  return typeof name === 'string' && name !== '' ? name : null;
}

/** The broker's product and version as it announced them in the AMQP handshake. */
export interface ServerIdentity {
  /** `RabbitMQ`, or another broker's name; null when not said. */
  product: string | null;
  /** `3.10.8`, `4.0.9`, ...; null when not said. */
  version: string | null;
}

export function announcedServer(model: ChannelModel): ServerIdentity {
  const properties = model.connection.serverProperties;
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
  return { product: text(properties?.product), version: text(properties?.version) };
}
