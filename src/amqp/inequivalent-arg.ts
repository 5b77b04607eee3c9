/**
 * RabbitMQ's 406 PRECONDITION_FAILED for a queue declared again with other settings, taken apart:
 * `inequivalent arg 'x-max-length' for queue 'q' in vhost '/': received the value '10' of type
 * 'byte' but current is none`. RabbitMQ compares durable, auto_delete, then the x-arguments of the
 * existing queue's type in a fixed order, and names only the first difference.
 */

/** One side of a 406 "inequivalent arg": the value as text, or null for "none" (not set). */
export type ArgumentValue = string | null;

export interface ArgumentConflict {
  /** `durable`, `x-max-length`, ... */
  argument: string;
  existing: ArgumentValue;
  asked: ArgumentValue;
}

const VALUE = `none|the value '.*?' of type '[^']*'|'.*?'`;
const INEQUIVALENT = new RegExp(
  `inequivalent arg '([^']*)' for queue '.*' in vhost '.*': received (${VALUE}) but current is (${VALUE})$`,
  's',
);

/** The argument and both values, or null when the text is not an "inequivalent arg" refusal. */
export function parseInequivalentArg(text: string): ArgumentConflict | null {
  const match = INEQUIVALENT.exec(text);
  if (!match) return null;
  return {
    argument: match[1] as string,
    asked: typedValue(match[2] as string).value,
    existing: typedValue(match[3] as string).value,
  };
}

/** The existing queue's value as the broker wrote it, with its AMQP field type when it said one. */
export interface ExistingValue {
  argument: string;
  value: ArgumentValue;
  /** `byte`, `long`, `longstr`, `bool`, ...; null for durable and auto_delete, and RabbitMQ 3.x's x-queue-type. */
  amqpType: string | null;
}

/** The existing side of an "inequivalent arg" refusal, typed, or null for other texts. */
export function parseExistingValue(text: string): ExistingValue | null {
  const match = INEQUIVALENT.exec(text);
  if (!match) return null;
  return { argument: match[1] as string, ...typedValue(match[3] as string) };
}

function typedValue(text: string): { value: ArgumentValue; amqpType: string | null } {
  if (text === 'none') return { value: null, amqpType: null };
  const typed = /^the value '(.*)' of type '([^']*)'$/s.exec(text);
  if (typed) return { value: typed[1] as string, amqpType: typed[2] as string };
  return { value: text.replace(/^'(.*)'$/s, '$1'), amqpType: null };
}
