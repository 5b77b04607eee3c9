import { clockTime } from './format.js';
import type { Style } from './style.js';

/** One queue's figures from one sample; null where the source cannot tell. */
export interface QueueFigures {
  name: string;
  ready: number | null;
  unacked: number | null;
  /**
   * ready + unacked at one moment: the management API's own figure, from the same sample as its
   * unacked count. Never a sum of figures from different moments, so it may differ from the
   * live ready count shown beside it plus unacked.
   */
  total: number | null;
  consumers: number | null;
  /** Messages per second, averaged by the management plugin. */
  publishRate: number | null;
  deliverRate: number | null;
  ackRate: number | null;
  redeliverRate: number | null;
  /** Set by `watch` when a queue it was showing has been deleted. */
  gone?: true;
}

type FigureKey = Exclude<keyof QueueFigures, 'name' | 'gone'>;

interface Column {
  key: FigureKey;
  header: string;
  kind: 'count' | 'rate';
}

/** The table's columns after the name, left to right. */
export const COLUMNS: readonly Column[] = [
  { key: 'ready', header: 'ready', kind: 'count' },
  { key: 'unacked', header: 'unacked', kind: 'count' },
  { key: 'total', header: 'total', kind: 'count' },
  { key: 'consumers', header: 'consumers', kind: 'count' },
  { key: 'publishRate', header: 'pub/s', kind: 'rate' },
  { key: 'deliverRate', header: 'deliver/s', kind: 'rate' },
  { key: 'ackRate', header: 'ack/s', kind: 'rate' },
];

const NAME_HEADER = 'queue';
const GAP = '  ';
/** A name is never cut shorter than this, even if the line then has to be cut. */
const MIN_NAME_WIDTH = 6;
const ELLIPSIS = '…';
const BARS = '▁▂▃▄▅▆▇█';

/** A count as shown: `-` when unknown. */
export function formatCount(value: number | null): string {
  return value === null ? '-' : String(value);
}

/** A rate as shown: one decimal below 100/s, whole numbers above, `-` when unknown. */
export function formatRateValue(value: number | null): string {
  if (value === null) return '-';
  return value >= 100 ? String(Math.round(value)) : value.toFixed(1);
}

function cell(figures: QueueFigures, column: Column): string {
  if (figures.gone) return '-';
  const value = figures[column.key];
  return column.kind === 'count' ? formatCount(value) : formatRateValue(value);
}

/** Cuts `text` to `width` characters, marking the cut with an ellipsis. */
export function truncate(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  if (width <= 0) return '';
  return `${chars.slice(0, width - 1).join('')}${ELLIPSIS}`;
}

function displayName(figures: QueueFigures): string {
  return figures.gone ? `${figures.name} (missing)` : figures.name;
}

export interface TableOptions {
  /** Cut every line to this many columns (a terminal's width); unlimited when absent. */
  maxWidth?: number | undefined;
  style?: Style | undefined;
}

/**
 * The status table: a header and one line per queue, numbers right-aligned, each column as wide as
 * its widest cell. With maxWidth, long queue names are shortened first, then lines are cut.
 */
export function renderTable(rows: readonly QueueFigures[], options: TableOptions = {}): string[] {
  const cells = rows.map((row) => COLUMNS.map((column) => cell(row, column)));
  const widths = COLUMNS.map((column, index) =>
    Math.max(column.header.length, ...cells.map((line) => (line[index] ?? '').length)),
  );
  let nameWidth = Math.max(NAME_HEADER.length, ...rows.map((row) => [...displayName(row)].length));
  if (options.maxWidth !== undefined) {
    const fixed = widths.reduce((sum, width) => sum + GAP.length + width, 0);
    nameWidth = Math.max(MIN_NAME_WIDTH, Math.min(nameWidth, options.maxWidth - fixed));
  }
  const line = (name: string, values: readonly string[]) => {
    const text = [
      truncate(name, nameWidth).padEnd(nameWidth),
      ...values.map((value, index) => value.padStart(widths[index] ?? 0)),
    ].join(GAP);
    return options.maxWidth === undefined ? text : truncate(text, options.maxWidth);
  };
  const header = line(
    NAME_HEADER,
    COLUMNS.map((column) => column.header),
  );
  return [
    options.style ? options.style.bold(header) : header,
    ...rows.map((row, index) => line(displayName(row), cells[index] ?? [])),
  ];
}

/**
 * A sparkline of the last `width` samples, oldest first, scaled from 0 to the largest shown value,
 * so an empty queue is `▁` and the peak is `█`; any non-zero depth rises above the floor.
 * Unknown samples (null) are blanks.
 */
export function sparkline(values: readonly (number | null)[], width: number): string {
  if (width <= 0) return '';
  const shown = values.slice(-width);
  const max = Math.max(0, ...shown.map((value) => value ?? 0));
  return shown
    .map((value) => {
      if (value === null) return ' ';
      if (value <= 0 || max === 0) return BARS[0];
      const level = Math.max(1, Math.ceil((value / max) * (BARS.length - 1)));
      return BARS[Math.min(level, BARS.length - 1)];
    })
    .join('');
}

