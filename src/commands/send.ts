import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { letPendingIoRun } from '../amqp/connect.js';
import { explainAmqpError, parseBrokerClose } from '../amqp/explain.js';
import {
  openPublishChannel,
  type PublishResult,
  publishAll,
  releaseBlockedConnection,
  SEND_WINDOW_BYTES,
} from '../amqp/publish.js';
import {
  type DurabilityRequest,
  type EnsuredQueue,
  ensureQueue,
  existingQueueDurability,
} from '../amqp/queue.js';
import type { QueueType } from '../amqp/queue-type.js';
import type { Session } from '../amqp/session.js';
import { bodyForJson } from '../body.js';
import { type ConnectionSettings, maskedUrl } from '../config/connection.js';
import { QtoolError } from '../errors.js';
import { newJobId } from '../job-id.js';
import { formatDuration, formatRate, plural, thousands } from '../output/format.js';
import { createSendProgress, type ProgressTotal } from '../output/progress.js';
import { type CommandIo, writeLine } from './io.js';
import { exitStatusFor, jobOutcome } from './job-reply.js';
import { checkSource, type MessageSource, messagesFrom } from './send-input.js';
import { resolveSendTarget } from './send-target.js';
import { ReplyWaiter, type WaitOutcome } from './send-wait.js';
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
  /** --message-id: the id of the one message; undefined: a fresh UUID v4 for each message. */
  messageId: string | undefined;
  /** --json: on stdout, one line per message the broker confirmed, with its id, then the summary. */
  json: boolean;
  /** --wait: RPC, waiting for the job's reply; timeoutMs undefined waits until the reply or Ctrl-C. */
  wait: { timeoutMs: number | undefined } | undefined;
}

export interface SendReport extends PublishResult {
  destination: string;
  elapsedMs: number;
  /** The id of the message when exactly one was sent, for the summary. */
  onlyMessageId: string | undefined;
}

/** Where send --wait's replies come: a queue of the sender's own (`amq.` names are the broker's). */
export const REPLY_QUEUE_PREFIX = 'qtool.reply.';

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
      // A job id for every message. With --wait (one message) it is also the correlation id the
      // reply must carry, so it is known before publishing.
      const onlyId = options.messageId ?? (options.wait === undefined ? undefined : newJobId());
      const nextMessageId = onlyId === undefined ? newJobId : () => onlyId;
      const waiter =
        options.wait === undefined || onlyId === undefined
          ? null
          : new ReplyWaiter(`${REPLY_QUEUE_PREFIX}${randomUUID()}`, onlyId);
      // Listening before publishing: a quick worker's reply must find the queue there.
      await waiter?.listenOn(session);
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
      let lastId: string | undefined;
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
          if (restored === null) return null;
          // Before the message goes out again, so that the reply queue is there for its reply.
          await waiter?.listenOn(restored.session);
          return restored.session.model;
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
          nextMessageId,
          ...(waiter === null ? {} : { replyTo: waiter.queue, correlationId: waiter.correlationId }),
          // A call per confirm only where it is used: --json, and the id a lone message's summary names.
          ...(options.json || loneMessage(options)
            ? {
                onConfirmed: (body: Buffer, messageId: string | undefined) => {
                  lastId = messageId;
                  if (options.json) writeLine(io.stdout, messageLine('confirmed', body, messageId));
                },
                onReturned: (body: Buffer, messageId: string | undefined) => {
                  lastId = messageId;
                  if (options.json) writeLine(io.stdout, messageLine('returned', body, messageId));
                },
              }
            : {}),
          signal: stop.signal,
          giveUp: giveUp.signal,
          reconnect,
          channel,
          windowBytes: SEND_WINDOW_BYTES,
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
      const report: SendReport = {
        ...result,
        destination,
        elapsedMs: performance.now() - started,
        onlyMessageId: result.sent === 1 ? lastId : undefined,
      };
      const failure =
        result.error ?? reconnectFailure ?? (link.session.isLost() ? await link.session.lost : undefined);
      if (options.json) writeLine(io.stdout, summaryLine(report, target, options));
      const status = finish(report, failure, settings, options, io, waiter);
      if (waiter === null || status !== 0 || onlyId === undefined) return status;
      const outcome = await waiter.wait(link, {
        timeoutMs: options.wait?.timeoutMs,
        signal: stop.signal,
        reconnect: options.reconnect,
        say: (line) => writeLine(io.stderr, line),
      });
      return reportReply(outcome, onlyId, destination, options, io);
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
  waiter: ReplyWaiter | null,
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
  if (!options.quiet && !options.json) {
    let line = summary(report, settings, options);
    if (waiter !== null && !report.interrupted) {
      line += `; waiting for its reply on ${waiter.queue}${options.wait?.timeoutMs === undefined ? ' (Ctrl-C stops waiting)' : ` for up to ${formatDuration(options.wait.timeoutMs)}`}`;
    }
    writeLine(io.stderr, line);
  }
  return report.interrupted ? 130 : 0;
}

