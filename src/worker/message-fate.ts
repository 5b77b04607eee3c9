import type { QueueDurability } from '../amqp/queue.js';
import type { AckMode } from './policy.js';

export type { QueueDurability } from '../amqp/queue.js';

/**
 * What becomes of the messages a worker holds when its connection ends, in sentences that are
 * true for the case at hand: the ack mode, the queue's durability and each message's persistence
 * decide it, so every hint about "the broker will redeliver it" is built here and nowhere else.
 */

/** How the connection ended, as far as the worker can tell. */
export type ConnectionEnd =
  /** The broker said it is shutting down: a restart (or a long absence) follows. */
  | 'broker-shutdown'
  /** The broker is up: it timed this worker out, or dropped its connection. */
  | 'broker-up'
  /** Gone without a word: a broker that died, or the network between. */
  | 'unknown';

/** The messages a worker held, delivered but never acknowledged or finished. */
export interface HeldMessages {
  /** The message being worked on, if any. */
  inHand: { persistent: boolean } | null;
  /** Kept unacknowledged on purpose (--on-lose hang). */
  hung: { persistent: boolean }[];
  /** Delivered messages still waiting for their turn. */
  waiting: { persistent: boolean }[];
}

/**
 * One or two sentences saying what happens to the held messages now, or undefined when the
 * worker held nothing. Auto-ack: the broker removed each message as it delivered it, so they are
 * lost. Manual ack: the broker puts them back in their queue; whether they survive a restart is
 * the queue's durability and each message's persistence.
 */
export function heldMessagesFate(
  ackMode: AckMode,
  held: HeldMessages,
  durability: QueueDurability,
  end: ConnectionEnd,
): string | undefined {
  const all = [...(held.inHand ? [held.inHand] : []), ...held.hung, ...held.waiting];
  if (all.length === 0) return undefined;
  const subject = describeHeld(held);
  const one = all.length === 1;
  if (ackMode === 'auto') {
    return `With auto-ack the broker removed ${subject} when it delivered ${one ? 'it' : 'them'}, so ${one ? 'it is' : 'they are'} lost: nothing is redelivered.`;
  }
  const unacked = `${capitalise(subject)} ${one ? 'was' : 'were'} not acknowledged`;
  if (end === 'broker-up') {
    return `${unacked}, so the broker puts ${one ? 'it' : 'them'} back in the queue and delivers ${one ? 'it' : 'them'} again.`;
  }
  const persistent = all.filter((message) => message.persistent).length;
  if (end === 'broker-shutdown') {
    return `${unacked}, so ${one ? 'it stays' : 'they stay'} in the queue; ${restartClause('the restart', durability, all.length, persistent)}.`;
  }
  return `${unacked}, so the broker puts ${one ? 'it' : 'them'} back in the queue if the broker is still running; if it went down, ${restartClause('its restart', durability, all.length, persistent)}.`;
}

/** What a restart does to `count` held messages, `persistent` of them persistent. */
function restartClause(
  restart: string,
  durability: QueueDurability,
  count: number,
  persistent: number,
): string {
  const one = count === 1;
  switch (durability) {
    case 'always-persistent':
      return `the queue keeps every message on disk, so ${one ? 'it survives' : 'they survive'} ${restart}`;
    case 'non-durable':
      return `the queue is not durable, so ${restart} deletes it with ${one ? 'the message' : 'every message'}`;
    case 'unknown':
      return `whether ${one ? 'it survives' : 'they survive'} ${restart} depends on the queue's durability, which qtool could not learn, and on ${one ? 'its' : 'their'} persistence`;
    case 'durable':
      if (persistent === count) {
        return `the queue is durable and ${one ? 'the message persistent' : 'the messages persistent'}, so ${one ? 'it survives' : 'they survive'} ${restart}`;
      }
      if (persistent === 0) {
        return `${one ? 'it is' : 'they are'} not persistent (send with --persistent), so ${restart} loses ${one ? 'it' : 'them'}`;
      }
      return `the persistent ${persistent === 1 ? 'one survives' : `${persistent} survive`} ${restart}, the transient ${count - persistent === 1 ? 'one does' : `${count - persistent} do`} not`;
  }
}

function describeHeld(held: HeldMessages): string {
  const parts: string[] = [];
  if (held.inHand !== null) parts.push('the message in hand');
  const hung = held.hung.length;
  if (hung > 0)
    parts.push(
      hung === 1 ? 'the message hung by --on-lose hang' : `the ${hung} messages hung by --on-lose hang`,
    );
  const waiting = held.waiting.length;
  if (waiting > 0) {
    if (parts.length > 0) parts.push(`${waiting} more that had arrived`);
    else
      parts.push(waiting === 1 ? 'the message that had arrived' : `the ${waiting} messages that had arrived`);
  }
  const last = parts.pop() ?? '';
  return parts.length === 0 ? last : `${parts.join(', ')} and ${last}`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
