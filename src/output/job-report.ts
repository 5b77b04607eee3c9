import { bodyForDisplay, bodyForJson } from '../body.js';
import { clockTime, formatDuration, plural } from './format.js';
import type { AckMode } from '../worker/policy.js';
import type { Style } from './style.js';

/** One job: a delivery and the run of the command it started. */
export interface JobInfo {
  body: Buffer;
  /** The message's id, or `#<delivery tag>` for a message sent without one. */
  label: string;
  messageId: string | undefined;
  redelivered: boolean;
  deliveryCount: number | null;
  deliveryTag: number;
  /** This attempt's number, from 1. */
  attempt: number;
}

/** What became of a failed job's message. */
export type FailureFate =
  | { kind: 'retry'; retry: number; of: number; delaySeconds: number; via: string }
  | { kind: 'failed-queue'; queue: string }
  | { kind: 'gone' };

/** What `qprocessor --exec` counts, for the line it stops with. */
export interface JobTally {
  received: number;
  succeeded: number;
  failed: number;
  retried: number;
  movedToFailed: number;
  /** Results of jobs whose connection was lost before they ended: dropped, the broker delivers again. */
  dropped: number;
  /** Of those dropped, how many had a copy confirmed into .retry or .failed first: duplicates. */
  droppedAfterCopy: number;
  /** Messages held unacked because nothing for them could be published (the broker refused it). */
  held: number;
  /** Auto-ack jobs stopped unfinished when the worker left on an error: their messages are lost. */
  lost: number;
  redelivered: number;
  reconnects: number;
}

export const emptyJobTally = (): JobTally => ({
  received: 0,
  succeeded: 0,
  failed: 0,
  retried: 0,
  movedToFailed: 0,
  dropped: 0,
  droppedAfterCopy: 0,
  held: 0,
  lost: 0,
  redelivered: 0,
  reconnects: 0,
});

/**
 * A job worker's life in qprocessor's style: time, name, what happened; the job's own output line
 * by line with the worker's name and the message id before it (its stdout on stdout, its stderr on
 * stderr). With `--json`, one JSON event per line on stdout, the job's output included.
 */
export interface JobReporter {
  received(job: JobInfo): void;
  output(job: JobInfo, stream: 'stdout' | 'stderr', line: string): void;
  succeeded(job: JobInfo, durationMs: number, acked: boolean): void;
  failed(job: JobInfo, reason: string, durationMs: number, fate: FailureFate): void;
  replied(job: JobInfo, replyTo: string): void;
  /**
   * The job ended after its connection or channel was lost: not acked. `copiedInto`: the queue a
   * copy of it was confirmed into before that (the original comes again too: a duplicate).
   */
  dropped(job: JobInfo, succeeded: boolean, copiedInto?: string): void;
  notice(text: string): void;
  warn(text: string): void;
  /** The closing tally; `unstarted`: messages delivered but never run (lost with auto-ack). */
  tally(tally: JobTally, ackMode: AckMode, unstarted: number): void;
}

export interface JobReporterOptions {
  name: string;
  json: boolean;
  style: Style;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  now?: () => Date;
}

