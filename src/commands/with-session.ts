import { explainAmqpError } from '../amqp/explain.js';
import { openSession, type Session } from '../amqp/session.js';
import type { ConnectionSettings } from '../config/connection.js';
import { QtoolError } from '../errors.js';

/**
 * Opens a session, runs `work`, and always closes it. Any failure comes out explained; when the
 * connection itself died, that is the story told (not the "Channel closed" it caused).
 */
export async function withSession<T>(
  settings: ConnectionSettings,
  purpose: string,
  work: (session: Session) => Promise<T>,
): Promise<T> {
  const session = await openSession(settings, purpose);
  try {
    return await work(session);
  } catch (error) {
    if (error instanceof QtoolError) throw error;
    throw session.isLost() ? await session.lost : explainAmqpError(error, settings);
  } finally {
    await session.close();
  }
}
