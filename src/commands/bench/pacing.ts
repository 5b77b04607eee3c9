/**
 * --rate as a token bucket: tokens accrue at `rate` per second, up to a small burst. A producer
 * sends while it has a token and otherwise sleeps until the next one is due, so at 10,000 msg/s
 * one timer releases the ten or so messages due in a millisecond instead of a sleep per message
 * (timers cannot wait 0.1 ms). The cap on the burst keeps a producer that was held up (a full
 * confirm window, a blocked broker) from flooding the broker to catch up.
 */
export class TokenBucket {
  private tokens = 1;
  private last: number;
  /** The most tokens that can pile up: a tenth of a second's worth, at least one message. */
  readonly capacity: number;

  constructor(
    /** Messages per second; more than 0. */
    readonly rate: number,
    now: number,
  ) {
    this.capacity = Math.max(1, rate / 10);
    this.last = now;
  }

  /** Takes a token at time `now` (ms) and returns 0, or returns how many ms until one is due. */
  take(now: number): number {
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.rate) / 1000);
      this.last = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return ((1 - this.tokens) * 1000) / this.rate;
  }
}
