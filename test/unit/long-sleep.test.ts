import { setTimeout as timer } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { MAX_TIMER_MS, sleep, sleepInPieces } from '../../src/worker/long-sleep.js';
import { workDurationMs } from '../../src/worker/policy.js';

describe('sleep for fake work of any length', () => {
  it('is needed: a long message at a long delay per character passes setTimeout’s limit', () => {
    const body = Buffer.from('x'.repeat(1000));
    expect(workDurationMs(body, 2147483.647)).toBeGreaterThan(MAX_TIMER_MS);
  });

  it('still waits, 150 ms on, for a delay past setTimeout’s limit (a plain timer fires after 1 ms)', async () => {
    const abandon = new AbortController();
    let settled = false;
    const waiting = sleep(MAX_TIMER_MS + 1000, undefined, { signal: abandon.signal }).then(
      () => {
        settled = true;
      },
      (error: unknown) => error,
    );
    await timer(150);
    expect(settled).toBe(false);
    abandon.abort();
    expect(await waiting).toMatchObject({ name: 'AbortError' });
  });

  it('adds its pieces up to the whole delay', async () => {
    const started = performance.now();
    await sleepInPieces(90, 20);
    expect(performance.now() - started).toBeGreaterThanOrEqual(89);
  });

  it('rejects at once when already abandoned, as timers/promises does', async () => {
    await expect(sleep(1000, undefined, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });

  it('returns at once for no delay', async () => {
    const started = performance.now();
    await sleep(0);
    await sleepInPieces(-5, 10);
    expect(performance.now() - started).toBeLessThan(50);
  });
});