export function createJobReporter(options: JobReporterOptions): JobReporter {
  const { name, json, style, stdout, stderr } = options;
  const now = options.now ?? (() => new Date());
  const colour = style.worker(name);

  const emit = (event: string, job: JobInfo, extra: Record<string, unknown> = {}) => {
    const record = {
      event,
      worker: name,
      messageId: job.messageId ?? null,
      ...bodyForJson(job.body),
      redelivered: job.redelivered,
      ...(job.deliveryCount === null ? {} : { deliveryCount: job.deliveryCount }),
      deliveryTag: job.deliveryTag,
      attempt: job.attempt,
      ...extra,
      ts: now().toISOString(),
    };
    stdout.write(`${JSON.stringify(record)}\n`);
  };
  const line = (stream: NodeJS.WritableStream, text: string) =>
    stream.write(`${colour(`${clockTime(now())} ${name}`)} ${text}\n`);
  const marks = (job: JobInfo) => {
    const found = [
      job.redelivered ? 'redelivered' : null,
      job.deliveryCount === null ? null : `x-delivery-count ${job.deliveryCount}`,
      job.attempt > 1 ? `attempt ${job.attempt}` : null,
    ].filter((mark) => mark !== null);
    return found.length === 0 ? '' : ` ${style.warn(`(${found.join(', ')})`)}`;
  };
  const fateWords = (fate: FailureFate) => {
    if (fate.kind === 'retry') {
      return `retry ${fate.retry} of ${fate.of} in ${fate.delaySeconds} s via '${fate.via}', acked`;
    }
    if (fate.kind === 'failed-queue') return `moved to '${fate.queue}', acked`;
    return 'cannot be retried (auto-ack: the broker removed it on delivery)';
  };

  return {
    received(job) {
      if (json) return emit('received', job);
      line(stdout, `${colour('received ')} ${bodyForDisplay(job.body)} ${style.dim(job.label)}${marks(job)}`);
    },
    output(job, stream, text) {
      if (json) return emit('output', job, { stream, line: text });
      line(stream === 'stdout' ? stdout : stderr, `${style.dim(`${job.label} |`)} ${text}`);
    },
    succeeded(job, durationMs, acked) {
      if (json) {
        emit('processed', job, { exitCode: 0, durationMs: Math.round(durationMs) });
        if (acked) emit('acked', job);
        return;
      }
      line(
        stdout,
        `${colour('processed')} ${bodyForDisplay(job.body)} ${style.dim(`${job.label} exit 0 in ${formatDuration(durationMs)}${acked ? ', acked' : ''}`)}`,
      );
    },
    failed(job, reason, durationMs, fate) {
      if (json) {
        emit('failed', job, { reason, durationMs: Math.round(durationMs), fate: fate.kind });
        if (fate.kind !== 'gone') emit('acked', job);
        return;
      }
      line(
        stdout,
        `${style.error(style.bold('FAILED   '))} ${bodyForDisplay(job.body)} ${style.dim(`${job.label} ${reason} in ${formatDuration(durationMs)}: ${fateWords(fate)}`)}`,
      );
    },
    replied(job, replyTo) {
      if (json) return emit('replied', job, { replyTo });
      line(stdout, `${colour('replied  ')} ${style.dim(`${job.label} to '${replyTo}'`)}`);
    },
    dropped(job, succeeded, copiedInto) {
      if (json)
        return emit('dropped', job, { succeeded, ...(copiedInto === undefined ? {} : { copiedInto }) });
      const what =
        copiedInto === undefined
          ? `${succeeded ? 'succeeded' : 'failed'} after its connection was lost: not acked, the broker delivers it again`
          : `failed; its copy is in '${copiedInto}', but its connection was lost before the ack: the broker delivers the original again too (a duplicate)`;
      line(
        stdout,
        `${style.warn('dropped  ')} ${bodyForDisplay(job.body)} ${style.dim(`${job.label} ${what}`)}`,
      );
    },
    notice(text) {
      stderr.write(`${colour(name)} ${text}\n`);
    },
    warn(text) {
      stderr.write(`${colour(name)} ${style.warn(`warning: ${text}`)}\n`);
    },
    tally(tally, ackMode, unstarted) {
      const unstartedLost = ackMode === 'auto' ? unstarted : 0;
      const parts = [
        `${plural(tally.received, 'message')} received`,
        `${tally.succeeded} succeeded`,
        ackMode === 'auto'
          ? `${tally.failed} failed (gone: with auto-ack a failed job's message cannot be kept)`
          : `${tally.failed} failed (${tally.retried} retried, ${tally.movedToFailed} moved to the failed queue)`,
        ...(tally.dropped > 0
          ? [
              `${tally.dropped} dropped with a lost connection${tally.droppedAfterCopy > 0 ? ` (${tally.droppedAfterCopy} of them also copied to the retry or failed queue: duplicates)` : ''}`,
            ]
          : []),
        ...(tally.held > 0 ? [`${tally.held} held unacked (the broker refused their outcome)`] : []),
        ...(tally.lost > 0 ? [`${tally.lost} lost (auto-ack jobs stopped unfinished)`] : []),
        `${tally.redelivered} redelivered seen`,
        ...(tally.reconnects > 0
          ? [`${tally.reconnects} reconnect${tally.reconnects === 1 ? '' : 's'}`]
          : []),
      ];
      stderr.write(`${colour(name)} ${style.bold('stopped:')} ${parts.join(', ')}\n`);
      if (unstartedLost > 0) {
        stderr.write(
          `${colour(name)} ${style.warn(`${plural(unstartedLost, 'message')} had arrived but ${unstartedLost === 1 ? 'was' : 'were'} never run; with auto-ack the broker had already removed ${unstartedLost === 1 ? 'it, so it is' : 'them, so they are'} lost.`)}\n`,
        );
      }
    },
  };
}
