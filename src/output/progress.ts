import { formatRate, thousands } from './format.js';

/** What progress is measured against: a known number of messages, a known number of bytes, or nothing. */
export type ProgressTotal = { unit: 'messages'; total: number } | { unit: 'bytes'; total: number } | null;

export interface SendProgress {
  /** Called after each message: how many were sent and how many input bytes they used. */
  update(sent: number, bytes: number): void;
  /** Writes a line of its own above the bar (the bar is redrawn below it). */
  note(line: string): void;
  stop(): void;
}
/** Redraw at most this often: updating per message would cost more than the publishing. */
const REDRAW_EVERY_MS = 100;

/**
 * A progress bar with rate and ETA on stderr for long sends (cli-progress), shown only on a
 * terminal; with an unknown total (a pipe) it shows the count and rate without a bar.
 * cli-progress loads only for a terminal: a script's send does not pay for it.
 */
export async function createSendProgress(
  stream: NodeJS.WritableStream & { isTTY?: boolean },
  total: ProgressTotal,
): Promise<SendProgress> {
  if (!stream.isTTY) return { update: () => {}, note: (line) => stream.write(`${line}\n`), stop: () => {} };
  const { default: cliProgress } = await import('cli-progress');
  const started = performance.now();
  const bar = new cliProgress.SingleBar(
    {
      stream: stream as NodeJS.WritableStream,
      format:
        total === null
          ? ' sending | {sent} messages | {rate}'
          : ' sending [{bar}] {percentage}% | {sent} messages | {rate} | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: true,
      barsize: 24,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total?.total ?? 0, 0, { sent: '0', rate: '-' });
  let lastDraw = 0;
  const draw = (sent: number, bytes: number) => {
    const value = total?.unit === 'bytes' ? Math.min(bytes, total.total) : sent;
    bar.update(value, {
      sent: thousands(sent),
      rate: formatRate(sent, performance.now() - started),
    });
  };
  let latest = { sent: 0, bytes: 0 };
  return {
    update(sent, bytes) {
      latest = { sent, bytes };
      const now = performance.now();
      if (now - lastDraw < REDRAW_EVERY_MS) return;
      lastDraw = now;
      draw(sent, bytes);
    },
    note(line) {
      // Clear the bar's line, write ours, and draw the bar again on the line below.
      stream.write(`\r\x1b[2K${line}\n`);
      draw(latest.sent, latest.bytes);
    },
    stop() {
      draw(latest.sent, latest.bytes);
      bar.stop();
    },
  };
}
