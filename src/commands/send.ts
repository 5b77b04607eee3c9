import { stat } from 'node:fs/promises';
import { letPendingIoRun } from '../amqp/connect.js';
import { explainAmqpError, parseBrokerClose } from '../amqp/explain.js';
import {
  openPublishChannel,
  type PublishResult,
  publishAll,
  releaseBlockedConnection,
} from '../amqp/publish.js';
import {
  type DurabilityRequest,
  type EnsuredQueue,
  ensureQueue,
  existingQueueDurability,
} from '../amqp/queue.js';
import type { QueueType } from '../amqp/queue-type.js';
import type { Session } from '../amqp/session.js';
import { type ConnectionSettings, maskedUrl } from '../config/connection.js';
import { QtoolError } from '../errors.js';
import { formatDuration, formatRate, plural, thousands } from '../output/format.js';
import { createSendProgress, type ProgressTotal } from '../output/progress.js';
import { type CommandIo, writeLine } from './io.js';
import { checkSource, type MessageSource, messagesFrom } from './send-input.js';
import { resolveSendTarget } from './send-target.js';
import { lostLine, type ReconnectOptions, reconnectSaying, withLink } from './with-link.js';

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
  queueType: QueueType | undefined;
  reconnect: ReconnectOptions;
}

export interface SendReport extends PublishResult {
  destination: string;
  elapsedMs: number;
}

/**
 * `qtool send`: publishes each argument, or each line of a file or of standard input.
 * Ctrl-C stops reading and waits for the confirms of what was sent (not while the broker blocks
 * publishers: it would never answer); a second one stops waiting; a third ends the process.
 * Either way the account says exactly what the broker confirmed.
 */
export async function runSend(
  settings: ConnectionSettings,
  options: SendOptions,
  io: CommandIo,
): Promise<number> {
  await checkSource(options.source);
  const target = resolveSendTarget(options.exchange, options.routingKey, settings.queue);
  const stop = new AbortController();
  const giveUp = new AbortController();
  const stopListening = io.onInterrupt((count) => {
    if (count === 1) stop.abort();
    else if (count === 2) giveUp.abort();
    else io.exitNow(130);
  });
  try {
    return await withLink(settings, 'send', options.reconnect, async (link) => {
      const session = link.session;
      const { exchange, routingKey, destination } = target;
      // The channel to publish on opens while the queue is checked: its round trips overlap.
      const channel = openPublishChannel(session.model, options.confirm);
      // Awaited by publishAll; if a check fails first, the connection's close ends the channel.
      channel.catch(() => {});
      // Through the default exchange the routing key *is* the queue: make sure it exists,
      // or the broker would silently drop every message.
      const queue =
        exchange === ''
          ? await ensureQueue(session.model, routingKey, options.durability, settings, options.queueType)
          : null;
      const warnings: string[] = [];
      if (queue !== null && options.persistent && !(await isDurable(session.model, queue, options))) {
        warnings.push(
          `queue '${queue.name}' is not durable: it will not survive a broker restart, so neither will these persistent messages`,
        );
      }

      if (options.source.kind === 'stdin' && options.source.stream.isTTY && !options.quiet) {
        writeLine(io.stderr, `Type one message per line for ${destination}; Ctrl-D to finish.`);
      }
      // No bar while someone types messages at the terminal: it would draw over their input.
      const typing = options.source.kind === 'stdin' && options.source.stream.isTTY === true;
      const progress =
        options.quiet || typing ? null : await createSendProgress(io.stderr, await progressTotal(options));
      // Lines that must be seen even with --quiet; above the progress bar when there is one.
      const say = (line: string) => (progress === null ? writeLine(io.stderr, line) : progress.note(line));
      for (const warning of warnings) say(`qtool: ${warning}`);
      let blockedSince = 0;
      /** Why reconnecting stopped for good (--no-reconnect, --reconnect-timeout, a refused login). */
      let reconnectFailure: unknown;
      const reconnect = async () => {
        const lost = link.session;
        // amqplib closes the channels before it reports the connection's end: let that arrive.
        await letPendingIoRun();
        if (!lost.isLost()) return null;
        if (!options.reconnect.enabled) return null;
        say(
          `qtool: ${lostLine(await lost.lost, 'connection')} What the broker did not confirm is sent again.`,
        );
        try {
          const restored = await reconnectSaying(link, (line) => say(`qtool: ${line}`), stop.signal);
          return restored === null ? null : restored.session.model;
        } catch (error) {
          reconnectFailure = error;
          return null;
        }
      };
      const started = performance.now();
      const result = await publishAll(
        session.model,
        { exchange, routingKey },
        messagesFrom(options.source, options.count, stop.signal),
        {
          persistent: options.persistent,
          confirm: options.confirm,
          signal: stop.signal,
          giveUp: giveUp.signal,
          reconnect,
          channel,
          // withLink closes the connection next.
          leaveChannelOpen: true,
          onBlocked: (reason) => {
            blockedSince = performance.now();
            say(
              `qtool: the broker is blocking publishers: ${reason}. Waiting until it resumes; Ctrl-C stops and says what was sent.`,
            );
          },
          onUnblocked: () =>
            say(
              `qtool: the broker resumed taking messages after ${formatDuration(performance.now() - blockedSince)}`,
            ),
          // Input bytes: each line's body plus its newline.
          ...(progress === null
            ? {}
            : { onSent: (sent: number, bytes: number) => progress.update(sent, bytes + sent) }),
        },
      ).finally(() => progress?.stop());
      // Closing a connection the broker blocks must not keep the process waiting for its socket.
      if (result.blockedBy !== null) releaseBlockedConnection(link.session.model);
      const report: SendReport = { ...result, destination, elapsedMs: performance.now() - started };
      const failure =
        result.error ?? reconnectFailure ?? (link.session.isLost() ? await link.session.lost : undefined);
      return finish(report, failure, settings, options, io);
    });
  } finally {
    stopListening();
  }
}

