import { explainAmqpError } from '../amqp/explain.js';
import { Link, type ReconnectOptions, type Restored } from '../amqp/link.js';
import { type ConnectionSettings, hostAndPort, maskedUrl } from '../config/connection.js';
import { QtoolError } from '../errors.js';
import { formatDuration } from '../output/format.js';

export type { ReconnectOptions } from '../amqp/link.js';

/**
 * withSession for the commands that ride through a lost connection (receive, qprocessor, watch,
 * send): `work` gets a Link, runs on link.session and calls link.restore() when it is lost. The
 * session current at the end is always closed, and any failure comes out explained.
 */
export async function withLink<T>(
  settings: ConnectionSettings,
  purpose: string,
  options: ReconnectOptions,
  work: (link: Link) => Promise<T>,
): Promise<T> {
  const link = await Link.open(settings, purpose, options);
  let result: T;
  try {
    result = await work(link);
  } catch (error) {
    const session = link.session;
    const explained =
      error instanceof QtoolError
        ? error
        : session.isLost()
          ? await session.lost
          : explainAmqpError(error, session.settings);
    await link.close();
    throw explained;
  }
  await link.close();
  if (link.session.isLost()) throw await link.session.lost;
  return result;
}

/** The line that says where a command is connected, naming the node when there are several. */
export function nodeInUse(settings: ConnectionSettings, clustered: boolean): string {
  return clustered ? `${maskedUrl(settings)} (node ${hostAndPort(settings)})` : maskedUrl(settings);
}

/**
 * The line that says a consumer or connection was lost and is coming back: why, what became of
 * the messages in hand (`account`, a sentence), and what happens next.
 */
export function lostLine(error: QtoolError, retry: 'connection' | 'channel', account?: string): string {
  const what =
    retry === 'connection'
      ? `connection lost: ${error.message}; reconnecting.`
      : `${error.message}; consuming again.`;
  return account === undefined ? what : `${what} ${account}`;
}

/** One line per failed attempt would flood a pane during a long outage: say the first few, then every tenth. */
export function retryWorthSaying(attempt: number): boolean {
  return attempt <= 3 || attempt % 10 === 0;
}

export function retryLine(error: QtoolError, attempt: number, delayMs: number): string {
  return `reconnect attempt ${attempt} failed (${error.message}); trying again in ${formatDuration(delayMs)}`;
}

/** "reconnected to ... after 4.2 s": the node in use, how long it took, how many reconnects so far. */
export function restoredLine(restored: Restored, link: Link): string {
  const { session, attempts, downtimeMs } = restored;
  return (
    `reconnected to ${nodeInUse(session.settings, link.clustered)} after ${formatDuration(downtimeMs)}` +
    `${attempts > 1 ? ` (${attempts} attempts)` : ''}; reconnects so far: ${link.reconnects}`
  );
}
