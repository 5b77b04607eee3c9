import cliProgress from 'cli-progress';
import { thousands } from './format.js';

/** bench's live line on stderr: where the run is, and the last second's figures. */
export interface LiveDisplay {
  /** Shows `done` of the display's total and the figures of the last second. */
  update(done: number, figures: string): void;
  /** Writes a line of its own above the live line (which is drawn again below it). */
  note(line: string): void;
  /** Takes the live line away (on a terminal) before the summary is printed. */
  stop(): void;
}

export interface LiveDisplayOptions {
  /** What the run is: `bench`, or a --compare row. */
  label: string;
  /** What the bar measures against: messages for --count, seconds for --duration. */
  total: number;
  unit: 'messages' | 'seconds';
}

/**
 * On a terminal, one line redrawn in place with a progress bar (cli-progress); into a pipe or a
 * file, one plain line per update, so a log of the run reads top to bottom.
 */
export function createLiveDisplay(
  stream: NodeJS.WritableStream & { isTTY?: boolean },
  options: LiveDisplayOptions,
): LiveDisplay {
  // The ticker fires about once a second, a little early or late: rounded, the k-th tick reads k
  // (floored, a tick at 0.999 s read 0 and the next one 2, skipping 1).
  const of = (done: number) =>
    options.unit === 'seconds'
      ? `${Math.round(Math.min(done, options.total))}/${options.total} s`
      : `${thousands(done)}/${thousands(options.total)}`;
  if (!stream.isTTY) {
    return {
      update: (done, figures) => stream.write(`${options.label} ${of(done)}: ${figures}\n`),
      note: (line) => stream.write(`${line}\n`),
      stop: () => {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream: stream as NodeJS.WritableStream,
      format: ' {label} [{bar}] {of} | {figures}',
      hideCursor: true,
      clearOnComplete: true,
      barsize: 20,
      // Redrawn when bench has new figures, once a second; no timer of the bar's own.
      fps: 1,
      linewrap: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let latest = { done: 0, figures: 'starting' };
  bar.start(options.total, 0, { label: options.label, of: of(0), figures: latest.figures });
  const draw = () =>
    bar.update(Math.min(latest.done, options.total), {
      label: options.label,
      of: of(latest.done),
      figures: latest.figures,
    });
  return {
    update(done, figures) {
      latest = { done, figures };
      draw();
    },
    note(line) {
      stream.write(`\r\x1b[2K${line}\n`);
      draw();
    },
    stop() {
      bar.stop();
    },
  };
}
