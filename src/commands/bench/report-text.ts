import { formatDuration, plural, thousands } from '../../output/format.js';
import { DRAIN_MS, IDLE_MS } from './defaults.js';
import type { BenchPlan } from './plan.js';
import type { BenchSummary } from './report.js';
import type { LiveSample } from './stats.js';

/** The settings of a run that decide what it measures, in the order a class would read them. */
type RunShape = Pick<
  BenchPlan,
  | 'producers'
  | 'consumers'
  | 'queues'
  | 'queueType'
  | 'size'
  | 'persistent'
  | 'acknowledge'
  | 'prefetch'
  | 'confirmWindow'
  | 'rate'
>;

/** A latency for people: `0.43 ms`, `4.32 ms`, `43.2 ms`, `1,432 ms`: three figures at most after the first. */
export function formatLatency(ms: number): string {
  return `${latencyNumber(ms)} ms`;
}

/** The number part of formatLatency, for a table whose header carries the unit (ms). */
export function latencyNumber(ms: number): string {
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return thousands(Math.round(ms));
}

/** A --rate as given: `5,000`, `0.5` (grouping only whole numbers: decimals stay as typed). */
export function rateSetting(rate: number): string {
  return Number.isInteger(rate) ? thousands(rate) : String(rate);
}

/** A rate for people: `12,345 msg/s`, `45.6 msg/s`. */
export function rateNumber(perSecond: number): string {
  return perSecond >= 100 ? thousands(Math.round(perSecond)) : perSecond.toFixed(1);
}

/** The live line's figures for one second: rates, and the median latency of that second. */
export function liveFigures(
  sample: LiveSample,
  plan: Pick<BenchPlan, 'confirmWindow' | 'consumers'>,
): string {
  const parts = [`sent ${rateNumber(sample.sentRate)}/s`];
  if (plan.confirmWindow > 0) parts.push(`confirmed ${rateNumber(sample.confirmedRate)}/s`);
  if (plan.consumers > 0) {
    parts.push(`received ${rateNumber(sample.receivedRate)}/s`);
    parts.push(`p50 ${sample.p50Ms === null ? '-' : formatLatency(sample.p50Ms)}`);
  }
  return parts.join(', ');
}

/** `1 producer, 2 consumers, 1 classic queue`. */
export function describeClients(shape: RunShape): string {
  return `${plural(shape.producers, 'producer')}, ${plural(shape.consumers, 'consumer')}, ${shape.queues} ${shape.queueType} ${shape.queues === 1 ? 'queue' : 'queues'}`;
}

/** How messages travel: size, persistence, confirms, acks, pace. */
export function describeMessages(shape: RunShape): string {
  const parts = [
    `${sizeOf(shape)} ${shape.persistent ? 'persistent' : 'transient'} messages`,
    confirmsOf(shape),
  ];
  if (shape.consumers > 0) {
    parts.push(
      shape.acknowledge
        ? `manual acks, ${shape.prefetch === undefined ? 'no prefetch limit' : `prefetch ${shape.prefetch}`}`
        : 'auto-ack',
    );
  }
  parts.push(paceOf(shape));
  return parts.join(', ');
}

/** The --compare header: what every run shares (the rows vary the rest). */
export function compareHeader(plan: BenchPlan, broker: string): string {
  const length =
    plan.length.kind === 'count' ? plural(plan.length.count, 'message') : `${plan.length.seconds} s`;
  return `qtool bench --compare on ${broker}: ${length} per run; ${plural(plan.producers, 'producer')}, ${plural(plan.consumers, 'consumer')}, ${plural(plan.queues, 'queue')}; ${sizeOf(plan)} messages, ${confirmsOf(plan)}`;
}

/**
 * The lines under the --compare table: how to read it. received/s runs from the start to the last
 * message received, so a consumer slower than its producer shows below sent/s even when it caught
 * up after publishing stopped (in a timed run's drain, `timed`) and left no backlog.
 */
