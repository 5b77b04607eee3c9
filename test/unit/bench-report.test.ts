import { describe, expect, it } from 'vitest';
import type { PublishResult } from '../../src/amqp/publish.js';
import { leftQueues } from '../../src/commands/bench/bench.js';
import { type BenchPlan, type BenchRequest, planBench } from '../../src/commands/bench/plan.js';
import { type BenchEnding, summarise } from '../../src/commands/bench/report.js';
import {
  compareNotes,
  compareTable,
  formatLatency,
  liveFigures,
  summaryLines,
} from '../../src/commands/bench/report-text.js';
import { temporaryQueueNames } from '../../src/commands/bench/run.js';
import { BenchStats } from '../../src/commands/bench/stats.js';
import { benchRequest } from './bench-request.js';

function plan(overrides: Partial<BenchRequest> = {}): BenchPlan {
  return planBench(benchRequest({ count: 100, ...overrides }))[0] as BenchPlan;
}

function published(sent: number, overrides: Partial<PublishResult> = {}): PublishResult {
  return {
    sent,
    confirmed: sent,
    nacked: 0,
    returned: 0,
    unconfirmed: 0,
    republished: 0,
    error: undefined,
    interrupted: false,
    blockedBy: null,
    ...overrides,
  };
}

/** A run of `sent` messages over one second, `received` of them received 2 ms after sending. */
function run(
  forPlan: BenchPlan,
  options: { sent: number; received: number; ended?: BenchEnding; result?: Partial<PublishResult> },
) {
  const stats = new BenchStats();
  stats.begin(0);
  for (let i = 0; i < options.sent; i += 1) stats.noteSent((1000 * (i + 1)) / options.sent);
  for (let i = 0; i < options.received; i += 1) stats.noteReceived(i, i + 2);
  return summarise({
    plan: forPlan,
    broker: 'amqp://guest@localhost:5672/%2F',
    queues: ['qtool-bench-x-1'],
    stats,
    results: [published(options.sent, options.result)],
    expectedReceived: forPlan.consumers === 0 ? 0 : options.sent,
    ended: options.ended ?? forPlan.length.kind,
    queuesLeft: [],
  });
}

