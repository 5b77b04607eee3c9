import { explainAmqpError } from '../amqp/explain.js';
import { openSession, type Session } from '../amqp/session.js';
import type { ConnectionSettings } from '../config/connection.js';
import { QtoolError } from '../errors.js';

/**
 * Opens a session, runs `work`, and always closes it. Any failure comes out explained; when the
 * connection itself died, that is the story told (not the "Channel closed" it caused). Work that
 * succeeded still fails when the connection was lost before the broker confirmed its close: what
 * was sent last (acks, say) may never have reached the broker, and that must not pass as success.
 */
export async function withSession<T>(
  settings: ConnectionSettings,
  purpose: string,
  work: (session: Session) => Promise<T>,
): Promise<T> {
  const session = await openSession(settings, purpose);
  let result: T;
  try {
    result = await work(session);
  } catch (error) {
    const explained =
      error instanceof QtoolError
        ? error
        : session.isLost()
          ? await session.lost
          : explainAmqpError(error, settings);
    await session.close();
    throw explained;
  }
  await session.close();
  if (session.isLost()) throw await session.lost;
  return result;
}
