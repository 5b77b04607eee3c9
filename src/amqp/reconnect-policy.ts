import { QtoolError } from '../errors.js';
import { certificateProblem } from './explain-tls.js';
import { parseBrokerClose } from './explain.js';

/**
 * When to try again after a lost connection, and when not to. Pure, so it is unit-tested alone.
 *
 * Capped exponential back-off with jitter: a class of thirty students' workers whose broker
 * restarts must not all knock at the same instant, and a node that stays down must not be
 * hammered. The cap is low (5 s) because a lab's broker restart takes seconds, and a worker that
 * comes back 30 s after its broker would look broken to the class watching it.
 */
export const BACK_OFF = { firstMs: 250, capMs: 5_000, factor: 2, jitter: 0.2 } as const;

/** Milliseconds to wait before reconnection attempt `attempt` (1, 2, ...), jittered by ±20 %. */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(BACK_OFF.capMs, BACK_OFF.firstMs * BACK_OFF.factor ** Math.max(0, attempt - 1));
  const spread = base * BACK_OFF.jitter;
  return Math.round(base - spread + random() * 2 * spread);
}

/**
 * Whether a failure to connect will fail again however often qtool tries: a wrong password, a
 * vhost that is missing or not permitted, a certificate that does not verify, a port that is not
 * AMQP. Everything else (refused, reset, timed out, the broker shutting down, a vhost that is
 * down while its node boots) is worth another attempt.
 */
export function isPermanentConnectFailure(error: unknown): boolean {
  const raw = error instanceof QtoolError && error.cause !== undefined ? error.cause : error;
  const code = (raw as { code?: unknown } | null)?.code;
  if (certificateProblem(code) !== null) return true;
  const message = String((raw as { message?: unknown } | null)?.message ?? raw);
  if (/wrong version number|Frame size \d+ exceeds|Expected ConnectionStart/.test(message)) return true;
  // amqplib drops the broker's words when it refuses connection.open: a vhost missing or not permitted.
  if (/Expected ConnectionOpenOk; got <ConnectionClose/.test(message)) return true;
  const close = parseBrokerClose(raw);
  if (close === null) return false;
  if (close.replyCode === 530) return !/is down/.test(close.text);
  return close.replyCode === 403;
}