describe('the summary', () => {
  it('adds up when every message was confirmed and received, with rates over each span', () => {
    const summary = run(plan(), { sent: 100, received: 100 });
    expect(summary).toMatchObject({ sent: 100, confirmed: 100, received: 100, problems: [], notes: [] });
    expect(summary.rates.sent).toBe(100);
    expect(summary.latencyMs?.p50).toBeCloseTo(2, 2);
  });

  it('calls a --count run that lost deliveries a problem, and a timed run that left a backlog a note', () => {
    expect(run(plan(), { sent: 100, received: 90 }).problems).toEqual([
      '10 of 100 deliveries never received',
    ]);
    const timed = run(plan({ count: undefined, durationSeconds: 1 }), { sent: 100, received: 90 });
    expect(timed.problems).toEqual([]);
    expect(timed.notes[0]).toMatch(/^10 messages still queued when the run ended/);
  });

  it('counts nacks and unconfirmed messages as problems', () => {
    const summary = run(plan(), {
      sent: 100,
      received: 97,
      result: { confirmed: 97, nacked: 2, unconfirmed: 1 },
    });
    expect(summary.problems).toEqual([
      '2 messages refused by the broker (nack)',
      '1 message never confirmed',
      '3 of 100 deliveries never received',
    ]);
  });

  it('says "no confirms" rather than claiming any without publisher confirms', () => {
    const noConfirms = plan({ confirm: 0 });
    const summary = run(noConfirms, { sent: 10, received: 10 });
    expect(summary.confirmed).toBeNull();
    expect(summary.rates.confirmed).toBeNull();
    const text = summaryLines(summary, noConfirms).join('\n');
    expect(text).toMatch(/no publisher confirms/);
    expect(text).toMatch(/confirmed +- \(no publisher confirms\)/);
    expect(liveFigures({ ...sample(), sentRate: 5 }, noConfirms)).toBe('sent 5.0/s, received 0.0/s, p50 -');
  });

  it('tells the truth about the ack mode, persistence and queue type in play', () => {
    const auto = summaryLines(run(plan(), { sent: 10, received: 10 }), plan()).join('\n');
    expect(auto).toMatch(/1 producer, 1 consumer, 1 classic queue; 12-byte transient messages, .* auto-ack/);
    const persistent = plan({ persistent: true, acknowledge: true, prefetch: 50 });
    expect(summaryLines(run(persistent, { sent: 1, received: 1 }), persistent).join('\n')).toMatch(
      /persistent messages, .*manual acks, prefetch 50[\s\S]*written to disk/,
    );
    const quorum = plan({ queueType: 'quorum' });
    expect(summaryLines(run(quorum, { sent: 1, received: 1 }), quorum).join('\n')).toMatch(
      /1 quorum queue; 12-byte transient messages[\s\S]*a quorum queue writes every message to disk, transient or not/,
    );
    const stream = plan({ queueType: 'stream', acknowledge: true, prefetch: 10, consumers: 2 });
    expect(summaryLines(run(stream, { sent: 1, received: 2 }), stream).join('\n')).toMatch(
      /every consumer of a stream reads every message/,
    );
    const publishOnly = plan({ consumers: 0 });
    const lines = summaryLines(run(publishOnly, { sent: 5, received: 0 }), publishOnly).join('\n');
    expect(lines).not.toMatch(/received|latency|auto-ack/);
  });

  it('says when the figures are only those so far', () => {
    const summary = run(plan({ count: undefined, durationSeconds: 5 }), {
      sent: 10,
      received: 10,
      ended: 'interrupted',
    });
    expect(summaryLines(summary, plan()).at(0)).toMatch(/interrupted after .*, the figures so far$/);
  });
});

