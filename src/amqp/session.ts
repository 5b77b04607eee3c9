import type { ChannelModel } from 'amqplib';
import type { ConnectionSettings } from '../config/connection.js';
import type { QtoolError } from '../errors.js';
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
  /** Closes the connection; safe to call twice or after it was lost. */
  close(): Promise<void>;
}

export async function openSession(settings: ConnectionSettings, purpose: string): Promise<Session> {
  const model = await openConnection(settings, purpose);
  let closing = false;
  let lostError: QtoolError | null = null;
  let reportLost: (error: QtoolError) => void = () => {};
  const lost = new Promise<QtoolError>((resolve) => {
    reportLost = resolve;
  });
  const markLost = (error: unknown) => {
    if (closing || lostError) return;
    lostError = explainAmqpError(error, settings);
    reportLost(lostError);
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
      try {
        await model.close();
      } catch {
        // Already closing or closed: nothing left to release.
      }
    },
  };
}
