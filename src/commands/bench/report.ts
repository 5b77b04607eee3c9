import type { PublishResult } from '../../amqp/publish.js';
import type { QueueType } from '../../amqp/queue-type.js';
import { plural, thousands } from '../../output/format.js';
import type { BenchPlan, ComparePhase } from './plan.js';
import { type BenchStats, type LatencySummary, latencySummary } from './stats.js';

/** Why a run ended. */
export type BenchEnding = 'count' | 'duration' | 'interrupted' | 'failed';

/** What one run measured: the human summary is printed from it, and --json is it serialised. */
export interface BenchSummary {
  /** The --compare row, or null for a plain run. */
  variant: string | null;
  /** Which of its row's runs: at full speed for throughput, at a fixed rate for latency; null for a plain run. */
  phase: ComparePhase | null;
  /** The broker, its password masked. */
  broker: string;
  settings: {
    producers: number;
    consumers: number;
    queues: string[];
    queueType: QueueType;
    size: number;
    persistent: boolean;
    acknowledge: boolean;
    /** null: no prefetch limit. */
    prefetch: number | null;
    /** Unconfirmed messages per producer; 0: no publisher confirms. */
    confirmWindow: number;
    /** Per producer; null: as fast as the broker takes them. */
    rate: number | null;
    count: number | null;
    durationSeconds: number | null;
  };
  ended: BenchEnding;
  /** Messages handed to the broker. */
  sent: number;
  /** Confirmed by the broker; null without publisher confirms. */
  confirmed: number | null;
  /** Deliveries the consumers received (with a stream, every consumer receives every message). */
  received: number;
  /** Deliveries the consumers should have received for what the broker accepted. */
  expectedReceived: number;
  nacked: number;
  returned: number;
  unconfirmed: number;
  /** From the start of publishing to the last message sent, confirmed or received. */
  elapsedMs: number;
  /** Messages per second, each over its own span: from the start to the last one of its kind. */
  rates: { sent: number | null; confirmed: number | null; received: number | null };
  /** End to end, from the send time in each body; null when nothing was received. */
  latencyMs: LatencySummary | null;
  /** What went wrong with the messages (exit 1): nacks, losses. */
  problems: string[];
  /** True facts worth saying (a backlog left when the time was up). */
  notes: string[];
  /** The temporary queues that could not be deleted. */
  queuesLeft: string[];
}

export interface RunFigures {
  plan: BenchPlan;
  broker: string;
  queues: string[];
  stats: BenchStats;
  results: PublishResult[];
  expectedReceived: number;
  ended: BenchEnding;
  queuesLeft: string[];
}

/** The summary of a finished run, with the counts checked against each other. */
export function summarise(figures: RunFigures): BenchSummary {
  const { plan, stats, results, expectedReceived, ended } = figures;
  const confirms = plan.confirmWindow > 0;
  const total = (key: 'sent' | 'confirmed' | 'nacked' | 'returned' | 'unconfirmed') =>
    results.reduce((sum, result) => sum + result[key], 0);
  const sent = total('sent');
  const confirmed = total('confirmed');
  const nacked = total('nacked');
  const returned = total('returned');
  const unconfirmed = total('unconfirmed');
  const lastAt = Math.max(stats.lastSentAt, stats.lastConfirmedAt, stats.lastReceivedAt);
  const rate = (count: number, at: number) =>
    count === 0 ? null : (count * 1000) / Math.max(at - stats.startedAt, 1);

  const problems: string[] = [];
  const notes: string[] = [];
  if (nacked > 0) problems.push(`${plural(nacked, 'message')} refused by the broker (nack)`);
  if (returned > 0) problems.push(`${plural(returned, 'message')} returned as unroutable`);
  if (unconfirmed > 0) {
    problems.push(
      confirms
        ? `${plural(unconfirmed, 'message')} never confirmed`
        : `${plural(unconfirmed, 'message')} unaccounted for (no publisher confirms, and no answer after them)`,
    );
  }
  const missing = expectedReceived - stats.received;
  if (missing > 0) {
    // A --count run waits for every message; a run cut short by time or Ctrl-C leaves the backlog.
    if (ended === 'count') {
      problems.push(`${thousands(missing)} of ${thousands(expectedReceived)} deliveries never received`);
    } else if (ended !== 'failed') {
      notes.push(
        `${plural(missing, 'message')} still queued when the run ended (the consumers were behind; deleted with the queues)`,
      );
    }
  }
  if (stats.unstamped > 0) {
    problems.push(`${thousands(stats.unstamped)} deliveries without a send time (not bench's messages)`);
  }

  return {
    variant: plan.variant,
    phase: plan.phase,
    broker: figures.broker,
    settings: {
      producers: plan.producers,
      consumers: plan.consumers,
      queues: figures.queues,
      queueType: plan.queueType,
      size: plan.size,
      persistent: plan.persistent,
      acknowledge: plan.acknowledge,
      prefetch: plan.prefetch ?? null,
      confirmWindow: plan.confirmWindow,
      rate: plan.rate ?? null,
      count: plan.length.kind === 'count' ? plan.length.count : null,
      durationSeconds: plan.length.kind === 'duration' ? plan.length.seconds : null,
    },
    ended,
    sent,
    confirmed: confirms ? confirmed : null,
    received: stats.received,
    expectedReceived,
    nacked,
    returned,
    unconfirmed,
    elapsedMs: round(Math.max(lastAt - stats.startedAt, 0), 1),
    rates: {
      sent: roundOrNull(rate(sent, stats.lastSentAt), 1),
      confirmed: confirms ? roundOrNull(rate(confirmed, stats.lastConfirmedAt), 1) : null,
      received: roundOrNull(rate(stats.received, stats.lastReceivedAt), 1),
    },
    latencyMs: roundLatency(latencySummary(stats.latency)),
    problems,
    notes,
    queuesLeft: figures.queuesLeft,
  };
}

/** Figures as precise as they are meaningful: a tenth of a ms or msg/s, latencies to the microsecond. */
function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

function roundOrNull(value: number | null, decimals: number): number | null {
  return value === null ? null : round(value, decimals);
}

function roundLatency(latency: LatencySummary | null): LatencySummary | null {
  if (latency === null) return null;
  return { ...latency, mean: round(latency.mean, 3) };
}
