import { decodeUtf8 } from '../body.js';

/**
 * qprocessor's decisions as pure functions: what to do with the n-th delivery, how long the
 * fake work takes, whether it would outlast the broker's patience. No I/O here, so every rule
 * is unit-tested and later features (retries, dead-lettering, real commands) extend it in place.
 */

/** `auto`: the broker forgets a message once sent (the lab's default). `manual`: ack after the work. */
export type AckMode = 'auto' | 'manual';

/** What a worker with `--acknowledge` does with a message it "loses". */
export type OnLose = 'requeue' | 'crash' | 'hang';
export const ON_LOSE_CHOICES: readonly OnLose[] = ['requeue', 'crash', 'hang'];

export interface WorkerPolicy {
  ackMode: AckMode;
  /** Every n-th delivery is lost; undefined loses none. */
  loseEvery: number | undefined;
  onLose: OnLose;
  /** Seconds of fake work per character of the message (the lab: 1). */
  delayPerCharSeconds: number;
}

/**
 * - `process`: do the work, then ack if manual.
 * - `drop`: auto-ack already removed it from the broker: gone for good.
 * - `requeue`: nack with requeue, so the broker hands it out again at once.
 * - `crash`: exit at once; the broker redelivers everything this worker had not acked.
 * - `hang`: keep it unacked until the channel closes.
 */
export type Decision = { action: 'process'; workMs: number } | { action: 'lose'; outcome: 'drop' | OnLose };

/** Decides the fate of this worker's `deliveryNumber`-th delivery (counting from 1). */
export function decide(deliveryNumber: number, body: Uint8Array, policy: WorkerPolicy): Decision {
  if (isLost(deliveryNumber, policy.loseEvery)) {
    return { action: 'lose', outcome: policy.ackMode === 'auto' ? 'drop' : policy.onLose };
  }
  return { action: 'process', workMs: workDurationMs(body, policy.delayPerCharSeconds) };
}

/** Every n-th delivery (n, 2n, 3n, ...) is lost. */
export function isLost(deliveryNumber: number, loseEvery: number | undefined): boolean {
  return loseEvery !== undefined && loseEvery > 0 && deliveryNumber % loseEvery === 0;
}

/** The lab's fake work: one delay unit per character (code point) of the message. */
export function workDurationMs(body: Uint8Array, delayPerCharSeconds: number): number {
  return Math.round(characterCount(body) * delayPerCharSeconds * 1000);
}

/** Characters as a person counts them: code points of the UTF-8 text, or bytes when it is not text. */
export function characterCount(body: Uint8Array): number {
  const text = decodeUtf8(body);
  return text === null ? body.length : [...text].length;
}

/** RabbitMQ's default consumer_timeout: an unacked delivery older than this closes the channel. */
export const DEFAULT_CONSUMER_TIMEOUT_MS = 30 * 60 * 1000;

/** True when the work would outlast the broker's consumer timeout, so the worker should warn first. */
export function outlastsConsumerTimeout(
  workMs: number,
  ackMode: AckMode,
  timeoutMs: number = DEFAULT_CONSUMER_TIMEOUT_MS,
): boolean {
  return ackMode === 'manual' && workMs >= timeoutMs;
}

/** A worker's running totals, printed when it stops so panes can be compared. */
export interface Tally {
  received: number;
  processed: number;
  lost: number;
  requeued: number;
  /** Deliveries that arrived flagged as redelivered (seen before by some worker). */
  redelivered: number;
}

export const emptyTally = (): Tally => ({ received: 0, processed: 0, lost: 0, requeued: 0, redelivered: 0 });
