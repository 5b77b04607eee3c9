import type { ServerIdentity } from '../amqp/server-identity.js';

/** RabbitMQ's major and minor version, or null for another broker or a version it cannot read. */
export function rabbitmqVersion(server: ServerIdentity): { major: number; minor: number } | null {
  if (server.product !== 'RabbitMQ' || server.version === null) return null;
  const match = /^(\d+)\.(\d+)/.exec(server.version);
  return match ? { major: Number(match[1]), minor: Number(match[2]) } : null;
}

const OTHER_LIMIT = "The queue's x-delivery-limit or a delivery-limit policy may set another limit";
const DROPPED = 'drops the message, or dead-letters it if the queue has a dead-letter exchange';

/**
 * What a worker that acks by hand should know about a quorum queue: the broker counts how often a
 * message comes back, and may drop it. RabbitMQ 3.x has no limit unless one is set; 4.0 sets 20
 * by default, counted against every return to the queue; 4.3 counts only failed deliveries, so a
 * nack with requeue (what --on-lose requeue sends) no longer brings a message closer to it.
 */
export function deliveryLimitNotice(queue: string, server: ServerIdentity): string {
  const version = rabbitmqVersion(server);
  const broker = `RabbitMQ ${server.version}`;
  const intro = `'${queue}' is a quorum queue:`;
  if (version === null) {
    return `${intro} the broker may drop or dead-letter a message that keeps coming back (RabbitMQ 4.0 and later: after 20 returns by default; 3.x: only with x-delivery-limit or a delivery-limit policy).`;
  }
  if (version.major < 4) {
    return `${intro} ${broker} sets no delivery limit by default, so a message comes back as often as it is requeued, unless x-delivery-limit or a delivery-limit policy sets one.`;
  }
  if (version.major === 4 && version.minor < 3) {
    return `${intro} ${broker} returns a message to it at most 20 times by default (a nack with requeue, or a worker that stops without acking it); at the 21st it ${DROPPED}. ${OTHER_LIMIT}.`;
  }
  return `${intro} ${broker} allows a message at most 20 failed deliveries by default (a reject, or a worker that stops without acking it; a nack with requeue, as --on-lose requeue sends, does not count); at the 21st it ${DROPPED}. ${OTHER_LIMIT}.`;
}
