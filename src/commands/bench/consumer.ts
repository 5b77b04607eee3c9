import { type Consumer, startConsumer } from '../../amqp/consume.js';
import type { Session } from '../../amqp/session.js';
import type { BenchPlan } from './plan.js';
import { readStamp } from './stamp.js';
import type { BenchStats } from './stats.js';

/**
 * One consumer on its own connection: auto-ack unless --acknowledge, then one basic.ack per
 * message as it arrives (as PerfTest does by default), with the --prefetch window. The latency is
 * taken on arrival, before the ack: the time the message spent getting from producer to consumer.
 */
export function startBenchConsumer(
  session: Session,
  queue: string,
  plan: BenchPlan,
  stats: BenchStats,
): Promise<Consumer> {
  return startConsumer(
    session.model,
    queue,
    { noAck: !plan.acknowledge, prefetch: plan.prefetch },
    (message, consumer) => {
      stats.noteReceived(readStamp(message.content), performance.now());
      if (plan.acknowledge) consumer.ack(message);
    },
  );
}
