import { stat } from 'node:fs/promises';
import { explainAmqpError } from '../amqp/explain.js';
import { type PublishResult, publishAll } from '../amqp/publish.js';
import { type DurabilityRequest, ensureQueue } from '../amqp/queue.js';
import { type ConnectionSettings, maskedUrl } from '../config/connection.js';
import { QtoolError } from '../errors.js';
import { formatDuration, formatRate, plural } from '../output/format.js';
import { createSendProgress, type ProgressTotal } from '../output/progress.js';
import { type CommandIo, writeLine } from './io.js';
import { checkSource, type MessageSource, messagesFrom } from './send-input.js';
import { withSession } from './with-session.js';

export interface SendOptions {
  source: MessageSource;
  /** Send the whole set this many times. */
  count: number;
  persistent: boolean;
  /** undefined: the default exchange, routed by queue name. */
  exchange: string | undefined;
  routingKey: string | undefined;
  confirm: boolean;
  quiet: boolean;
  durability: DurabilityRequest;
}

export interface SendReport extends PublishResult {
  destination: string;
  elapsedMs: number;
}

/** `qtool send`: publishes each argument, or each line of a file or of standard input. */
export async function runSend(
  settings: ConnectionSettings,
  options: SendOptions,
  io: CommandIo,
): Promise<number> {
  await checkSource(options.source);
  const interrupt = new AbortController();
  const stopListening = io.onInterrupt((count) => {
    if (count > 1) io.exitNow(130);
    interrupt.abort();
    // A blocked read of standard input only ends when the stream does.
    if (options.source.kind === 'stdin')
      (options.source.stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
  });
  try {
    return await withSession(settings, 'send', async (session) => {
      const exchange = options.exchange ?? '';
      const routingKey = options.routingKey ?? settings.queue;
      // Through the default exchange the routing key *is* the queue: make sure it exists,
      // or the broker would silently drop every message.
      if (exchange === '') await ensureQueue(session.model, routingKey, options.durability, settings);
      const destination =
        exchange === '' ? `queue '${routingKey}'` : `exchange '${exchange}' (routing key '${routingKey}')`;

      if (options.source.kind === 'stdin' && options.source.stream.isTTY && !options.quiet) {
        writeLine(io.stderr, `Type one message per line for ${destination}; Ctrl-D to finish.`);
      }
      // No bar while someone types messages at the terminal: it would draw over their input.
      const typing = options.source.kind === 'stdin' && options.source.stream.isTTY === true;
      const progress =
        options.quiet || typing ? null : createSendProgress(io.stderr, await progressTotal(options));
      const started = performance.now();
      const result = await publishAll(
        session.model,
        { exchange, routingKey },
        messagesFrom(options.source, options.count),
        {
          persistent: options.persistent,
          confirm: options.confirm,
          signal: interrupt.signal,
          // Input bytes: each line's body plus its newline.
          ...(progress === null
            ? {}
            : { onSent: (sent: number, bytes: number) => progress.update(sent, bytes + sent) }),
        },
      ).finally(() => progress?.stop());
      const report: SendReport = { ...result, destination, elapsedMs: performance.now() - started };
      const failure = result.error ?? (session.isLost() ? await session.lost : undefined);
      return finish(report, failure, settings, options, io);
    });
  } finally {
    stopListening();
  }
}

/** What a progress bar can measure against: a known message count, or the input's size in bytes. */
async function progressTotal(options: SendOptions): Promise<ProgressTotal> {
  const { source, count } = options;
  if (source.kind === 'arguments') return { unit: 'messages', total: source.messages.length * count };
  const size = source.kind === 'file' ? await fileSize(source.path) : await fileSize('/dev/stdin');
  return size === null ? null : { unit: 'bytes', total: size * count };
}

/** The size of a regular file (also standard input redirected from one), or null for a pipe or terminal. */
async function fileSize(path: string): Promise<number | null> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : null;
  } catch {
    return null;
  }
}

function finish(
  report: SendReport,
  failure: unknown,
  settings: ConnectionSettings,
  options: SendOptions,
  io: CommandIo,
): number {
  const failed = report.nacked + report.returned + report.unconfirmed;
  if (failure !== undefined) {
    const explained = explainAmqpError(failure, settings);
    throw new QtoolError(explained.message, {
      cause: failure,
      hint: [explained.hint, confirmationAccount(report, options.confirm)].filter(Boolean).join('\n'),
    });
  }
  if (failed > 0) {
    const reasons = [
      report.nacked > 0 ? `${report.nacked} refused by the broker (nack)` : '',
      report.returned > 0 ? `${report.returned} unroutable (no queue is bound for that routing key)` : '',
      report.unconfirmed > 0 ? `${report.unconfirmed} never confirmed` : '',
    ].filter(Boolean);
    throw new QtoolError(
      `${failed} of ${plural(report.sent, 'message')} to ${report.destination} failed: ${reasons.join(', ')}`,
      {
        hint: confirmationAccount(report, options.confirm),
      },
    );
  }
  if (!options.quiet) writeLine(io.stderr, summary(report, settings, options));
  return report.interrupted ? 130 : 0;
}

/** Exactly how many messages made it, so a failed send never leaves the user guessing. */
function confirmationAccount(report: SendReport, confirm: boolean): string {
  if (!confirm)
    return `${plural(report.sent, 'message')} were handed to the broker without confirms; the broker may not have them all.`;
  return `${report.confirmed} of ${plural(report.sent, 'message')} sent were confirmed by the broker.`;
}

function summary(report: SendReport, settings: ConnectionSettings, options: SendOptions): string {
  const verb = report.interrupted ? 'interrupted after sending' : 'sent';
  const how = options.confirm ? 'all confirmed' : 'without confirms';
  const persistence = options.persistent ? 'persistent' : 'transient';
  return (
    `${verb} ${plural(report.sent, 'message')} (${persistence}) to ${report.destination} on ${maskedUrl(settings)} ` +
    `in ${formatDuration(report.elapsedMs)}, ${formatRate(report.sent, report.elapsedMs)}, ${how}`
  );
}
