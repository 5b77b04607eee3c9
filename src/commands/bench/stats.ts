import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/**
 * Latencies go into an HdrHistogram: Node's own (perf_hooks.createHistogram, the C hdr_histogram
 * library), so recording costs well under a microsecond and memory stays fixed however many
 * messages are measured, with 3 significant figures at every scale. Values are whole microseconds.
 */
const HISTOGRAM = { lowest: 1, highest: 3_600_000_000, figures: 3 } as const;

export function createLatencyHistogram(): RecordableHistogram {
  return createHistogram(HISTOGRAM);
}

/** The microseconds a histogram records for a latency of `ms`: at least 1, at most an hour. */
export function toMicros(ms: number): number {
  return Math.min(HISTOGRAM.highest, Math.max(1, Math.round(ms * 1000)));
}

/** End-to-end latency in milliseconds: send time to the moment the consumer had the message. */
export interface LatencySummary {
  /** How many messages were measured. */
  count: number;
  min: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** The percentiles of a histogram of microseconds, in ms; null when it holds nothing. */
export function latencySummary(histogram: RecordableHistogram): LatencySummary | null {
  if (histogram.count === 0) return null;
  const ms = (micros: number) => micros / 1000;
  return {
    count: histogram.count,
    min: ms(histogram.min),
    mean: ms(histogram.mean),
    p50: ms(histogram.percentile(50)),
    p95: ms(histogram.percentile(95)),
    p99: ms(histogram.percentile(99)),
    max: ms(histogram.max),
  };
}

/** Messages per second between two readings of a running count. */
export class RateWindow {
  private count = 0;

  constructor(private at: number) {}

  /** The rate since the previous reading (or since the start), and makes this the new previous one. */
  next(count: number, at: number): number {
    const rate = at > this.at ? ((count - this.count) * 1000) / (at - this.at) : 0;
    this.count = count;
    this.at = at;
    return rate;
  }
}

/** What the live line shows once a second. */
export interface LiveSample {
  elapsedMs: number;
  sent: number;
  confirmed: number;
  received: number;
  /** Per second, over the last interval. */
  sentRate: number;
  confirmedRate: number;
  receivedRate: number;
  /** Median latency of the messages received in the last interval, in ms; null when none came. */
  p50Ms: number | null;
}

/**
 * The running counts of one bench run, shared by its producers and consumers (one process, one
 * thread: plain fields). Times are performance.now() milliseconds.
 */
export class BenchStats {
  sent = 0;
  confirmed = 0;
  received = 0;
  /** Deliveries without a send time in them: not bench's messages, so not measured. */
  unstamped = 0;
  /** When the producers started; set by begin(). */
  startedAt = 0;
  lastSentAt = 0;
  lastConfirmedAt = 0;
  lastReceivedAt = 0;
  readonly latency = createLatencyHistogram();
  /** The latencies of the current live interval only. */
  private readonly recent = createLatencyHistogram();
  private rates = { sent: new RateWindow(0), confirmed: new RateWindow(0), received: new RateWindow(0) };
  private waiting: { target: number; resolve: () => void } | null = null;

  /** Marks the start of the run: rates and the elapsed time count from here. */
  begin(at: number): void {
    this.startedAt = at;
    this.lastSentAt = at;
    this.lastConfirmedAt = at;
    this.lastReceivedAt = at;
    this.rates = { sent: new RateWindow(at), confirmed: new RateWindow(at), received: new RateWindow(at) };
  }

  noteSent(at: number): void {
    this.sent += 1;
    this.lastSentAt = at;
  }

  noteConfirmed(at: number): void {
    this.confirmed += 1;
    this.lastConfirmedAt = at;
  }

  /** One delivery, received at `at`, carrying the send time `sentAt` (null: none). */
  noteReceived(sentAt: number | null, at: number): void {
    this.received += 1;
    this.lastReceivedAt = at;
    if (sentAt === null || sentAt > at) this.unstamped += 1;
    else {
      const micros = toMicros(at - sentAt);
      this.latency.record(micros);
      this.recent.record(micros);
    }
    if (this.waiting !== null && this.received >= this.waiting.target) {
      this.waiting.resolve();
      this.waiting = null;
    }
  }

  /** Resolves once `target` deliveries have been received (at once if they have). */
  whenReceived(target: number): Promise<void> {
    if (this.received >= target) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiting?.resolve();
      this.waiting = { target, resolve };
    });
  }

  /** The live line's figures for the interval since the previous sample; starts a new interval. */
  sample(at: number): LiveSample {
    const p50 = this.recent.count === 0 ? null : this.recent.percentile(50) / 1000;
    this.recent.reset();
    return {
      elapsedMs: at - this.startedAt,
      sent: this.sent,
      confirmed: this.confirmed,
      received: this.received,
      sentRate: this.rates.sent.next(this.sent, at),
      confirmedRate: this.rates.confirmed.next(this.confirmed, at),
      receivedRate: this.rates.received.next(this.received, at),
      p50Ms: p50,
    };
  }
}