/** Whether exactly one message goes out: one argument, sent once. */
function loneMessage(options: SendOptions): boolean {
  return options.source.kind === 'arguments' && options.source.messages.length === 1 && options.count === 1;
}

/** send --json's line for a message the broker answered: confirmed into a queue, or returned (it reached none). */
function messageLine(event: 'confirmed' | 'returned', body: Buffer, messageId: string | undefined): string {
  return JSON.stringify({ event, messageId: messageId ?? null, ...bodyForJson(body) });
}

/** send --json's last line: the summary's figures. */
function summaryLine(
  report: SendReport,
  target: { exchange: string; routingKey: string },
  options: SendOptions,
): string {
  return JSON.stringify({
    event: 'summary',
    sent: report.sent,
    confirmed: report.confirmed,
    nacked: report.nacked,
    returned: report.returned,
    unconfirmed: report.unconfirmed,
    republished: report.republished,
    interrupted: report.interrupted,
    persistent: options.persistent,
    exchange: target.exchange,
    routingKey: target.routingKey,
    elapsedMs: Math.round(report.elapsedMs),
  });
}

/**
 * The end of send --wait: the job's output on stdout (byte for byte: a result may be binary; a
 * line end is added only for a terminal, so the prompt does not stick to it), and its status.
 */
function reportReply(
  outcome: WaitOutcome,
  messageId: string,
  destination: string,
  options: SendOptions,
  io: CommandIo,
): number {
  const sentLine = `The message (id ${messageId}) was sent to ${destination} and confirmed by the broker, so the job may still run`;
  const noQueue =
    'its reply, if it comes, will find no reply queue (it went with this connection) and is dropped; qtool status shows how many messages wait in the queue.';
  if (outcome.kind === 'timed-out') {
    throw new QtoolError(`no reply within ${formatDuration(options.wait?.timeoutMs ?? 0)} (--timeout)`, {
      hint: `${sentLine}: ${noQueue}`,
    });
  }
  if (outcome.kind === 'interrupted') {
    throw new QtoolError('stopped waiting for the reply (interrupted)', {
      hint: `${sentLine}: ${noQueue}`,
      exitCode: 130,
    });
  }
  if (outcome.kind === 'lost') {
    throw new QtoolError(`stopped waiting for the reply: ${outcome.error.message}`, {
      cause: outcome.error,
      hint: [outcome.error.hint, `${sentLine}: ${noQueue}`].filter(Boolean).join('\n'),
    });
  }
  const { message } = outcome;
  const job = jobOutcome(message.properties.headers);
  const status = exitStatusFor(job.exitCode, job.signal);
  if (options.json) {
    writeLine(
      io.stdout,
      JSON.stringify({
        event: 'reply',
        messageId,
        exitCode: job.exitCode,
        signal: job.signal,
        durationMs: job.durationMs,
        worker: job.worker,
        ...bodyForJson(message.content),
      }),
    );
  } else {
    io.stdout.write(message.content);
    const last = message.content.at(-1);
    if (io.stdout.isTTY === true && last !== undefined && last !== 0x0a) io.stdout.write('\n');
  }
  const where = (preposition: 'by' | 'on') =>
    `${job.worker === null ? '' : ` ${preposition} worker ${job.worker}`}${job.durationMs === null ? '' : ` in ${formatDuration(job.durationMs)}`}`;
  // qtool's worker sends 128 + the signal's number as the exit code beside the signal: the signal says more.
  if (status !== 0 && job.signal !== null) {
    writeLine(
      io.stderr,
      `qtool: job ${messageId} failed${where('on')}: its command was killed by ${job.signal} (exit status ${status} here, as a shell gives it)`,
    );
  } else if (status !== 0) {
    const code =
      job.exitCode === status
        ? `${job.exitCode}`
        : `${job.exitCode} (exit status ${status} here: a status is 1 to 255)`;
    writeLine(
      io.stderr,
      `qtool: job ${messageId} failed${where('on')}: its command exited with code ${code}`,
    );
  } else if (!options.quiet && !options.json) {
    writeLine(
      io.stderr,
      `qtool: job ${messageId} done${where('by')}${job.exitCode === null ? ' (the reply gives no exit code)' : ', exit code 0'}`,
    );
  }
  return status;
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
  const id = report.onlyMessageId === undefined ? '' : `; message id ${report.onlyMessageId}`;
  return (
    `${verb} ${plural(report.sent, 'message')} (${persistence}) to ${report.destination} on ${maskedUrl(settings)} ` +
    `in ${formatDuration(report.elapsedMs)}, ${formatRate(report.sent, report.elapsedMs)}, ${how}${again}${id}`
  );
}
