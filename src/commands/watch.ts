import { type ConnectionSettings, maskedUrl } from '../config/connection.js';
import { plainLine, rememberSample, renderWatchFrame, type SparklineHistory } from '../output/queue-table.js';
import { colorLevel, createStyle } from '../output/style.js';
import { type CommandIo, writeLine } from './io.js';
import { missingQueuesError, type SamplerOptions, withQueueSampler } from './queue-sampler.js';
import type { ReconnectOptions } from './with-link.js';

export interface WatchOptions extends SamplerOptions {
  intervalSeconds: number;
  /** Stop after this many samples. */
  count: number | undefined;
  /** One JSON document per sample and line, as `status --json` gives. */
  json: boolean;
  /** A lost connection comes back in the background while the watch goes on (--no-reconnect: it does not). */
  reconnect: ReconnectOptions;
}

/** Depth samples kept per queue: more than any pane is wide. */
const HISTORY_LENGTH = 200;
const DEFAULT_COLUMNS = 80;
const DEFAULT_ROWS = 24;

const ESC = '\x1b[';
const HIDE_CURSOR = `${ESC}?25l`;
const SHOW_CURSOR = `${ESC}?25h`;
const CLEAR_SCREEN = `${ESC}2J`;
const HOME = `${ESC}H`;
const CLEAR_TO_LINE_END = `${ESC}K`;
const CLEAR_BELOW = `${ESC}J`;

/** q, and Ctrl-C and Ctrl-D: in raw mode they arrive as bytes, not as SIGINT or end of input. */
const QUIT_KEYS = new Set(['q', 'Q', '\u0003', '\u0004']);

/**
 * `qtool watch [queue...]`: `status` again and again. On a terminal it redraws one screen in place
 * with a sparkline of each queue's depth and quits on q or Ctrl-C; into a pipe or file it writes
 * one plain timestamped line per queue per sample.
 */
export async function runWatch(
  settings: ConnectionSettings,
  options: WatchOptions,
  io: CommandIo,
): Promise<number> {
  return withQueueSampler(settings, options, 'watch', async (sampler) => {
    const screen = Boolean(io.stdout.isTTY) && !options.json;
    const style = createStyle(screen ? colorLevel(io.env, true) : 0);

    let stopped = false;
    let wake: () => void = () => {};
    const stop = () => {
      stopped = true;
      wake();
    };
    const stopListening = io.onInterrupt((count) => {
      if (count > 1) io.exitNow(130);
      stop();
    });
    // `qtool watch | head`: when the reader goes away, stop rather than crash on EPIPE.
    io.stdout.on('error', stop);
    const releaseKeys = screen ? listenForQuitKeys(io.stdin, stop) : () => {};
    if (screen) io.stdout.write(`${HIDE_CURSOR}${CLEAR_SCREEN}`);

    const history = new Map<string, SparklineHistory>();
    const title = `qtool watch ${maskedUrl(settings)}, every ${options.intervalSeconds} s; q quits`;
    try {
      for (let samples = 0; !stopped; ) {
        const started = Date.now();
        const rows = await sampler.sample();
        // Into a pipe, stderr says where the figures come from once, after the first sample shows
        // what answered, and again only when that changes. On the screen, the note line says it.
        const notices = sampler.takeNotices();
        if (!screen) {
          if (samples === 0) writeLine(io.stderr, sampler.note);
          else for (const notice of notices) writeLine(io.stderr, notice);
        }
        // A named queue that does not exist yet is watched all the same: in a lab the watch pane
        // starts before the workers declare the queue, and a deleted queue may come back. Its row
        // says it is missing; into a pipe, stderr says so once.
        if (samples === 0 && !screen) {
          const missing = missingQueuesError(rows, settings.vhost);
          if (missing) writeLine(io.stderr, `${missing.message} yet; watching for it`);
        }
        rememberSample(history, rows, sampler.liveReady, HISTORY_LENGTH);
        const time = new Date();
        if (options.json) {
          writeLine(
            io.stdout,
            JSON.stringify({ ts: time.toISOString(), source: sampler.source, queues: rows }),
          );
        } else if (screen) {
          const size = io.stdout as { columns?: number; rows?: number };
          const lines = renderWatchFrame({
            title,
            note: sampler.shortNote,
            time,
            rows,
            history,
            width: size.columns ?? DEFAULT_COLUMNS,
            // One row spare, so the terminal never scrolls.
            height: (size.rows ?? DEFAULT_ROWS) - 1,
            style,
          });
          io.stdout.write(
            `${HOME}${lines.map((line) => `${line}${CLEAR_TO_LINE_END}`).join('\n')}${CLEAR_BELOW}`,
          );
        } else {
          for (const row of rows) writeLine(io.stdout, plainLine(time, row));
        }
        samples += 1;
        if (options.count !== undefined && samples >= options.count) break;
        const wait = Math.max(0, started + options.intervalSeconds * 1000 - Date.now());
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      return 0;
    } finally {
      releaseKeys();
      stopListening();
      io.stdout.off('error', stop);
      // Leave the last screen visible, with the cursor back and below it.
      if (screen) io.stdout.write(`${SHOW_CURSOR}\n`);
    }
  });
}

/**
 * Raw mode on a terminal's stdin, so q quits without Enter; returns the function that restores it.
 * Without a terminal on stdin, Ctrl-C (SIGINT) is the way out.
 */
function listenForQuitKeys(stdin: CommandIo['stdin'], quit: () => void): () => void {
  const input = stdin as CommandIo['stdin'] & { setRawMode?: (mode: boolean) => unknown };
  if (!input.isTTY || typeof input.setRawMode !== 'function') return () => {};
  const onData = (chunk: Buffer | string) => {
    if ([...chunk.toString()].some((key) => QUIT_KEYS.has(key))) quit();
  };
  input.setRawMode(true);
  input.on('data', onData);
  input.resume();
  return () => {
    input.off('data', onData);
    input.setRawMode?.(false);
    input.pause();
  };
}
