import { QtoolError } from '../errors.js';
import { shellQuote } from '../output/format.js';
import { parseExistingValue } from './inequivalent-arg.js';
import type { DurabilityRequest, QueueDurability } from './queue.js';

/** The queue types RabbitMQ offers, as x-queue-type names them. */
export const QUEUE_TYPES = ['classic', 'quorum', 'stream'] as const;
export type QueueType = (typeof QUEUE_TYPES)[number];

/** Why a stream refuses a consumer, in the words of qtool's usage check and of its broker-error explanation. */
export const STREAM_CONSUMER_RULE =
  'RabbitMQ serves a stream only to consumers with manual acks and a prefetch limit';
/** What reading a stream is like, for the same two messages' hints. */
export const STREAM_CONSUMER_NOTE =
  'A stream consumer starts at the next message published, and the stream keeps every message, acked or not.';

/** What qtool learnt about an existing queue; `type` null when it could not tell. */
export interface QueueInspection {
  durability: QueueDurability;
  type: QueueType | null;
}

export const UNKNOWN_QUEUE: QueueInspection = { durability: 'unknown', type: null };

/** One redeclaration the probe sends (always durable, never exclusive). */
export interface ProbeDeclaration {
  autoDelete: boolean;
  arguments: Record<string, unknown>;
}

/**
 * The first guess: a durable classic queue. Should the queue vanish in between, this guess is what
 * gets created, the same queue qtool creates by default.
 */
export const FIRST_PROBE: ProbeDeclaration = { autoDelete: false, arguments: { 'x-queue-type': 'classic' } };

export type ProbeStep =
  | { kind: 'found'; inspection: QueueInspection }
  | { kind: 'retry'; declaration: ProbeDeclaration }
  | { kind: 'unknown' };

/**
 * A passive declare says nothing about a queue's type or durability, so qtool declares the queue
 * again as it guesses it is, which changes nothing when the guess is right. When it is wrong the
 * broker refuses (406) and names the first difference with the queue's own value: durable first,
 * then auto_delete, then the x-arguments in an order that depends on the queue's type. This takes
 * that value over and guesses again, until x-queue-type is named (or the guess is accepted).
 * Only configure permission is needed, as for any declare. A broker with
 * quorum_relaxed_checks_on_redeclaration (off by default) accepts a classic guess for a quorum
 * queue, which then reads as classic.
 */
export function afterRefusal(declaration: ProbeDeclaration, refusal: string): ProbeStep {
  const existing = parseExistingValue(refusal);
  if (existing === null) return { kind: 'unknown' };
  const { argument, value } = existing;
  if (argument === 'durable') {
    // Only classic queues can be non-durable.
    return value === 'false'
      ? { kind: 'found', inspection: { durability: 'non-durable', type: 'classic' } }
      : { kind: 'unknown' };
  }
  if (argument === 'auto_delete') {
    return value === 'true' && !declaration.autoDelete
      ? { kind: 'retry', declaration: { ...declaration, autoDelete: true } }
      : { kind: 'unknown' };
  }
  if (argument === 'x-queue-type') {
    // No x-queue-type at all: a queue of the classic type, which stores none on RabbitMQ 3.x.
    const type = value ?? 'classic';
    return isQueueType(type) ? { kind: 'found', inspection: inspectionOf(type) } : { kind: 'unknown' };
  }
  const adopted = fieldValue(existing.value, existing.amqpType);
  // Nothing to take over, or taken over already and still refused: give up rather than loop.
  if (adopted === undefined || argument in declaration.arguments) return { kind: 'unknown' };
  return {
    kind: 'retry',
    declaration: { ...declaration, arguments: { ...declaration.arguments, [argument]: adopted } },
  };
}

/** The broker accepted the guess: the queue is what it describes. */
export function afterAcceptance(declaration: ProbeDeclaration): QueueInspection {
  const type = declaration.arguments['x-queue-type'];
  return typeof type === 'string' && isQueueType(type) ? inspectionOf(type) : UNKNOWN_QUEUE;
}

export function isQueueType(text: string): text is QueueType {
  return (QUEUE_TYPES as readonly string[]).includes(text);
}

function inspectionOf(type: QueueType): QueueInspection {
  return { durability: type === 'classic' ? 'durable' : 'always-persistent', type };
}

const INTEGER_TYPES = new Set([
  'byte',
  'short',
  'signedint',
  'long',
  'unsignedbyte',
  'unsignedshort',
  'unsignedint',
]);

/**
 * The table value that the broker counts as equal to the one it printed: same type class (any
 * integer type matches any other; float and double match each other) and same value.
 * Undefined for what qtool cannot rebuild (tables, arrays, timestamps).
 */
export function fieldValue(value: string | null, amqpType: string | null): unknown {
  if (value === null) return undefined;
  if (amqpType === 'longstr' || amqpType === 'shortstr') return value;
  if (amqpType === 'bool') return value === 'true' ? true : value === 'false' ? false : undefined;
  if (amqpType !== null && INTEGER_TYPES.has(amqpType)) {
    const number = Number(value);
    return Number.isSafeInteger(number) ? number : undefined;
  }
  if (amqpType === 'double' || amqpType === 'float') {
    const number = Number(value);
    // amqplib would send a whole number as an integer type; the broker wants a float type here.
    return Number.isFinite(number) ? { '!': 'double', value: number } : undefined;
  }
  return undefined;
}

/** What the user asked of a queue: --durable / --no-durable and --queue-type, each possibly unsaid. */
export interface QueueRequest {
  durability: DurabilityRequest;
  type: QueueType | undefined;
}

/**
 * An existing queue that is not what was explicitly asked for, in plain words with the fix, or
 * null. Declaring never changes a queue, so the only fixes are dropping the flag or deleting it.
 * What qtool could not find out about the queue is never held against it.
 */
export function queueMismatch(
  name: string,
  request: QueueRequest,
  found: QueueInspection,
): QtoolError | null {
  const deleteFirst = `delete it first (qtool delete --queue ${shellQuote(name)} --force, which discards its messages)`;
  if (request.type !== undefined && found.type !== null && found.type !== request.type) {
    const exists = found.durability === 'non-durable' ? `non-durable ${found.type}` : found.type;
    return new QtoolError(
      `queue '${name}' already exists as a ${exists} queue, but --queue-type ${request.type} was asked for`,
      {
        hint:
          "A queue keeps the type it was created with: the broker refuses to declare it again as another (406 PRECONDITION_FAILED, inequivalent arg 'x-queue-type'). " +
          `Leave out --queue-type to use the queue as it is, or ${deleteFirst} to re-create it as a ${request.type} queue.`,
      },
    );
  }
  const wantsDurable = request.durability === 'durable';
  const wantsNonDurable = request.durability === 'non-durable';
  const isDurable = found.durability === 'durable' || found.durability === 'always-persistent';
  if ((wantsDurable && found.durability === 'non-durable') || (wantsNonDurable && isDurable)) {
    const exists = wantsDurable
      ? 'non-durable'
      : found.type === 'quorum' || found.type === 'stream'
        ? `durable ${found.type}`
        : 'durable';
    const asked = wantsDurable ? '--durable' : '--no-durable';
    return new QtoolError(`queue '${name}' already exists as a ${exists} queue, but ${asked} was asked for`, {
      hint: `Leave out ${asked} to use the queue as it is, or ${deleteFirst} to re-create it.`,
    });
  }
  return null;
}