/** What a queue's sparkline draws: its ready messages, or every message (depth). */
export type SparklineLabel = 'ready' | 'depth';

/** One queue's sparkline samples, all of one kind, oldest first. */
export interface SparklineHistory {
  label: SparklineLabel;
  samples: (number | null)[];
}

/**
 * The figure a sparkline draws for one sample: the live ready count when there is one (so the
 * line follows messages as they arrive and drain), else the depth when known (the API's own
 * total, up to 5 s old), else the ready count. Null for a deleted queue.
 */
export function sparklineFigure(
  figures: QueueFigures,
  readyIsLive: boolean,
): { label: SparklineLabel; value: number | null } {
  if (readyIsLive || figures.total === null) {
    return { label: 'ready', value: figures.gone ? null : figures.ready };
  }
  return { label: 'depth', value: figures.gone ? null : figures.total };
}

/**
 * Appends each queue's sparkline figure to its history, keeping at most `limit` samples. When
 * the kind of figure changes (the source changed), the history starts over rather than mix two
 * kinds in one line. A deleted queue gets a blank; queues no longer listed are forgotten.
 */
export function rememberSample(
  history: Map<string, SparklineHistory>,
  rows: readonly QueueFigures[],
  readyIsLive: boolean,
  limit: number,
): void {
  const seen = new Set<string>();
  for (const row of rows) {
    seen.add(row.name);
    const { label, value } = sparklineFigure(row, readyIsLive);
    let entry = history.get(row.name);
    if (entry === undefined || (entry.label !== label && !row.gone)) {
      entry = { label, samples: [] };
      history.set(row.name, entry);
    }
    entry.samples.push(value);
    if (entry.samples.length > limit) entry.samples.splice(0, entry.samples.length - limit);
  }
  for (const name of history.keys()) if (!seen.has(name)) history.delete(name);
}

/** One sample of one queue as a plain line, for `watch` into a pipe or file: no colour, no redraw. */
export function plainLine(time: Date, figures: QueueFigures): string {
  const parts = COLUMNS.map((column) => `${column.header}=${cell(figures, column)}`);
  if (figures.redeliverRate !== null && !figures.gone) {
    parts.push(`redeliver/s=${formatRateValue(figures.redeliverRate)}`);
  }
  return `${clockTime(time)} ${displayName(figures)} ${parts.join(' ')}`;
}

export interface WatchFrame {
  /** The first line: what is watched and how to quit. */
  title: string;
  /** The second line after the time: which source, and what it cannot tell. */
  note: string;
  time: Date;
  rows: readonly QueueFigures[];
  /** Sparkline samples per queue name. */
  history: ReadonlyMap<string, SparklineHistory>;
  width: number;
  height: number;
  style?: Style | undefined;
}

/**
 * The full-screen `watch` view, at most `height` lines of at most `width` columns: a title, the
 * time and source, then per queue its table line and a sparkline of its depth.
 */
export function renderWatchFrame(frame: WatchFrame): string[] {
  const { width, height, style } = frame;
  const clip = (text: string) => truncate(text, width);
  const lines = [clip(frame.title), clip(`${clockTime(frame.time)}  ${frame.note}`), ''];
  const table = renderTable(frame.rows, { maxWidth: width, style });
  lines.push(table[0] ?? '');
  // Two lines per queue; keep one line for "and N more" when they do not all clip.
  const room = Math.max(0, height - lines.length);
  const fitting = frame.rows.length * 2 <= room ? frame.rows.length : Math.max(0, Math.floor((room - 1) / 2));
  frame.rows.slice(0, fitting).forEach((row, index) => {
    lines.push(table[index + 1] ?? '');
    lines.push(historyLine(row, frame.history.get(row.name), width, style));
  });
  const hidden = frame.rows.length - fitting;
  if (hidden > 0) lines.push(clip(`… and ${hidden} more; name the queues to watch, or enlarge the pane`));
  return lines.slice(0, Math.max(0, height));
}

function historyLine(
  row: QueueFigures,
  history: SparklineHistory | undefined,
  width: number,
  style: Style | undefined,
): string {
  const samples = history?.samples ?? [];
  const known = samples.filter((value): value is number => value !== null);
  const label = history?.label ?? 'ready';
  let suffix = known.length === 0 ? '' : `  max ${Math.max(...known)}`;
  if (row.redeliverRate !== null && row.redeliverRate > 0) {
    suffix += `  redelivered ${formatRateValue(row.redeliverRate)}/s`;
  }
  const prefix = `  ${label} `;
  const line = sparkline(samples, width - prefix.length - suffix.length);
  if (line === '') return truncate(`${prefix}${suffix}`, width);
  return `${prefix}${style ? style.ok(line) : line}${suffix}`;
}
