import { moveMessages } from '../amqp/move.js';
import {
  findQueue,
  inspectExistingQueue,
  type PeekedMessage,
  peekMessages,
  purgeQueueMessages,
} from '../amqp/queue.js';
import { announcedServer } from '../amqp/server-identity.js';
import { bodyForDisplay, bodyForJson } from '../body.js';
import type { ConnectionSettings } from '../config/connection.js';
import { QtoolError } from '../errors.js';
import { plural } from '../output/format.js';
import { brokerCloseOf } from './broker-close.js';
import { failedQueueOf, failureOf, failureSummary, requeuedHeaders } from './failed-record.js';
import { type CommandIo, writeLine } from './io.js';
import { checkPeekAllowed } from './peek.js';
import { explainUnsupported, missingQueueError } from './queue-admin.js';
import { withSession } from './with-session.js';

/** What `qtool failed` does with `<queue>.failed`. */
export type FailedAction =
  | { kind: 'list'; count: number; json: boolean }
  | { kind: 'requeue'; id: string | null }
  | { kind: 'purge' };

export interface FailedOptions {
  action: FailedAction;
  /** Peek at a quorum queue even where each return counts toward its delivery limit. */
  force: boolean;
}

/** A failed message as `qtool failed --json` lists it. */
export interface FailedEntry {
  messageId: string | null;
  correlationId: string | null;
  body: string;
  encoding?: 'base64';
  reason: string | null;
  exitCode: number | null;
  signal: string | null;
  failedAt: string | null;
  worker: string | null;
  attempts: number | null;
  queue: string | null;
  redelivered: boolean;
}

/**
 * `qtool failed`: the failed-jobs queue `<queue>.failed` that the worker fills (RQ's failed job
 * registry, on RabbitMQ): lists its messages with their reasons without removing them (peeking,
 * as `qtool peek` does), moves them back to the work queue (`--requeue`), or empties it
 * (`--purge`). A failed queue that does not exist means no job of that queue has failed: not an
 * error, except for `--requeue --id`, which then cannot find its message.
 */
