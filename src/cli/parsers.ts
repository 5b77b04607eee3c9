import { InvalidArgumentError } from 'commander';
import { AMQP_NAME_MAX_BYTES, controlCharacterIn } from '../config/values.js';
import { thousands } from '../output/format.js';
import { MAX_TIMER_MS } from '../worker/long-sleep.js';

/** Option-argument parsers: commander turns their InvalidArgumentError into a usage error (exit 2). */

/** Digits only (around them, spaces): no sign, no hex, no exponent, nothing Number() would guess at. */
const WHOLE_NUMBER = /^\s*\d+\s*$/;

/**
 * Plain decimals, and the exponent form String(number) gives small ones (1e-7): qtool lab hands the
 * parsed number on to its workers that way. No sign, no hex, no Infinity.
 */
const DECIMAL = /^\s*(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?\s*$/i;

/**
 * The largest number of seconds a seconds option takes: its milliseconds must fit setTimeout,
 * which fires after 1 ms instead of any longer delay.
 */
export const MAX_SECONDS = MAX_TIMER_MS / 1000;

const LARGEST_WAIT = `${MAX_SECONDS} (about ${(MAX_TIMER_MS / 86_400_000).toFixed(1)} days, the longest a timer can wait)`;

export function positiveInteger(text: string): number {
  const value = WHOLE_NUMBER.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(
      `expected a whole number from 1 to ${thousands(Number.MAX_SAFE_INTEGER)}.`,
    );
  }
  return value;
}

export function nonNegativeInteger(text: string): number {
  const value = WHOLE_NUMBER.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value)) {
    throw new InvalidArgumentError(
      `expected a whole number from 0 to ${thousands(Number.MAX_SAFE_INTEGER)}.`,
    );
  }
  return value;
}

/** A rate or other amount greater than 0, decimals allowed (0.5 per second). */
export function positiveNumber(text: string): number {
  const value = DECIMAL.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError('expected a number greater than 0, such as 100 or 0.5.');
  }
  return value;
}

export function prefetchCount(text: string): number {
  const value = positiveInteger(text);
  // basic.qos carries the prefetch count in 16 bits.
  if (value > 65535) throw new InvalidArgumentError('expected at most 65535 (the protocol limit).');
  return value;
}

export function nonNegativeSeconds(text: string): number {
  return seconds(text, 'from 0 to');
}

export function positiveSeconds(text: string): number {
  return seconds(text, 'greater than 0, at most');
}

function seconds(text: string, range: 'from 0 to' | 'greater than 0, at most'): number {
  const value = DECIMAL.test(text) ? Number(text) : Number.NaN;
  // Compared as the commands compute the milliseconds, so no accepted value can overflow a timer.
  const fits = Number.isFinite(value) && value * 1000 <= MAX_TIMER_MS;
  if (!fits || (value === 0 && range !== 'from 0 to')) {
    throw new InvalidArgumentError(`expected a number of seconds ${range} ${LARGEST_WAIT}.`);
  }
  return value;
}

export function nonEmpty(text: string): string {
  if (text.trim() === '') throw new InvalidArgumentError('must not be empty.');
  return text;
}

/** A message id (--message-id): printable text of at most 255 bytes, AMQP's short string. */
export function messageIdArgument(text: string): string {
  nonEmpty(text);
  const control = controlCharacterIn(text);
  if (control !== null) throw new InvalidArgumentError(`contains a control character (${control}).`);
  const bytes = Buffer.byteLength(text);
  if (bytes > AMQP_NAME_MAX_BYTES) {
    throw new InvalidArgumentError(`is ${bytes} bytes long; AMQP allows at most ${AMQP_NAME_MAX_BYTES}.`);
  }
  return text;
}
