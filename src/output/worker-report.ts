import { bodyForDisplay, bodyForJson } from '../body.js';
import type { Tally } from '../worker/policy.js';
import { clockTime, formatDuration, plural } from './format.js';
import type { Style } from './style.js';

export type WorkerEventName = 'received' | 'processed' | 'lost' | 'acked' | 'requeued' | 'replied';

/** One delivery as the worker saw it. */
export interface DeliveryInfo {
  body: Buffer;
  redelivered: boolean;
  deliveryTag: number;
  /** A quorum queue's x-delivery-count: earlier deliveries of this message not acked; null when not sent. */
  deliveryCount: number | null;
}

/** What happened to a lost message, in the words a student needs. */
export type LossOutcome = 'drop' | 'requeue' | 'crash' | 'hang' | 'gone-with-queue' | 'cut-short';

/**
 * Messages that had been delivered but never started when the worker stopped, and why they are
 * lost: with auto-ack the broker removed them on delivery; with manual ack a deleted queue took
 * them. (Unacked ones whose queue is still there go back to it, and are not reported here.)
 */
export interface UnstartedLoss {
  count: number;
  reason: 'auto-ack' | 'queue-deleted';
  /**
   * The broker did not confirm the consumer's cancel: with auto-ack it may have removed more
   * messages that were still on their way and never arrived, so `count` may be short.
   */
  mayBeIncomplete?: boolean;
}

/**
 * Prints a worker's life: human lines in the worker's own colour, or with `--json` exactly one
 * JSON event per line on stdout and nothing else there. Notices and the tally go to stderr.
 */
export interface WorkerReporter {
  received(delivery: DeliveryInfo, workMs: number): void;
  processed(delivery: DeliveryInfo, elapsedMs: number, acked: boolean): void;
  lost(delivery: DeliveryInfo, deliveryNumber: number, outcome: LossOutcome): void;
  /** The result went to the message's reply_to and the broker confirmed it. */
  replied(delivery: DeliveryInfo, replyTo: string): void;
  notice(text: string): void;
  warn(text: string): void;
  tally(tally: Tally, unstarted: UnstartedLoss | null): void;
}

export interface WorkerReporterOptions {
  name: string;
  json: boolean;
  style: Style;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  now?: () => Date;
}

const LOSS_WORDS: Record<LossOutcome, string> = {
  drop: 'gone for good (auto-ack: the broker already forgot it)',
  requeue: 'requeued (nack): the broker hands it out again',
  crash: 'crashing now (exit 3): the broker redelivers every unacked message',
  hang: 'left unacknowledged until this worker stops',
  'gone-with-queue': 'gone with its deleted queue: the ack can no longer happen',
  'cut-short': 'work cut short by the failure; with auto-ack the broker had already removed it',
};

export function createWorkerReporter(options: WorkerReporterOptions): WorkerReporter {
  const { name, json, style, stdout, stderr } = options;
  const now = options.now ?? (() => new Date());
  const colour = style.worker(name);

  const emit = (event: WorkerEventName, delivery: DeliveryInfo) => {
    const record = {
      event,
      worker: name,
      ...bodyForJson(delivery.body),
      redelivered: delivery.redelivered,
      // Only when the broker sent one, so classic queues' records keep their documented fields.
      ...(delivery.deliveryCount === null ? {} : { deliveryCount: delivery.deliveryCount }),
      deliveryTag: delivery.deliveryTag,
      ts: now().toISOString(),
    };
    stdout.write(`${JSON.stringify(record)}\n`);
  };
  const line = (text: string) => stdout.write(`${colour(`${clockTime(now())} ${name}`)} ${text}\n`);
  const redeliveredMark = (delivery: DeliveryInfo) => {
    const marks = [
      delivery.redelivered ? 'redelivered' : null,
      delivery.deliveryCount === null ? null : `x-delivery-count ${delivery.deliveryCount}`,
    ].filter((mark) => mark !== null);
    return marks.length === 0 ? '' : ` ${style.warn(`(${marks.join(', ')})`)}`;
  };

  return {
    received(delivery, workMs) {
      if (json) return emit('received', delivery);
      line(
        `${colour('received ')} ${bodyForDisplay(delivery.body)}${redeliveredMark(delivery)} ${style.dim(`${formatDuration(workMs)} of work`)}`,
      );
    },
    processed(delivery, elapsedMs, acked) {
      if (json) {
        emit('processed', delivery);
        if (acked) emit('acked', delivery);
        return;
      }
      const ackWords = acked ? ', acked' : '';
      line(
        `${colour('processed')} ${bodyForDisplay(delivery.body)} ${style.dim(`in ${formatDuration(elapsedMs)}${ackWords}`)}`,
      );
    },
    lost(delivery, deliveryNumber, outcome) {
      if (json) {
        emit('lost', delivery);
        if (outcome === 'requeue') emit('requeued', delivery);
        return;
      }
      line(
        `${style.error(style.bold('LOST     '))} ${bodyForDisplay(delivery.body)}${redeliveredMark(delivery)} ${style.dim(`(delivery ${deliveryNumber}) ${LOSS_WORDS[outcome]}`)}`,
      );
    },
    replied(delivery, replyTo) {
      if (json) return emit('replied', delivery);
      line(`${colour('replied  ')} ${bodyForDisplay(delivery.body)} ${style.dim(`to '${replyTo}'`)}`);
    },
    notice(text) {
      stderr.write(`${colour(name)} ${text}\n`);
    },
    warn(text) {
      stderr.write(`${colour(name)} ${style.warn(`warning: ${text}`)}\n`);
    },
    tally(tally, unstarted) {
      const lostDetails = [
        tally.requeued > 0 ? `${tally.requeued} requeued` : '',
        tally.goneWithQueue > 0 ? `${tally.goneWithQueue} with the deleted queue` : '',
        tally.cutShort > 0 ? `${tally.cutShort} cut short` : '',
      ].filter((detail) => detail !== '');
      const parts = [
        `${plural(tally.received, 'message')} received`,
        `${tally.processed} processed`,
        `${tally.lost} lost${lostDetails.length > 0 ? ` (${lostDetails.join(', ')})` : ''}`,
        ...(tally.leftUnacked > 0
          ? [
              `${tally.leftUnacked} left unacknowledged to the broker${tally.hung > 0 ? ` (${tally.hung} hung by --on-lose hang)` : ''}`,
            ]
          : []),
        `${tally.redelivered} redelivered seen`,
        ...(tally.reconnects > 0
          ? [`${tally.reconnects} reconnect${tally.reconnects === 1 ? '' : 's'}`]
          : []),
      ];
      stderr.write(`${colour(name)} ${style.bold('stopped:')} ${parts.join(', ')}\n`);
      if (unstarted !== null && (unstarted.count > 0 || unstarted.mayBeIncomplete === true)) {
        const one = unstarted.count === 1;
        const why =
          unstarted.reason === 'auto-ack'
            ? `with auto-ack the broker had already removed ${one ? 'it, so it is' : 'them, so they are'} lost`
            : `${one ? 'it was' : 'they were'} not acknowledged, so ${one ? 'it' : 'they'} went with the deleted queue`;
        const doubt = unstarted.mayBeIncomplete
          ? ' The broker did not confirm cancelling this consumer, so more may have been removed on their way here: this count may be incomplete.'
          : '';
        stderr.write(
          `${colour(name)} ${style.warn(`${plural(unstarted.count, 'message')} had arrived but ${one ? 'was' : 'were'} never processed; ${why}.${doubt}`)}\n`,
        );
      }
    },
  };
}
