import { declareQueue, findQueue } from '../amqp/queue.js';
import type { Session } from '../amqp/session.js';
import type { ConnectionSettings } from '../config/connection.js';
import { plural } from '../output/format.js';
import { brokerCloseOf } from './broker-close.js';
import { type CommandIo, writeLine } from './io.js';
import {
  asksForSettings,
  type DeclareRequest,
  describeDeclaration,
  explainDeclareConflict,
  type PlannedQueue,
  planDeclare,
} from './queue-admin.js';
import { withSession } from './with-session.js';

export type DeclareOptions = Omit<DeclareRequest, 'queue'>;

/**
 * `qtool declare`: declares the queue with the given durability, type and arguments, and with
 * --dead-letter-queue that queue too. Usage errors come before connecting. An existing queue
 * with other settings is explained, never changed.
 */
export async function runDeclare(
  settings: ConnectionSettings,
  options: DeclareOptions,
  io: CommandIo,
): Promise<number> {
  const plan = planDeclare({ ...options, queue: settings.queue });
  return withSession(settings, 'declare', async (session) => {
    if (!asksForSettings(options)) {
      const existing = await findQueue(session.model, plan.queue.name);
      if (existing !== null) {
        writeLine(
          io.stdout,
          `queue '${plan.queue.name}' already exists; used as it is (no settings asked for). ` +
            `It has ${plural(existing.messageCount, 'ready message')} and ${plural(existing.consumerCount, 'consumer')}`,
        );
        return 0;
      }
    }
    // The main queue first: if it conflicts, nothing is created at all.
    const existed = await declareOne(session, plan.queue);
    writeLine(
      io.stdout,
      existed === null
        ? `declared queue '${plan.queue.name}' (${describeDeclaration(plan.queue)})`
        : `queue '${plan.queue.name}' already exists as declared (${describeDeclaration(plan.queue)}); ` +
            `it has ${plural(existed.messageCount, 'ready message')} and ${plural(existed.consumerCount, 'consumer')}`,
    );

    const deadLetter = plan.deadLetterQueue;
    if (deadLetter === null) return 0;
    // Dead-lettering only needs the queue to exist: one already there is used as it is.
    if ((await findQueue(session.model, deadLetter.name)) !== null) {
      writeLine(io.stdout, `dead-letter queue '${deadLetter.name}' already exists; used as it is`);
    } else {
      await declareOne(session, deadLetter);
      writeLine(
        io.stdout,
        `declared dead-letter queue '${deadLetter.name}' (${describeDeclaration(deadLetter)})`,
      );
    }
    return 0;
  });
}

/** Declares one queue; returns its figures when it already existed, null when this created it. */
async function declareOne(session: Session, planned: PlannedQueue) {
  const before = await findQueue(session.model, planned.name);
  try {
    const figures = await declareQueue(session.model, planned.name, planned);
    return before === null ? null : figures;
  } catch (error) {
    throw explainDeclareConflict(planned.name, await brokerCloseOf(error, session)) ?? error;
  }
}
