import type { Channel, ChannelModel } from 'amqplib';
import { closeChannel } from './close.js';
import { type ErrorContext, explainAmqpError, parseBrokerClose } from './explain.js';
import {
  afterAcceptance,
  afterRefusal,
  FIRST_PROBE,
  type QueueInspection,
  type QueueType,
  queueMismatch,
  UNKNOWN_QUEUE,
} from './queue-type.js';

/** What the user said about durability: nothing, `--durable`, or `--no-durable`. */
export type DurabilityRequest = 'unspecified' | 'durable' | 'non-durable';

export interface EnsuredQueue {
  name: string;
  /** True when this call created the queue. */
  created: boolean;
  /**
   * The queue's type when this call learnt it: created with --queue-type, or checked because a
   * flag asked for something. Null otherwise (inspectExistingQueue can tell, at a cost).
   */
  type: QueueType | null;
}

/**
 * Makes sure the queue exists without ever dying on someone else's choice of flags:
 * - missing: declare it, durable unless `--no-durable`, with x-queue-type when `--queue-type` says;
 * - present: use it as it is, unless the user explicitly asked for a durability or a type it does
 *   not have, which are the conflicts worth stopping for (see queueMismatch).
 * Each probe runs on its own short-lived channel, because a failed declare closes the channel.
 * Quorum queues and streams are always durable: callers refuse `--no-durable` with them first.
 */
export async function ensureQueue(
  model: ChannelModel,
  name: string,
  durability: DurabilityRequest,
  context: ErrorContext,
  type?: QueueType,
): Promise<EnsuredQueue> {
  const durable = durability !== 'non-durable';
  if (!(await queueExists(model, name, context))) {
    const outcome = await tryOnChannel(model, (ch) =>
      ch.assertQueue(
        name,
        type === undefined ? { durable } : { durable, arguments: { 'x-queue-type': type } },
      ),
    );
    if (outcome.ok) return { name, created: true, type: type ?? null };
    // Someone created it in between with other flags: fall through and treat it as existing.
    if (parseBrokerClose(outcome.error)?.replyCode !== 406) throw explainAmqpError(outcome.error, context);
  }
  if (durability === 'unspecified' && type === undefined) return { name, created: false, type: null };

  const probe = await probeExistingQueue(model, name);
  if ('error' in probe) throw explainAmqpError(probe.error, context);
  const mismatch = queueMismatch(name, { durability, type }, probe);
  if (mismatch !== null) throw mismatch;
  // What qtool could not find out (an unusual argument) is not held against the queue: use it.
  return { name, created: false, type: probe.type };
}

/** What a broker restart does to a queue and to the messages in it. */
export type QueueDurability =
  /** A restart deletes the queue, and every message with it. */
  | 'non-durable'
  /** The queue survives a restart; of its messages, only the persistent ones (delivery mode 2). */
  | 'durable'
  /** Quorum queues and streams: the queue and every message survive, whatever the delivery mode. */
  | 'always-persistent'
  /** qtool could not tell. */
  | 'unknown';

/** What a broker restart does to an existing queue (see inspectExistingQueue). */
export async function existingQueueDurability(model: ChannelModel, name: string): Promise<QueueDurability> {
  return (await inspectExistingQueue(model, name)).durability;
}

/**
 * The type and durability of an existing queue, found by declaring it again as it is guessed to be
 * (see afterRefusal), each guess on a throwaway channel. Both unknown when the broker refuses for
 * another reason (no configure permission, another connection's exclusive queue).
 */
export async function inspectExistingQueue(model: ChannelModel, name: string): Promise<QueueInspection> {
  const probe = await probeExistingQueue(model, name);
  return 'error' in probe ? UNKNOWN_QUEUE : probe;
}

/** Enough guesses for every argument a queue type compares, and a bound should a broker differ. */
const MAX_PROBES = 20;

/** inspectExistingQueue, with a refusal that is not a 406 left raw for the caller to explain. */
async function probeExistingQueue(
  model: ChannelModel,
  name: string,
): Promise<QueueInspection | { error: unknown }> {
  let declaration = FIRST_PROBE;
  for (let attempt = 0; attempt < MAX_PROBES; attempt++) {
    const guess = declaration;
    const outcome = await tryOnChannel(model, (ch) =>
      ch.assertQueue(name, { durable: true, autoDelete: guess.autoDelete, arguments: guess.arguments }),
    );
    if (outcome.ok) return afterAcceptance(guess);
    const close = parseBrokerClose(outcome.error);
    if (close?.replyCode !== 406) return { error: outcome.error };
    const step = afterRefusal(guess, close.text);
    if (step.kind === 'found') return step.inspection;
    if (step.kind === 'unknown') return UNKNOWN_QUEUE;
    declaration = step.declaration;
  }
  return UNKNOWN_QUEUE;
}

