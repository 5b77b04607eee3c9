import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/commands/bench/pacing.js';
import { readStamp, STAMP_BYTES, stampedBody } from '../../src/commands/bench/stamp.js';
import {
  BenchStats,
  createLatencyHistogram,
  latencySummary,
  RateWindow,
  toMicros,
} from '../../src/commands/bench/stats.js';

describe('latency percentiles', () => {
  it('are null when nothing was measured', () => {
    expect(latencySummary(createLatencyHistogram())).toBeNull();
  });

  it('come out in ms, monotonic, with max at least p99 and everything positive', () => {
    const histogram = createLatencyHistogram();
    // 1..1000 ms, each once: p50 is 500 ms, p99 990 ms, within the histogram's 3 figures.
    for (let ms = 1; ms <= 1000; ms += 1) histogram.record(toMicros(ms));
    const summary = latencySummary(histogram);
    expect(summary).not.toBeNull();
    const { count, min, p50, p95, p99, max, mean } = summary as NonNullable<typeof summary>;
    expect(count).toBe(1000);
    expect(p50).toBeCloseTo(500, -1);
    expect(p95).toBeCloseTo(950, -1);
    expect(p99).toBeCloseTo(990, -1);
    expect(max).toBeCloseTo(1000, -1);
    expect(mean).toBeCloseTo(500.5, 0);
    expect(min).toBeGreaterThan(0);
    expect(min).toBeLessThanOrEqual(p50);
    expect(p50).toBeLessThanOrEqual(p95);
    expect(p95).toBeLessThanOrEqual(p99);
    expect(p99).toBeLessThanOrEqual(max);
  });

  it('records at least a microsecond, so a latency is never 0, and at most an hour', () => {
    expect(toMicros(0)).toBe(1);
    expect(toMicros(0.0004)).toBe(1);
    expect(toMicros(1.5)).toBe(1500);
    expect(toMicros(10 * 3_600_000)).toBe(3_600_000_000);
  });
});

describe('RateWindow', () => {
  it('gives the rate over each interval, not since the start', () => {
    const window = new RateWindow(0);
    expect(window.next(1000, 1000)).toBe(1000);
    expect(window.next(1500, 2000)).toBe(500);
    // A late tick: 300 messages in 1.5 s.
    expect(window.next(1800, 3500)).toBe(200);
    // No time passed: no rate rather than a division by zero.
    expect(window.next(1900, 3500)).toBe(0);
  });
});

describe('BenchStats', () => {
  it('measures each delivery from the send time it carries, and skips bodies without one', () => {
    const stats = new BenchStats();
    stats.begin(100);
    stats.noteReceived(100, 102.5);
    stats.noteReceived(null, 103);
    // A send time after the receipt is no send time of ours.
    stats.noteReceived(200, 103);
    expect(stats.received).toBe(3);
    expect(stats.unstamped).toBe(2);
    expect(latencySummary(stats.latency)?.p50).toBeCloseTo(2.5, 2);
  });

  it("gives each live sample the last interval's rates and median, then starts a new interval", () => {
    const stats = new BenchStats();
    stats.begin(0);
    for (let i = 0; i < 10; i += 1) stats.noteSent(i);
    for (let i = 0; i < 4; i += 1) stats.noteConfirmed(i);
    stats.noteReceived(0, 5);
    stats.noteReceived(0, 7);
    stats.noteReceived(0, 9);
    const first = stats.sample(1000);
    expect(first).toMatchObject({
      sent: 10,
      sentRate: 10,
      confirmedRate: 4,
      receivedRate: 3,
      elapsedMs: 1000,
    });
    expect(first.p50Ms).toBeCloseTo(7, 1);
    const second = stats.sample(2000);
    expect(second).toMatchObject({ sent: 10, sentRate: 0, receivedRate: 0, p50Ms: null });
  });

  it('resolves whenReceived once the target is reached, and at once if it was', async () => {
    const stats = new BenchStats();
    stats.begin(0);
    let done = false;
    const waiting = stats.whenReceived(2).then(() => {
      done = true;
    });
    stats.noteReceived(0, 1);
    await Promise.resolve();
    expect(done).toBe(false);
    stats.noteReceived(0, 1);
    await waiting;
    expect(done).toBe(true);
    await expect(stats.whenReceived(1)).resolves.toBeUndefined();
  });
});

describe('TokenBucket (--rate)', () => {
  /** How many tokens a producer gets in `ms` of simulated time, waking when told. */
  function sendFor(bucket: TokenBucket, ms: number, start = 0): number {
    let now = start;
    let sent = 0;
    while (now < start + ms) {
      const wait = bucket.take(now);
      if (wait === 0) sent += 1;
      // Timers fire 1 ms late at best: the bucket must make up for it, not lose the messages.
      else now += Math.max(wait, 1) + 0.2;
    }
    return sent;
  }

  it('keeps to the rate over time, even when timers fire late', () => {
    expect(sendFor(new TokenBucket(10_000, 0), 1000)).toBeGreaterThanOrEqual(9_900);
    expect(sendFor(new TokenBucket(10_000, 0), 1000)).toBeLessThanOrEqual(10_001);
    expect(sendFor(new TokenBucket(100, 0), 2000)).toBeGreaterThanOrEqual(199);
    expect(sendFor(new TokenBucket(100, 0), 2000)).toBeLessThanOrEqual(201);
  });

  it('handles rates below one a second', () => {
    const bucket = new TokenBucket(0.5, 0);
    expect(bucket.take(0)).toBe(0);
    expect(bucket.take(0)).toBe(2000);
    expect(bucket.take(2000)).toBe(0);
  });

  it('lets a held-up producer catch up by a tenth of a second at most, not flood the broker', () => {
    const bucket = new TokenBucket(1000, 0);
    bucket.take(0);
    // Held up for 5 s: only 100 messages (0.1 s worth) may go at once.
    let burst = 0;
    while (bucket.take(5000) === 0) burst += 1;
    expect(burst).toBe(100);
  });
});

describe('the send time in a body', () => {
  it('survives the trip in the first bytes, padded to the size asked for', () => {
    const body = stampedBody(Buffer.alloc(20), 1234.5678);
    expect(body.length).toBe(20);
    expect(readStamp(body)).toBe(1234.5678);
    expect(body.subarray(STAMP_BYTES).every((byte) => byte === 0)).toBe(true);
  });

  it('is a new buffer each time, so a body still waiting in the socket is never overwritten', () => {
    const padding = Buffer.alloc(STAMP_BYTES);
    const first = stampedBody(padding, 1);
    stampedBody(padding, 2);
    expect(readStamp(first)).toBe(1);
  });

  it('is missing from bodies too short or not holding a time', () => {
    expect(readStamp(Buffer.from('hello'))).toBeNull();
    const notANumber = Buffer.alloc(8);
    notANumber.writeDoubleBE(Number.NaN, 0);
    expect(readStamp(notANumber)).toBeNull();
  });
});
