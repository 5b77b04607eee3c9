import type { BrokerClose } from '../amqp/explain.js';
import { type ArgumentValue, parseInequivalentArg } from '../amqp/inequivalent-arg.js';
import type { DeleteConditions, QueueDeclaration, QueueFigures } from '../amqp/queue.js';
import type { QueueType } from '../amqp/queue-type.js';
import { QtoolError, UsageError } from '../errors.js';
import { plural, shellQuote } from '../output/format.js';
import { checkQueueRequest } from './queue-request.js';

/**
 * The decisions behind peek, purge, delete and declare, as pure functions: which arguments a
 * declare sends, when delete refuses, and how the broker's refusals read to a person.
 */

/** `qtool declare`'s options, normalised. */
export interface DeclareRequest {
  queue: string;
  /** undefined: neither --durable nor --no-durable, so durable (the default). */
  durable: boolean | undefined;
  /** undefined: send no x-queue-type, so the broker uses its default (classic). */
  type: QueueType | undefined;
  maxLength: number | undefined;
  messageTtlMs: number | undefined;
  deadLetterQueue: string | undefined;
}

export interface PlannedQueue extends QueueDeclaration {
  name: string;
  type: QueueType | undefined;
}

/** The queue to declare and, with --dead-letter-queue, the one its rejected and expired messages go to. */
export interface DeclarePlan {
  queue: PlannedQueue;
  deadLetterQueue: PlannedQueue | null;
}

/** Options that stream queues refuse (they keep messages by size and age, and never dead-letter). */
const NOT_FOR_STREAMS = [
  ['maxLength', '--max-length'],
  ['messageTtlMs', '--message-ttl'],
  ['deadLetterQueue', '--dead-letter-queue'],
] as const;

/**
 * Turns declare's options into queue.declare arguments, refusing as usage errors the combinations
 * the broker would refuse less clearly: non-durable quorum queues and streams, and stream
 * arguments RabbitMQ does not support.
 */
export function planDeclare(request: DeclareRequest): DeclarePlan {
  const { queue, type } = request;
  const durable = request.durable ?? true;
  checkQueueRequest({ durability: durable ? 'durable' : 'non-durable', type });
  if (type === 'stream') {
    const given = NOT_FOR_STREAMS.filter(([key]) => request[key] !== undefined).map(([, flag]) => flag);
    if (given.length > 0) {
      throw new UsageError(
        `stream queues do not support ${given.join(', ')}`,
        'A stream keeps every message until it outgrows its retention (x-max-length-bytes, x-max-age) and never dead-letters; use --queue-type classic or quorum for these options.',
      );
    }
  }
  if (request.deadLetterQueue === queue) {
    throw new UsageError(
      `--dead-letter-queue must name another queue than '${queue}'`,
      'Dead-lettering a queue into itself would only bring its rejected messages back.',
    );
  }

  const typeArgument: Record<string, string> = type === undefined ? {} : { 'x-queue-type': type };
  const args: Record<string, string | number> = { ...typeArgument };
  if (request.maxLength !== undefined) args['x-max-length'] = request.maxLength;
  if (request.messageTtlMs !== undefined) args['x-message-ttl'] = request.messageTtlMs;
  if (request.deadLetterQueue !== undefined) {
    // The default exchange ('') routes by queue name, so no exchange or binding is needed.
    args['x-dead-letter-exchange'] = '';
    args['x-dead-letter-routing-key'] = request.deadLetterQueue;
  }
  return {
    queue: { name: queue, type, durable, arguments: args },
    deadLetterQueue:
      request.deadLetterQueue === undefined
        ? null
        : { name: request.deadLetterQueue, type, durable: true, arguments: { ...typeArgument } },
  };
}

/**
 * Whether declare was asked for anything at all. A bare `qtool declare` only makes sure the queue
 * exists: like send, receive and qprocessor, it then uses an existing queue as it is.
 */
export function asksForSettings(request: Omit<DeclareRequest, 'queue'>): boolean {
  return (
    request.durable !== undefined ||
    request.type !== undefined ||
    request.maxLength !== undefined ||
    request.messageTtlMs !== undefined ||
    request.deadLetterQueue !== undefined
  );
}