export function compareNotes(latencyRate: number, unsustained: boolean, timed: boolean): string[] {
  const until = timed
    ? `up to ${DRAIN_MS / 1000} s after publishing stopped`
    : `every one, unless ${IDLE_MS / 1000} s pass without one`;
  return [
    'Each row differs from the baseline in the setting it is named after, and runs twice: at full speed',
    '(throughput; backlog: messages still queued when the run ended, the consumer being behind), then at',
    `${rateSetting(latencyRate)} msg/s per producer (latency, end to end: at full speed it would mostly measure the backlog).`,
    `received/s counts until the last message received (${until}):`,
    'a consumer slower than its producer shows below sent/s even when it caught up.',
    'A quorum queue writes every message to disk, transient or not.',
    ...(unsustained
      ? [
          `* this row could not keep up with ${rateSetting(latencyRate)} msg/s: its latency includes time spent queued.`,
        ]
      : []),
  ];
}

function sizeOf(shape: Pick<RunShape, 'size'>): string {
  return `${thousands(shape.size)}-byte`;
}

function confirmsOf(shape: Pick<RunShape, 'confirmWindow'>): string {
  return shape.confirmWindow > 0
    ? `publisher confirms (at most ${thousands(shape.confirmWindow)} unconfirmed per producer)`
    : 'no publisher confirms';
}

function paceOf(shape: Pick<RunShape, 'rate'>): string {
  return shape.rate === undefined
    ? 'as fast as possible'
    : `at most ${rateSetting(shape.rate)} msg/s per producer`;
}

/**
 * What the settings mean for the figures, where the flags alone would mislead: a quorum queue or
 * a stream writes every message to disk whatever --persistent says, a stream gives every consumer
 * every message, the broker ignores a prefetch without manual acks.
 */
export function describeMeaning(shape: RunShape): string[] {
  const lines: string[] = [];
  if (shape.queueType !== 'classic') {
    lines.push(
      `a ${shape.queueType === 'quorum' ? 'quorum queue' : 'stream'} writes every message to disk, ${shape.persistent ? 'as --persistent asks' : 'transient or not'}`,
    );
  } else if (shape.persistent) {
    lines.push("persistent messages in bench's durable queues are written to disk");
  }
  if (shape.queueType === 'stream' && shape.consumers > shape.queues) {
    lines.push('every consumer of a stream reads every message: received counts each reading');
  }
  if (shape.consumers > 0 && !shape.acknowledge && shape.prefetch !== undefined) {
    lines.push('the prefetch is ignored: the broker does not limit auto-ack consumers');
  }
  return lines;
}

/** The summary of one run, as printed on stdout. */
export function summaryLines(summary: BenchSummary, shape: RunShape): string[] {
  const { settings } = summary;
  const length =
    settings.count !== null ? plural(settings.count, 'message') : `${settings.durationSeconds} s`;
  const how =
    summary.ended === 'interrupted'
      ? `interrupted after ${formatDuration(summary.elapsedMs)}, the figures so far`
      : summary.ended === 'failed'
        ? `failed after ${formatDuration(summary.elapsedMs)}, the figures so far`
        : `${length} in ${formatDuration(summary.elapsedMs)}`;
  const lines = [
    `qtool bench on ${summary.broker}: ${how}`,
    `  ${describeClients(shape)}; ${describeMessages(shape)}`,
    ...describeMeaning(shape).map((line) => `  (${line})`),
  ];
  const row = (label: string, count: number | null, rate: number | null, missing: string) =>
    `  ${label.padEnd(10)} ${count === null ? missing : thousands(count).padStart(12)}${
      count === null || rate === null ? '' : `  ${rateNumber(rate).padStart(10)} msg/s`
    }`;
  lines.push(row('sent', summary.sent, summary.rates.sent, ''));
  lines.push(
    row('confirmed', summary.confirmed, summary.rates.confirmed, '           - (no publisher confirms)'),
  );
  if (settings.consumers > 0) {
    lines.push(row('received', summary.received, summary.rates.received, ''));
    const latency = summary.latencyMs;
    lines.push(
      latency === null
        ? '  latency    - (nothing received)'
        : `  latency    p50 ${formatLatency(latency.p50)}, p95 ${formatLatency(latency.p95)}, p99 ${formatLatency(latency.p99)}, max ${formatLatency(latency.max)} (end to end, ${plural(latency.count, 'message')})`,
    );
  }
  for (const note of summary.notes) lines.push(`  note: ${note}`);
  for (const problem of summary.problems) lines.push(`  problem: ${problem}`);
  return lines;
}

