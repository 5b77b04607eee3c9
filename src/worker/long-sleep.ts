import { setTimeout as timer } from 'node:timers/promises';

/**
 * The longest delay setTimeout takes (2^31 - 1 ms, about 24.9 days): it fires after 1 ms instead
 * of anything longer, with no more than a warning.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * timers/promises' setTimeout (without a value) for a delay of any length: qprocessor's fake work
 * is the delay per character times the message's length, which can pass setTimeout's limit.
 * Rejects with an AbortError when the signal aborts, as setTimeout does.
 */
export function sleep(ms: number, _value?: undefined, options: { signal?: AbortSignal } = {}): Promise<void> {
  return sleepInPieces(ms, MAX_TIMER_MS, options.signal);
}

/** Waits `ms` in timers of at most `pieceMs` each. */
export async function sleepInPieces(ms: number, pieceMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + ms;
  const options = signal === undefined ? {} : { signal };
  for (let left = ms; left > 0; left = deadline - Date.now()) {
    await timer(Math.min(left, pieceMs), undefined, options);
  }
}