/** `durable, quorum, max-length 100, message-ttl 60000 ms, dead-letter-queue 'jobs-dead'`. */
export function describeDeclaration(planned: PlannedQueue): string {
  const args = planned.arguments;
  const parts = [planned.durable ? 'durable' : 'non-durable'];
  if (planned.type !== undefined) parts.push(planned.type);
  if (args['x-max-length'] !== undefined) parts.push(`max-length ${args['x-max-length']}`);
  if (args['x-message-ttl'] !== undefined) parts.push(`message-ttl ${args['x-message-ttl']} ms`);
  if (args['x-dead-letter-routing-key'] !== undefined) {
    parts.push(`dead-letter-queue '${args['x-dead-letter-routing-key']}'`);
  }
  return parts.join(', ');
}

/** `qtool delete`'s options. */
export interface DeleteRequest extends DeleteConditions {
  force: boolean;
}

export type DeleteDecision =
  | { kind: 'delete'; conditions: DeleteConditions }
  | { kind: 'refuse'; error: QtoolError };

/**
 * Without --force, qtool refuses to delete a queue that has consumers or ready messages: deleting
 * it ends the consumers and discards the messages. --if-unused and --if-empty only ever add the
 * protocol's own conditions, checked by the broker at the moment of deleting: they never let
 * through what qtool would refuse (the protocol's if-empty ignores messages a consumer holds, so
 * `--if-empty` alone would delete a queue whose workers are busy). `--force --if-unused` deletes
 * an unused queue with its messages; `--force --if-empty` an empty one whatever its consumers.
 */
export function decideDelete(queue: string, figures: QueueFigures, request: DeleteRequest): DeleteDecision {
  const conditions = { ifUnused: request.ifUnused, ifEmpty: request.ifEmpty };
  const { consumerCount: consumers, messageCount: messages } = figures;
  if (request.force || (consumers === 0 && messages === 0)) {
    return { kind: 'delete', conditions };
  }
  const holds = [
    consumers > 0 ? plural(consumers, 'consumer') : null,
    messages > 0 ? `${plural(messages, 'message')} ready` : null,
  ].filter((part) => part !== null);
  const consequences = [
    consumers > 0 ? `end ${consumers === 1 ? 'its consumer' : `its ${consumers} consumers`}` : null,
    messages > 0 ? `discard ${messages === 1 ? 'its message' : `its ${plural(messages, 'message')}`}` : null,
  ].filter((part) => part !== null);
  const first = [
    consumers > 0 ? 'stop its consumers' : null,
    messages > 0 ? 'take or purge its messages (qtool receive, qtool purge)' : null,
  ].filter((part) => part !== null);
  return {
    kind: 'refuse',
    error: new QtoolError(`queue '${queue}' has ${holds.join(' and ')}: not deleting it`, {
      hint: `Deleting it would ${consequences.join(' and ')}. ${capitalise(first.join(' and '))} first, or run again with --force to delete it anyway.`,
    }),
  };
}

/** The broker's refusal of a conditional delete (406), in plain words; null for any other error. */
export function explainDeleteRefusal(
  queue: string,
  close: BrokerClose | null,
  figures: QueueFigures,
): QtoolError | null {
  if (close?.replyCode !== 406) return null;
  if (/in use/.test(close.text)) {
    const consumers = figures.consumerCount > 0 ? ` (${plural(figures.consumerCount, 'consumer')})` : '';
    return new QtoolError(
      `the broker did not delete queue '${queue}': it is in use${consumers}, and --if-unused deletes only a queue without consumers`,
      { hint: 'Stop its consumers first, or leave out --if-unused.' },
    );
  }
  if (/not empty/.test(close.text)) {
    const messages = figures.messageCount > 0 ? ` (${plural(figures.messageCount, 'message')})` : '';
    return new QtoolError(
      `the broker did not delete queue '${queue}': it is not empty${messages}, and --if-empty deletes only an empty queue`,
      { hint: 'Take or purge its messages first (qtool receive, qtool purge), or leave out --if-empty.' },
    );
  }
  return null;
}

/**
 * A queue type refusing an operation: RabbitMQ closes the whole connection with 540 NOT_IMPLEMENTED
 * (streams have no basic.get or queue.purge; quorum queues no conditional delete).
 */
