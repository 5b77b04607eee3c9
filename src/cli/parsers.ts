import { InvalidArgumentError } from 'commander';

/** Option-argument parsers: commander turns their InvalidArgumentError into a usage error (exit 2). */

export function positiveInteger(text: string): number {
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1)
    throw new InvalidArgumentError('expected a whole number of 1 or more.');
  return value;
}

export function prefetchCount(text: string): number {
  const value = positiveInteger(text);
  // basic.qos carries the prefetch count in 16 bits.
  if (value > 65535) throw new InvalidArgumentError('expected at most 65535 (the protocol limit).');
  return value;
}

export function nonNegativeSeconds(text: string): number {
  const value = /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(value) || value < 0)
    throw new InvalidArgumentError('expected a number of seconds, 0 or more.');
  return value;
}

export function positiveSeconds(text: string): number {
  const value = nonNegativeSeconds(text);
  if (value === 0) throw new InvalidArgumentError('expected a number of seconds greater than 0.');
  return value;
}

export function nonEmpty(text: string): string {
  if (text.trim() === '') throw new InvalidArgumentError('must not be empty.');
  return text;
}