/** Passive declare: true when the queue exists. */
export async function queueExists(
  model: ChannelModel,
  name: string,
  context: ErrorContext,
): Promise<boolean> {
  const outcome = await tryOnChannel(model, (ch) => ch.checkQueue(name));
  if (outcome.ok) return true;
  if (parseBrokerClose(outcome.error)?.replyCode === 404) return false;
  throw explainAmqpError(outcome.error, context);
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Runs one operation on a fresh channel that is closed afterwards, whatever happens. */
async function tryOnChannel<T>(
  model: ChannelModel,
  operation: (channel: Channel) => Promise<T>,
): Promise<Outcome<T>> {
  const channel = await model.createChannel();
  // Without a listener, a channel error would be thrown as an unhandled 'error' event.
  channel.on('error', () => {});
  try {
    return { ok: true, value: await operation(channel) };
  } catch (error) {
    return { ok: false, error };
  } finally {
    await closeChannel(channel);
  }
}

/** Ready messages and consumers of an existing queue (a passive declare). */
export async function queueCounts(
  model: ChannelModel,
  name: string,
  context: ErrorContext,
): Promise<{ messageCount: number; consumerCount: number }> {
  const outcome = await tryOnChannel(model, (ch) => ch.checkQueue(name));
  if (!outcome.ok) throw explainAmqpError(outcome.error, context);
  return { messageCount: outcome.value.messageCount, consumerCount: outcome.value.consumerCount };
}

/** Deletes a queue; quietly does nothing when it is already gone. */
export async function deleteQueueIfExists(model: ChannelModel, name: string): Promise<void> {
  await tryOnChannel(model, (ch) => ch.deleteQueue(name));
}

/** A message taken with basic.get (amqplib's GetMessage). */
export type PeekedMessage = import('amqplib').GetMessage;

/** A queue's figures from a passive declare: ready messages (unacked ones not counted) and consumers. */
export interface QueueFigures {
  messageCount: number;
  consumerCount: number;
}

/**
 * Passive declare that never creates: the figures, or null when the queue does not exist.
 * Other failures are left raw, so withSession can tell a lost connection's story instead.
 */
export async function findQueue(model: ChannelModel, name: string): Promise<QueueFigures | null> {
  const outcome = await tryOnChannel(model, (ch) => ch.checkQueue(name));
  if (outcome.ok) {
    return { messageCount: outcome.value.messageCount, consumerCount: outcome.value.consumerCount };
  }
  if (parseBrokerClose(outcome.error)?.replyCode === 404) return null;
  throw outcome.error;
}

/**
 * Takes up to `count` ready messages with basic.get and manual ack on one channel, then puts them
 * all back: the broker requeues each at its old place, so the order is kept, but marks them
 * redelivered. basic.nack rather than basic.reject, because since RabbitMQ 4.3 a reject counts
 * as a failed delivery against a quorum queue's delivery limit and a nack does not.
 * Errors are left raw (404: no such queue; 540: a stream, which has no basic.get).
 */
export async function peekMessages(
  model: ChannelModel,
  name: string,
  count: number,
): Promise<PeekedMessage[]> {
  const channel = await model.createChannel();
  // Without a listener, a channel error would be thrown as an unhandled 'error' event.
  channel.on('error', () => {});
  const messages: PeekedMessage[] = [];
  try {
    while (messages.length < count) {
      const message = await channel.get(name, { noAck: false });
      if (message === false) break;
      messages.push(message);
    }
    if (messages.length > 0) channel.nackAll(true);
  } finally {
    // Closing requeues anything still unacknowledged, whatever went wrong above.
    await closeChannel(channel);
  }
  return messages;
}

/** Removes every ready message; returns how many. Errors are left raw (404: no such queue). */
export async function purgeQueueMessages(model: ChannelModel, name: string): Promise<number> {
  const outcome = await tryOnChannel(model, (ch) => ch.purgeQueue(name));
  if (!outcome.ok) throw outcome.error;
  return outcome.value.messageCount;
}

/** queue.delete's own conditions: the broker refuses (406) a queue in use, or not empty. */
export interface DeleteConditions {
  ifUnused: boolean;
  ifEmpty: boolean;
}

/**
 * Deletes a queue with the protocol's conditions; returns how many messages went with it.
 * Errors are left raw (406: a condition failed; 540: the queue type does not support it).
 * Note that the broker answers a missing queue with success: check first when that matters.
 */
export async function deleteQueueCounting(
  model: ChannelModel,
  name: string,
  conditions: DeleteConditions,
): Promise<number> {
  const outcome = await tryOnChannel(model, (ch) =>
    ch.deleteQueue(name, { ifUnused: conditions.ifUnused, ifEmpty: conditions.ifEmpty }),
  );
  if (!outcome.ok) throw outcome.error;
  return outcome.value.messageCount;
}

/** What queue.declare is asked for: durability and the x-arguments table. */
export interface QueueDeclaration {
  durable: boolean;
  arguments: Record<string, string | number>;
}

/**
 * Declares a queue exactly as described (creating it, or confirming an equivalent one).
 * Errors are left raw (406: it exists with other settings, or an argument is invalid).
 */
export async function declareQueue(
  model: ChannelModel,
  name: string,
  declaration: QueueDeclaration,
): Promise<QueueFigures> {
  const outcome = await tryOnChannel(model, (ch) =>
    ch.assertQueue(name, { durable: declaration.durable, arguments: declaration.arguments }),
  );
  if (!outcome.ok) throw outcome.error;
  return { messageCount: outcome.value.messageCount, consumerCount: outcome.value.consumerCount };
}
