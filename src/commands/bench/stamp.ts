/**
 * The send time each bench message carries in its first 8 bytes: performance.now() as a double.
 * Producers and consumers run in one process, so they share that clock: monotonic, sub-millisecond,
 * and untouched by wall-clock adjustments (as PerfTest uses System.nanoTime in one JVM).
 */
export const STAMP_BYTES = 8;

/** A body of `size` bytes (at least STAMP_BYTES): the send time, then the zero bytes of `padding`. */
export function stampedBody(padding: Buffer, sentAt: number): Buffer {
  // A new buffer per message: amqplib may still hold the previous one, unsent, in its socket buffer.
  const body = Buffer.allocUnsafe(padding.length);
  padding.copy(body);
  body.writeDoubleBE(sentAt, 0);
  return body;
}

/** The send time in a body, or null when the body holds none (too short, not a time). */
export function readStamp(body: Buffer): number | null {
  if (body.length < STAMP_BYTES) return null;
  const sentAt = body.readDoubleBE(0);
  return Number.isFinite(sentAt) && sentAt >= 0 ? sentAt : null;
}