describe('the --compare table', () => {
  const rows = planBench(benchRequest({ count: 10, compare: true }));

  it('has one aligned row per variant: the settings, the full-speed throughput, the latency at the fixed rate', () => {
    // Full speed: 10 messages in 1 s, 2 ms each; at the fixed rate: all 10 received too.
    const table = compareTable(rows.map((row) => run(row, { sent: 10, received: 10 })));
    expect(table.unsustained).toBe(false);
    const [groups, header, ...body] = table.lines;
    expect(groups).toMatch(/^ +full speed +latency at 1,000 msg\/s$/);
    expect(header).toMatch(
      /^variant +queue +delivery +acks +prefetch +sent\/s +received\/s +backlog +p50 ms/,
    );
    // The group titles stand over their columns.
    const at = (text: string | undefined, word: string) => (text as string).indexOf(word);
    expect(at(groups, 'full speed')).toBeGreaterThan(at(header, 'prefetch'));
    expect(at(groups, 'full speed')).toBeLessThanOrEqual(at(header, 'sent/s'));
    expect(at(groups, 'latency')).toBeGreaterThan(at(header, 'backlog'));
    expect(at(groups, 'latency')).toBeLessThanOrEqual(at(header, 'p50 ms'));
    expect(body).toHaveLength(5);
    expect(body[0]).toMatch(/^baseline +classic +transient +manual +100 +10\.0 +[\d.,]+ +0 +2\.00 /);
    expect(body[1]).toMatch(/^auto-ack +classic +transient +auto +- /);
    expect(body[2]).toMatch(/^prefetch 1 +classic +transient +manual +1 /);
    expect(body[3]).toMatch(/^persistent +classic +persistent +manual +100 /);
    expect(body[4]).toMatch(/^quorum queue +quorum +transient +manual +100 /);
    // Right-aligned figures: every row ends at the same column.
    expect(new Set([header, ...body].map((line) => line?.length)).size).toBe(1);
  });

  it('takes throughput from the full-speed run and latency from the paced one, and marks a row that fell behind', () => {
    const summaries = rows.map((row) =>
      row.phase === 'throughput'
        ? run(row, { sent: 10, received: 4 })
        : run(row, { sent: 10, received: row.variant === 'prefetch 1' ? 9 : 10 }),
    );
    const table = compareTable(summaries);
    expect(table.unsustained).toBe(true);
    // Backlog from the full-speed run (10 sent, 4 received); the latency p50 from the paced run.
    expect(table.lines[2]).toMatch(/^baseline .* 6 +2\.00 +2\.00 +2\.00 +2\.00$/);
    expect(table.lines[4]).toMatch(/^prefetch 1 .* 6 +2\.00\* +2\.00\* +2\.00\* +2\.00\*$/);
  });

  it('shows the rows an interrupted --compare got to, and says where it stopped', () => {
    const done = rows
      .slice(0, 3)
      .map((row, index) =>
        run(row, { sent: 10, received: 10, ...(index === 2 ? { ended: 'interrupted' as const } : {}) }),
      );
    const table = compareTable(done);
    expect(table.lines).toHaveLength(4);
    expect(table.lines[3]).toMatch(/^auto-ack \(interrupted\) .* - +- +- +-$/);
  });

  it("says received/s runs to the last message received, and how long a timed run's consumer had", () => {
    const timed = compareNotes(1000, false, true).join(' ');
    expect(timed).toContain(
      'received/s counts until the last message received (up to 2 s after publishing stopped)',
    );
    expect(timed).toContain('shows below sent/s even when it caught up');
    const counted = compareNotes(1000, false, false).join(' ');
    expect(counted).toContain('(every one, unless 5 s pass without one)');
    expect(counted).not.toContain('2 s');
    for (const line of [...compareNotes(1000, true, true), ...compareNotes(1000, true, false)]) {
      expect(line.length).toBeLessThanOrEqual(100);
    }
  });
});

describe('small things', () => {
  it('formats latencies with three significant figures or so', () => {
    expect(formatLatency(0.4321)).toBe('0.43 ms');
    expect(formatLatency(43.21)).toBe('43.2 ms');
    expect(formatLatency(4321.5)).toBe('4,322 ms');
  });

  it("names the run's queues uniquely and recognisably", () => {
    expect(temporaryQueueNames(2, 'ab12')).toEqual(['qtool-bench-ab12-1', 'qtool-bench-ab12-2']);
    const [first] = temporaryQueueNames(1);
    const [second] = temporaryQueueNames(1);
    expect(first).toMatch(/^qtool-bench-[0-9a-f]{8}-1$/);
    expect(first).not.toBe(second);
  });

  it('says which queues are left and how to delete each', () => {
    expect(leftQueues(['qtool-bench-ab12-1'], false)).toEqual({
      message: "could not delete bench's temporary queue qtool-bench-ab12-1: it is left on the broker",
      hint: [
        'Delete it with the same connection options once the broker answers:',
        '  qtool delete --queue qtool-bench-ab12-1 --force',
      ].join('\n'),
    });
    const two = leftQueues(['qtool-bench-ab12-1', 'qtool-bench-ab12-2'], true);
    expect(two.message).toBe(
      "stopped at once: bench's temporary queues qtool-bench-ab12-1, qtool-bench-ab12-2 are left on the broker",
    );
    expect(two.hint.split('\n')).toEqual([
      'Delete them with the same connection options:',
      '  qtool delete --queue qtool-bench-ab12-1 --force',
      '  qtool delete --queue qtool-bench-ab12-2 --force',
    ]);
  });
});

function sample() {
  return {
    elapsedMs: 1000,
    sent: 0,
    confirmed: 0,
    received: 0,
    sentRate: 0,
    confirmedRate: 0,
    receivedRate: 0,
    p50Ms: null,
  };
}