export async function runFailed(
  settings: ConnectionSettings,
  options: FailedOptions,
  io: CommandIo,
): Promise<number> {
  const work = settings.queue;
  const failed = failedQueueOf(work);
  return withSession(settings, 'failed', async (session) => {
    const figures = await findQueue(session.model, failed);
    const { action } = options;
    if (figures === null) {
      if (action.kind === 'requeue' && action.id !== null) {
        throw new QtoolError(
          `no failed message with id '${action.id}': queue '${failed}' does not exist in vhost '${settings.vhost}'`,
          {
            hint: `No job from '${work}' has failed there yet, or --queue names another queue (qtool status lists them).`,
          },
        );
      }
      writeLine(
        io.stderr,
        `no failed jobs: queue '${failed}' does not exist in vhost '${settings.vhost}' (no job from '${work}' has failed there yet, or --queue names another queue)`,
      );
      return 0;
    }
    const failure = async (error: unknown, operation: string): Promise<never> => {
      const close = await brokerCloseOf(error, session);
      if (close?.replyCode === 404) throw missingQueueError(failed, settings.vhost);
      throw explainUnsupported(failed, operation, close) ?? error;
    };

    if (action.kind === 'purge') {
      const removed = await purgeQueueMessages(session.model, failed).catch((error) =>
        failure(error, 'purging'),
      );
      writeLine(io.stdout, `purged ${plural(removed, 'failed message')} from queue '${failed}'`);
      return 0;
    }

    // Listing and --id put messages back, which a quorum queue may count toward its delivery limit.
    if (action.kind === 'list' || action.id !== null) {
      const { type } = await inspectExistingQueue(session.model, failed);
      checkPeekAllowed(failed, type, announcedServer(session.model), options.force);
    }

    if (action.kind === 'list') {
      const messages = await peekMessages(session.model, failed, action.count).catch((error) =>
        failure(error, 'peeking (basic.get)'),
      );
      for (const message of messages) {
        const entry = failedEntry(message);
        writeLine(io.stdout, action.json ? JSON.stringify(entry) : describeEntry(entry, message));
      }
      const last = messages.at(-1);
      const ready = last === undefined ? 0 : messages.length + last.fields.messageCount;
      writeLine(
        io.stderr,
        ready === 0
          ? `no failed jobs: queue '${failed}' is empty${figures.consumerCount > 0 ? ` (its ${plural(figures.consumerCount, 'consumer')} may hold messages not yet acknowledged)` : ''}`
          : listedLine(messages.length, ready, failed, work),
      );
      return 0;
    }

    // A copy sent to a missing queue would be dropped as unroutable: say so before taking anything.
    if ((await findQueue(session.model, work)) === null) {
      throw new QtoolError(
        `cannot requeue to queue '${work}': it does not exist in vhost '${settings.vhost}'`,
        {
          hint: `The failed messages stay in '${failed}'. qtool declare --queue ${work} creates it (or start its workers).`,
        },
      );
    }
    // --requeue: only the messages there now, so that jobs failing again meanwhile are not taken twice.
    const { id } = action;
    const result = await moveMessages(session.model, failed, work, {
      select: (message) => id === null || message.properties.messageId === id,
      firstOnly: id !== null,
      limit: figures.messageCount,
      headers: (message) => requeuedHeaders(message.properties.headers),
    }).catch((error) => failure(error, 'requeueing (basic.get)'));
    if (result.problem !== null) {
      throw new QtoolError(
        result.problem === 'unroutable'
          ? `the broker could not route a copy to queue '${work}' (does it exist?): requeued ${plural(result.moved, 'message')} before that`
          : `the broker refused a copy for queue '${work}' (nack): requeued ${plural(result.moved, 'message')} before that`,
        { hint: `The message it could not move is still in '${failed}', as are the others not yet moved.` },
      );
    }
    if (id !== null && result.moved === 0) {
      throw new QtoolError(
        `no failed message with id '${id}' in queue '${failed}' (looked at ${plural(result.looked, 'message')})`,
        {
          hint: `qtool failed --queue ${work} lists the failed messages and their ids.`,
        },
      );
    }
    writeLine(
      io.stdout,
      `requeued ${id === null ? plural(result.moved, 'failed message') : `failed message '${id}'`} from '${failed}' to '${work}', without the failure headers: ${result.moved === 1 ? 'it runs again as a new job' : 'they run again as new jobs'}`,
    );
    return 0;
  });
}

/** What the listing showed, and what to do next; "it" or "them" as the count says. */
function listedLine(shown: number, ready: number, failed: string, work: string): string {
  const them = ready === 1 ? 'it' : 'them';
  const which =
    shown === ready
      ? plural(ready, 'failed job')
      : `the first ${shown === 1 ? '' : `${shown} `}of ${plural(ready, 'failed job')}`;
  return `${which} in queue '${failed}', left in place (the broker now marks ${shown === 1 ? 'it' : 'them'} redelivered); qtool failed --queue ${work} --requeue --all moves ${them} back to '${work}'`;
}

export function failedEntry(message: PeekedMessage): FailedEntry {
  const { properties } = message;
  const record = failureOf(properties.headers);
  return {
    messageId: typeof properties.messageId === 'string' ? properties.messageId : null,
    correlationId: typeof properties.correlationId === 'string' ? properties.correlationId : null,
    ...bodyForJson(message.content),
    ...record,
    redelivered: message.fields.redelivered,
  };
}

/** Two lines for a person: the id and what went wrong, then the body. */
function describeEntry(entry: FailedEntry, message: PeekedMessage): string {
  return `${entry.messageId ?? '(no message id)'}  ${failureSummary(entry)}\n  body: ${bodyForDisplay(message.content)}`;
}
