import type { ChannelModel } from 'amqplib';
import type { ConnectionSettings } from '../config/connection.js';
import type { QtoolError } from '../errors.js';
import { closeConnection } from './close.js';
import { openConnection } from './connect.js';
import { explainAmqpError } from './explain.js';

/**
 * An open connection plus the knowledge of whether it died on us. Commands race their work
 * against `lost`, so a broker shutdown, a heartbeat time-out or a forced close ends them with
 * a plain message instead of a hang or an unhandled 'error' event.
 */
export interface Session {
  readonly model: ChannelModel;
  readonly settings: ConnectionSettings;
  /** Resolves (never rejects) with the explained error once the connection is lost unexpectedly. */
  readonly lost: Promise<QtoolError>;
  /** Whether the connection has been lost. */
  isLost(): boolean;
  /**
   * Closes the connection, waiting a few seconds at most; safe to call twice or after it was lost.
   * When the broker does not confirm the close, the session counts as lost (isLost(), lost).
   */
  close(): Promise<void>;
}

export async function openSession(settings: ConnectionSettings, purpose: string): Promise<Session> {
  const model = await openConnection(settings, purpose);
  let closing = false;
  let lostError: QtoolError | null = null;
  /** Why the connection ended while we were closing it, if it did. */
  let endedWhileClosing: unknown;
  let reportLost: (error: QtoolError) => void = () => {};
  const lost = new Promise<QtoolError>((resolve) => {
    reportLost = resolve;
  });
  const settleLost = (error: unknown) => {
    lostError = explainAmqpError(error, settings);
    reportLost(lostError);
  };
  const markLost = (error: unknown) => {
    if (lostError) return;
    if (closing) endedWhileClosing ??= error;
    else settleLost(error);
  };
  // amqplib emits 'error' before 'close' when the broker or socket ends the connection;
  // a bare 'close' without an error still means we lost it.
  model.on('error', markLost);
  model.on('close', (error?: Error) => markLost(error ?? new Error('Unexpected close')));

  return {
    model,
    settings,
    lost,
    isLost: () => lostError !== null,
    async close() {
      if (closing || lostError) return;
      closing = true;
      const outcome = await closeConnection(model);
      // Unconfirmed: whatever was sent last may not have reached the broker, so it is not a clean end.
      if (outcome !== 'closed') settleLost(endedWhileClosing ?? new Error('Unexpected close'));
    },
  };
}
