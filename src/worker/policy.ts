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
  /**
   * Every message lost: on purpose (--lose-every, except --on-lose hang), with a deleted queue,
   * or cut short (auto-ack).
   */
  lost: number;
  /** Of the lost ones: nacked back to the queue (--on-lose requeue). */
  requeued: number;
  /** Of the lost ones: held unacknowledged when their queue was deleted, so the ack never came. */
  goneWithQueue: number;
  /** Of the lost ones: auto-ack messages whose work a failure cut short (the broker had removed them). */
  cutShort: number;
  /**
   * Never acknowledged and left to the broker, which puts them back in the queue when the worker
   * stops or loses its connection: the one in hand when a failure stopped the worker, and the hung ones.
   */
  leftUnacked: number;
  /** Of the left-unacked ones: kept unacknowledged on purpose (--on-lose hang). */
  hung: number;
  /** Deliveries that arrived flagged as redelivered (seen before by some worker). */
  redelivered: number;
  /** Times the worker lost its connection (or its consumer) and came back. */
  reconnects: number;
}

export const emptyTally = (): Tally => ({
  received: 0,
  processed: 0,
  lost: 0,
  requeued: 0,
  goneWithQueue: 0,
  cutShort: 0,
  leftUnacked: 0,
  hung: 0,
  redelivered: 0,
  reconnects: 0,
});

/** Why the worker stopped taking messages, as far as the fate of the one in hand goes. */
export type WorkerStop =
  /** The connection or the consumer's channel ended: the work in hand is abandoned. */
  | 'connection-lost'
  /** The broker cancelled the consumer and the queue is gone: an unacked message went with it. */
  | 'queue-deleted'
  /** The broker cancelled the consumer but the queue is still there. */
  | 'consumer-cancelled';

/**
 * Whether the message in hand is still worth finishing when the worker is stopped this way. With
 * auto-ack it is ours whatever happens to the queue, so a cancelled consumer does not stop the
 * work; a lost connection does (there is no one to tell), and with manual ack so does anything,
 * because the ack the work ends with can no longer be relied on.
 */
export function finishesWorkInHand(stop: WorkerStop, ackMode: AckMode): boolean {
  return ackMode === 'auto' && stop !== 'connection-lost';
}

/**
 * Counts a message lost on purpose as what it truly became: a hung one is not gone, it stays
 * unacknowledged until the broker takes it back.
 */
export function countLoss(tally: Tally, outcome: 'drop' | OnLose): void {
  if (outcome === 'hang') {
    tally.leftUnacked += 1;
    tally.hung += 1;
    return;
  }
  tally.lost += 1;
  if (outcome === 'requeue') tally.requeued += 1;
}

/** Counts the abandoned message in hand as what it truly became. */
export function countAbandoned(tally: Tally, stop: WorkerStop, ackMode: AckMode): 'lost' | 'left-unacked' {
  if (ackMode === 'auto') {
    tally.lost += 1;
    tally.cutShort += 1;
    return 'lost';
  }
  if (stop === 'queue-deleted') {
    tally.lost += 1;
    tally.goneWithQueue += 1;
    return 'lost';
  }
  tally.leftUnacked += 1;
  return 'left-unacked';
}