/** Whether the queue will keep persistent messages across a restart; asks the broker only when it must. */
async function isDurable(
  model: Session['model'],
  queue: EnsuredQueue,
  options: SendOptions,
): Promise<boolean> {
  // A queue qtool just created, or one ensureQueue checked against an explicit request, is as asked.
  if (queue.created || options.durability !== 'unspecified') return options.durability !== 'non-durable';
  return (await existingQueueDurability(model, queue.name)) !== 'non-durable';
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
  let account = sendAccount(report, options.confirm);
  const close = parseBrokerClose(failure);
  if (close?.replyCode === 404 && /no exchange/.test(close.text) && report.confirmed === 0) {
    // The broker closes the channel at the first publish to a missing exchange and drops the rest.
    const none =
      report.sent === 1
        ? 'The message did not reach'
        : `None of the ${plural(report.sent, 'message')} reached`;
    account = `${none} a queue: the broker refuses every publish to a missing exchange, so sending again once it exists duplicates nothing.`;
  }
  if (failure !== undefined) {
    const explained = explainAmqpError(failure, settings);
    throw new QtoolError(explained.message, {
      cause: failure,
      hint: [explained.hint, account].filter(Boolean).join('\n'),
    });
  }
  const failed = report.nacked + report.returned + report.unconfirmed;
  if (failed > 0) {
    const reasons = [
      report.nacked > 0 ? `${thousands(report.nacked)} refused by the broker (nack)` : '',
      report.returned > 0
        ? `${thousands(report.returned)} unroutable (no queue is bound for that routing key)`
        : '',
      report.unconfirmed > 0
        ? `${thousands(report.unconfirmed)} ${options.confirm ? 'never confirmed' : 'unaccounted for (no round trip after them)'}`
        : '',
    ].filter(Boolean);
    const blocked =
      report.blockedBy === null ? '' : ` while the broker was blocking publishers (${report.blockedBy})`;
    const what = report.interrupted
      ? `interrupted after publishing ${plural(report.sent, 'message')} to ${report.destination}${blocked}`
      : `${thousands(failed)} of ${plural(report.sent, 'message')} to ${report.destination} failed${blocked}`;
    throw new QtoolError(`${what}: ${reasons.join(', ')}`, {
      hint: account,
      exitCode: report.interrupted ? 130 : 1,
    });
  }
  if (!options.quiet) writeLine(io.stderr, summary(report, settings, options));
  return report.interrupted ? 130 : 0;
}

/** Exactly how many messages made it, so a failed or interrupted send never leaves the user guessing. */
export function sendAccount(
  report: Pick<SendReport, 'sent' | 'confirmed' | 'returned' | 'unconfirmed'>,
  confirm: boolean,
): string {
  const { sent, confirmed, returned, unconfirmed } = report;
  const maybe =
    unconfirmed > 0
      ? ` The broker may or may not have the ${thousands(unconfirmed)} unconfirmed: count the queue before sending them again.`
      : '';
  if (confirm)
    return `${thousands(confirmed)} of ${plural(sent, 'message')} sent ${wasOrWere(sent)} confirmed by the broker.${maybe}`;
  const handed = `${plural(sent, 'message')} ${wasOrWere(sent)} handed to the broker without confirms`;
  if (unconfirmed === 0) {
    return `${handed}; it routed ${thousands(confirmed)} to a queue and returned ${thousands(returned)} as unroutable (without confirms it does not say whether the queue kept them).`;
  }
  return `${handed}, and it gave no account of them: count the queue before sending them again.`;
}

function wasOrWere(value: number): string {
  return value === 1 ? 'was' : 'were';
}

function summary(report: SendReport, settings: ConnectionSettings, options: SendOptions): string {
  const verb = report.interrupted ? 'interrupted after sending' : 'sent';
  const how = options.confirm ? 'all confirmed' : 'without confirms';
  const persistence = options.persistent ? 'persistent' : 'transient';
  const again =
    report.republished === 0
      ? ''
      : `; ${plural(report.republished, 'message')} sent again after the connection was lost (the queue may hold duplicates of them, never fewer)`;
  return (
    `${verb} ${plural(report.sent, 'message')} (${persistence}) to ${report.destination} on ${maskedUrl(settings)} ` +
    `in ${formatDuration(report.elapsedMs)}, ${formatRate(report.sent, report.elapsedMs)}, ${how}${again}`
  );
}
