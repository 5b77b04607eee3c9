import type { ChannelModel, ConfirmChannel, Options } from 'amqplib';
import { QtoolError } from '../errors.js';
import { closeChannel } from './close.js';
import { type ErrorContext, explainAmqpError, parseBrokerClose } from './explain.js';
import { declareQueue, queueExists } from './queue.js';

/**
 * The queues a job worker's failures go through, declared before it consumes:
 * - `<queue>.retry`: holds a failed message for its per-message TTL (the retry delay), then the
 *   broker dead-letters it through the default exchange back to `<queue>`. A classic queue, named
 *   explicitly so a vhost whose default type is quorum does not change it. A classic queue
 *   expires messages only at its head: one worker's messages all wait the same --retry-delay, but
 *   workers with different delays on one queue make a short delay wait behind a longer one.
 *   Dead-lettering from a classic queue is at most once: a message expiring while `<queue>` is
 *   gone is dropped (the README says so).
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

/**
 * Publishes a job's reply or copy, each on a confirm channel of its own: a publish the broker
 * refuses by closing the channel (a message over its max size) must not fail the other jobs'
 * publishes waiting for their confirms, and a return carries no delivery tag to tell whose it is.
 */
export interface JobPublisher {
  /**
   * Publishes to the default exchange with routing key `queue`, not mandatory (a reply whose queue
   * is gone is dropped by the broker, not returned). Rejects with PublishRefusedError when the
   * broker refused it (a nack, or a channel error while the connection lives); with any other
   * error when the connection went before the confirm. Either way the caller must not ack what the
   * message stands for.
   */
  publish(queue: string, content: Buffer, options: Options.Publish): Promise<void>;
  /**
   * Publishes a message that must land in `queue` (a retry or a failed copy, whose original is
   * acked next): mandatory, so a return (the queue was deleted meanwhile) is known before the
   * confirm. Rejects with UnroutableError when it came back, PublishRefusedError as publish.
   */
  publishInto(queue: string, content: Buffer, options: Options.Publish): Promise<void>;
  /** Whether the connection still takes channels. */
  isOpen(): boolean;
  close(): Promise<void>;
}

/** A mandatory publish came back: no queue by that name. */
export class UnroutableError extends QtoolError {
  constructor(readonly queue: string) {
    super(`queue '${queue}' does not exist (the broker returned the message)`);
  }
}

/**
 * The broker refused a publish while the connection lives: it nacked it (a queue full with
 * x-overflow reject-publish, ...) or closed the channel over it (a message over its max size).
 * Publishing the same again fails the same way: not a reason to requeue.
 */
export class PublishRefusedError extends QtoolError {
  constructor(
    readonly queue: string,
    readonly why: string,
    options: { cause?: unknown } = {},
  ) {
    super(`the broker refused the message for '${queue}': ${why}`, options);
  }
}

export async function openJobPublisher(model: ChannelModel): Promise<JobPublisher> {
  let closed = false;
  let connectionGone = false;
  model.once('close', () => {
    connectionGone = true;
  });
  const publishOwn = async (queue: string, content: Buffer, options: Options.Publish, mandatory: boolean) => {
    if (closed || connectionGone) throw new Error('connection closed');
    const own: ConfirmChannel = await model.createConfirmChannel();
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
        try {
          own.publish('', queue, content, { ...options, mandatory }, (error: unknown) => {
            if (error === null || error === undefined) resolve();
            else reject(ownError ?? error);
          });
        } catch (error) {
          reject(error);
        }
      });
    } catch (error) {
      // amqplib reports a nack as this Error; a broker's channel close arrives as an 'error' event
      // first. A lost connection closes the channel with neither.
      const close = parseBrokerClose(ownError ?? error);
      if (close !== undefined && close !== null && !connectionGone) {
        throw new PublishRefusedError(queue, `${close.replyCode} ${close.text}`, { cause: error });
      }
      if (error instanceof Error && error.message === 'message nacked') {
        throw new PublishRefusedError(
          queue,
          'nacked (a full queue with x-overflow reject-publish, or the broker could not take it)',
          { cause: error },
        );
      }
      throw error;
    } finally {
      if (ownError === undefined) await closeChannel(own);
    }
    // The broker sends basic.return before the basic.ack of the same message.
    if (returned) throw new UnroutableError(queue);
  };
  return {
    publish: (queue, content, options) => publishOwn(queue, content, options, false),
    publishInto: (queue, content, options) => publishOwn(queue, content, options, true),
    isOpen: () => !closed && !connectionGone,
    async close() {
      closed = true;
    },
  };
}