/** The --compare table, and whether a row's latency run fell behind its rate (marked with `*`). */
export interface CompareTable {
  lines: string[];
  unsustained: boolean;
}

/**
 * The --compare table: one row per variant with the settings that make it, the throughput of its
 * full-speed run and the latency of its fixed-rate run, under a line naming the two.
 */
export function compareTable(summaries: readonly BenchSummary[]): CompareTable {
  const variants = [...new Set(summaries.map((summary) => summary.variant ?? 'run'))];
  const phaseOf = (variant: string, phase: 'throughput' | 'latency') =>
    summaries.find((summary) => (summary.variant ?? 'run') === variant && summary.phase === phase);
  const backlog = (summary: BenchSummary) => Math.max(summary.expectedReceived - summary.received, 0);
  const dash = (value: number | null | undefined, format: (n: number) => string) =>
    value === null || value === undefined ? '-' : format(value);
  let unsustained = false;
  let latencyRate: number | null = null;

  const rows = variants.map((variant) => {
    const throughput = phaseOf(variant, 'throughput');
    const latency = phaseOf(variant, 'latency');
    const shown = (throughput ?? latency) as BenchSummary;
    latencyRate ??= latency?.settings.rate ?? null;
    const cut = [throughput, latency].find(
      (summary) => summary !== undefined && summary.ended !== 'count' && summary.ended !== 'duration',
    );
    const behind = latency !== undefined && backlog(latency) > 0;
    if (behind) unsustained = true;
    const mark = behind ? '*' : '';
    const { settings } = shown;
    return [
      `${variant}${cut === undefined ? '' : ` (${cut.ended})`}`,
      settings.queueType,
      settings.persistent ? 'persistent' : 'transient',
      settings.acknowledge ? 'manual' : 'auto',
      settings.acknowledge ? dash(settings.prefetch, String) : '-',
      dash(throughput?.rates.sent, rateNumber),
      dash(throughput?.rates.received, rateNumber),
      throughput === undefined ? '-' : thousands(backlog(throughput)),
      ...(['p50', 'p95', 'p99', 'max'] as const).map((key) => {
        const value = latency?.latencyMs?.[key];
        return value === undefined ? '-' : `${latencyNumber(value)}${mark}`;
      }),
    ];
  });
  const header = [
    'variant',
    'queue',
    'delivery',
    'acks',
    'prefetch',
    'sent/s',
    'received/s',
    'backlog',
    'p50 ms',
    'p95 ms',
    'p99 ms',
    'max ms',
  ];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] as string).length)),
  );
  const gap = '  ';
  // Words to the left, figures to the right, as a class reads a table.
  const textColumns = 4;
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        column < textColumns
          ? cell.padEnd(widths[column] as number)
          : cell.padStart(widths[column] as number),
      )
      .join(gap)
      .trimEnd();
  const startOf = (column: number) =>
    widths.slice(0, column).reduce((sum, width) => sum + width + gap.length, 0);
  const groups = [
    { column: 5, title: 'full speed' },
    {
      column: 8,
      title: latencyRate === null ? 'latency' : `latency at ${rateSetting(latencyRate as number)} msg/s`,
    },
  ];
  let over = '';
  for (const group of groups) over = `${over.padEnd(startOf(group.column))}${group.title}`;
  return { lines: [over, line(header), ...rows.map(line)], unsustained };
}