export function explainUnsupported(
  queue: string,
  operation: string,
  close: BrokerClose | null,
  hint?: string,
): QtoolError | null {
  if (close?.replyCode !== 540) return null;
  const kind = /by (\w+) queues/.exec(close.text)?.[1];
  const message =
    kind === undefined
      ? `the broker cannot do ${operation} on queue '${queue}': ${close.text}`
      : `queue '${queue}' is a ${kind} queue, and ${kind} queues do not support ${operation}`;
  return new QtoolError(message, hint === undefined ? {} : { hint });
}

/** A queue that peek, purge or delete will not create. */
export function missingQueueError(queue: string, vhost: string): QtoolError {
  return new QtoolError(`queue '${queue}' does not exist in vhost '${vhost}'`, {
    hint: 'Check --queue and --vhost (qtool status lists the queues there); qtool declare creates one.',
  });
}

interface ArgumentWords {
  /** What a person calls it. */
  what: string;
  /** The declare option that sets it. */
  option: string;
  /** `it is a durable queue` or `it has max length 10`. */
  verb: 'is' | 'has';
  /** The value as words, read after the verb and after "asked for". */
  phrase(value: ArgumentValue): string;
}

/** How each argument qtool sets reads in a message; others fall back to their raw name and value. */
const ARGUMENT_WORDS: Readonly<Record<string, ArgumentWords>> = {
  durable: {
    what: 'durability',
    option: '--durable / --no-durable',
    verb: 'is',
    phrase: (value) => (value === 'true' ? 'a durable queue' : 'a non-durable queue'),
  },
  'x-queue-type': {
    what: 'type',
    option: '--queue-type',
    verb: 'is',
    phrase: (value) =>
      value === null ? 'a queue of the default type (no x-queue-type)' : `a ${value} queue`,
  },
  'x-max-length': {
    what: 'max length',
    option: '--max-length',
    verb: 'has',
    phrase: (value) => (value === null ? 'no max length' : `max length ${value}`),
  },
  'x-message-ttl': {
    what: 'message TTL',
    option: '--message-ttl',
    verb: 'has',
    phrase: (value) => (value === null ? 'no message TTL' : `message TTL ${value} ms`),
  },
  'x-dead-letter-exchange': {
    what: 'dead-letter exchange',
    option: '--dead-letter-queue',
    verb: 'has',
    phrase: (value) =>
      value === null
        ? 'no dead-letter exchange'
        : value === ''
          ? 'the default exchange as dead-letter exchange'
          : `dead-letter exchange '${value}'`,
  },
  'x-dead-letter-routing-key': {
    what: 'dead-letter queue',
    option: '--dead-letter-queue',
    verb: 'has',
    phrase: (value) => (value === null ? 'no dead-letter queue' : `dead-letter queue '${value}'`),
  },
};

/**
 * A declare refused because the queue exists with other settings: which setting, what the queue
 * has, what was asked, and the fix (settings never change by declaring again). RabbitMQ names
 * only the first difference it finds.
 */
export function explainDeclareConflict(queue: string, close: BrokerClose | null): QtoolError | null {
  if (close?.replyCode !== 406) return null;
  const conflict = parseInequivalentArg(close.text);
  if (conflict === null) return null;
  const { argument } = conflict;
  const words: ArgumentWords = ARGUMENT_WORDS[argument] ?? {
    what: `argument ${argument}`,
    option: 'the matching option',
    verb: 'has',
    phrase: (value) => (value === null ? `no ${argument}` : `${argument} '${value}'`),
  };
  return new QtoolError(
    `queue '${queue}' already exists with a different ${words.what} (${argument}): ` +
      `it ${words.verb} ${words.phrase(conflict.existing)}, but this declare asked for ${words.phrase(conflict.asked)}`,
    {
      hint:
        `Declaring again never changes an existing queue. Match its ${words.what} (${words.option}), or delete it first ` +
        `(qtool delete --queue ${shellQuote(queue)} --force, which discards its messages) and declare it again. ` +
        'RabbitMQ names only the first difference it finds; there may be more.',
    },
  );
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
