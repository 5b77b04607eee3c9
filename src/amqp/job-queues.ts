import type { ChannelModel, ConfirmChannel, Options } from 'amqplib';
import { QtoolError } from '../errors.js';
import { closeChannel } from './close.js';
import { type ErrorContext, explainAmqpError, parseBrokerClose } from './explain.js';
import { declareQueue, queueExists } from './queue.js';

/**
 * The queues a job worker's failures go through, declared before it consumes:
 * - `<queue>.retry`: holds a failed message for its per-message TTL (the retry delay), then the
 *   broker dead-letters it through the default exchange back to `<queue>`. A classic queue, named
 *   explicitly so a vhost whose default type is quorum does not change it: a classic queue expires
 *   messages at its head, and every message in it waits the same delay, so none waits behind a
 *   longer one.
 * - `<queue>.failed`: durable; used as it is when it exists (`qtool failed` reads it).
 */
export async function ensureJobQueues(
  model: ChannelModel,
  names: { queue: string; retry: string | undefined; failed: string },
  context: ErrorContext,
): Promise<void> {
  if (names.retry !== undefined) {
    try {
      await declareQueue(model, names.retry, {
        durable: true,
        arguments: {
          'x-queue-type': 'classic',
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': names.queue,
        },
      });
    } catch (error) {
      if (parseBrokerClose(error)?.replyCode === 406) {
        throw new QtoolError(
          `queue '${names.retry}' exists with other settings than a retry queue for '${names.queue}' needs (a durable classic queue dead-lettering to it through the default exchange)`,
          {
            cause: error,
            hint: `Delete it (qtool delete --queue ${names.retry} --force) and qtool declares it again, or use another --queue.`,
          },
        );
      }
      throw explainAmqpError(error, context);
    }
  }
  if (!(await queueExists(model, names.failed, context))) {
    try {
      await declareQueue(model, names.failed, { durable: true, arguments: {} });
    } catch (error) {
      // Another worker declared it in between, perhaps of another type: use it as it is.
      if (parseBrokerClose(error)?.replyCode !== 406) throw explainAmqpError(error, context);
    }
  }
}

/** Publishes on a confirm channel; each publish resolves once the broker has the message. */
export interface JobPublisher {
  /**
   * Publishes to the default exchange with routing key `queue`, not mandatory (a reply whose queue
   * is gone is dropped by the broker, not returned). Rejects when the broker nacks it or the channel
   * closes before confirming: then the caller must not ack what the message stands for.
   */
  publish(queue: string, content: Buffer, options: Options.Publish): Promise<void>;
  /**
   * Publishes a message that must land in `queue` (a retry or a failed copy, whose original is
   * acked next): mandatory, on a confirm channel of its own, so a return (the queue was deleted
   * meanwhile) is known before the confirm. Rejects with UnroutableError when it came back.
   */
  publishInto(queue: string, content: Buffer, options: Options.Publish): Promise<void>;
  /** Whether the channel is still open. */
  isOpen(): boolean;
  close(): Promise<void>;
}

/** A mandatory publish came back: no queue by that name. */
export class UnroutableError extends QtoolError {
  constructor(readonly queue: string) {
    super(`queue '${queue}' does not exist (the broker returned the message)`);
  }
}

export async function openJobPublisher(model: ChannelModel): Promise<JobPublisher> {
  const channel: ConfirmChannel = await model.createConfirmChannel();
  let closed = false;
  let closeError: unknown;
  channel.on('error', (error: unknown) => {
    closeError = error;
  });
  channel.on('close', () => {
    closed = true;
  });
  return {
    publish(queue, content, options) {
      if (closed) return Promise.reject(closeError ?? new Error('channel closed'));
      return new Promise((resolve, reject) => {
        try {
          channel.publish('', queue, content, options, (error: unknown) => {
            if (error === null || error === undefined) resolve();
            else reject(closeError ?? error);
          });
        } catch (error) {
          reject(error);
        }
      });
    },
    async publishInto(queue, content, options) {
      // Its own channel: a return carries no delivery tag, so on a shared channel it could not be
      // told apart from another job's publish. Failures are rare enough for a channel each.
      const own = await model.createConfirmChannel();
      let returned = false;
      let ownError: unknown;
      own.on('error', (error: unknown) => {
        ownError = error;
      });
      own.on('return', () => {
        returned = true;
      });
      try {
        await new Promise<void>((resolve, reject) => {
          own.publish('', queue, content, { ...options, mandatory: true }, (error: unknown) => {
            if (error === null || error === undefined) resolve();
            else reject(ownError ?? error);
          });
        });
      } finally {
        await closeChannel(own);
      }
      // The broker sends basic.return before the basic.ack of the same message.
      if (returned) throw new UnroutableError(queue);
    },
    isOpen: () => !closed,
    async close() {
      if (closed) return;
      closed = true;
      await closeChannel(channel);
    },
  };
}
