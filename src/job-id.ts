import { randomFillSync } from 'node:crypto';

/** UUIDs formatted per batch: 128 of them from one call to the system's secure random source. */
const BATCH = 128;
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const random = Buffer.alloc(16 * BATCH);
const text = Buffer.alloc(36 * BATCH);
let next = BATCH;

/**
 * A new random UUID (version 4, RFC 9562), as crypto.randomUUID() makes, for the message id of
 * every message send publishes. Not randomUUID itself: its string is built by concatenation, and
 * amqplib, which measures and writes the id into each message's properties, then has to flatten
 * it first, which made ids cost `send --count 100000` about twice the client CPU these do (see the
 * commit that brought them). Here a batch is formatted into one buffer and each id is one slice
 * of it, a flat string from the start.
 */
export function newJobId(): string {
  if (next === BATCH) {
    randomFillSync(random);
    for (let id = 0; id < BATCH; id++) formatUuid(id);
    next = 0;
  }
  const at = next * 36;
  next += 1;
  return text.toString('latin1', at, at + 36);
}

/** Writes the id-th UUID of the batch, with its version (4) and variant (10xx) bits set. */
function formatUuid(id: number): void {
  const from = id * 16;
  random[from + 6] = ((random[from + 6] as number) & 0x0f) | 0x40;
  random[from + 8] = ((random[from + 8] as number) & 0x3f) | 0x80;
  let to = id * 36;
  for (let byte = 0; byte < 16; byte++) {
    if (byte === 4 || byte === 6 || byte === 8 || byte === 10) text[to++] = 0x2d; // '-'
    const value = random[from + byte] as number;
    text[to++] = HEX_DIGITS[value >> 4] as number;
    text[to++] = HEX_DIGITS[value & 0x0f] as number;
  }
}
