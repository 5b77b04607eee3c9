import type { ChannelModel } from 'amqplib';
import { type ConnectionSettings, hostAndPort, nodesOf } from '../config/connection.js';
import { QtoolError } from '../errors.js';
import { BROKER_REPLY_TIMEOUT_MS, closeConnection, NoReplyError } from './close.js';
import { openConnection } from './connect.js';
import { explainAmqpError } from './explain.js';
import { isPermanentConnectFailure } from './reconnect-policy.js';

/**
 * One open connection plus the knowledge of whether it died on us. Commands race their work
 * against `lost`, so a broker shutdown, a heartbeat time-out or a forced close ends them (or,
 * through a Link, starts a reconnection) with a plain message instead of a hang or an unhandled
 * 'error' event. A reconnecting command gets a new Session per connection: a generation.
 */
export interface Session {
  readonly model: ChannelModel;
  /** The settings with the host and port of the node this connection reached. */
  readonly settings: ConnectionSettings;
  /** Which of the nodes to try (see nodesOf) this is: 0 for the first. */
  readonly nodeIndex: number;
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

/**
 * Connects to the first node that answers, trying each once in order from `startAt` (a cluster's
 * nodes given as `--host a,b,c`; usually there is one). A failure that every node would repeat (a
 * wrong password, say) stops at once.
 */
export async function openSession(
  settings: ConnectionSettings,
  purpose: string,
  startAt = 0,
): Promise<Session> {
  const nodes = nodesOf(settings);
  const failures: QtoolError[] = [];
  for (let tried = 0; tried < nodes.length; tried += 1) {
    const nodeIndex = (startAt + tried) % nodes.length;
    const node = nodes[nodeIndex] as ConnectionSettings;
    try {
      return sessionOf(await openConnection(node, purpose), node, nodeIndex);
    } catch (error) {
      const explained = explainAmqpError(error, node);
      if (nodes.length === 1 || isPermanentConnectFailure(explained)) throw explained;
      failures.push(explained);
    }
  }
  throw new QtoolError(
    `cannot connect to any of the ${nodes.length} nodes (${nodes.map(hostAndPort).join(', ')})`,
    {
      cause: failures[0],
      hint: failures.map((failure) => failure.message).join('\n'),
    },
  );
}

function sessionOf(model: ChannelModel, settings: ConnectionSettings, nodeIndex: number): Session {
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
    nodeIndex,
    lost,
    isLost: () => lostError !== null,
    async close() {
      if (closing || lostError) return;
      closing = true;
      const outcome = await closeConnection(model);
      // Unconfirmed: whatever was sent last may not have reached the broker, so it is not a clean end.
      // A time-out says so itself: the dropped socket's error may not have arrived yet.
      if (outcome === 'timed-out') {
        settleLost(new NoReplyError('closing the connection', BROKER_REPLY_TIMEOUT_MS));
      } else if (outcome !== 'closed') settleLost(endedWhileClosing ?? new Error('Unexpected close'));
    },
  };
}
