import { describe, expect, it } from 'vitest';
import {
  COMPARE_LATENCY_RATE,
  COMPARE_PHASE_SECONDS,
  DEFAULT_DURATION_SECONDS,
  MIN_SIZE,
} from '../../src/commands/bench/defaults.js';
import {
  type BenchRequest,
  compareMatrix,
  confirmWindowFor,
  consumersOn,
  countGoal,
  expectedDeliveries,
  MAX_UNCONFIRMED_BYTES,
  planBench,
  planWarnings,
  producerShare,
  queueIndexFor,
} from '../../src/commands/bench/plan.js';
import { UsageError } from '../../src/errors.js';
import { benchRequest } from './bench-request.js';

function usageError(overrides: Partial<BenchRequest>): UsageError {
  try {
    planBench(benchRequest(overrides));
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error(`planBench accepted ${JSON.stringify(overrides)}`);
}

describe('planBench', () => {
  it('applies the defaults: one classic queue, auto-ack, confirms, and 10 s when no length is given', () => {
    const [plan, ...rest] = planBench(benchRequest());
    expect(rest).toEqual([]);
    expect(plan).toMatchObject({
      variant: null,
      queueType: 'classic',
      acknowledge: false,
      prefetch: undefined,
      confirmWindow: 1000,
      confirmAsked: null,
      length: { kind: 'duration', seconds: DEFAULT_DURATION_SECONDS },
    });
  });

  it('runs for --count or --duration as given', () => {
    expect(planBench(benchRequest({ count: 500 }))[0]?.length).toEqual({ kind: 'count', count: 500 });
    expect(planBench(benchRequest({ durationSeconds: 2.5 }))[0]?.length).toEqual({
      kind: 'duration',
      seconds: 2.5,
    });
  });

  it('refuses each kind of bad input with a usage error (exit 2) that names the value and the fix', () => {
    const both = usageError({ count: 10, durationSeconds: 1 });
    expect(both.exitCode).toBe(2);
    expect(both.message).toMatch(/--count and --duration .* give one of them/);
    expect(usageError({ producers: 0, consumers: 0 }).message).toMatch(/--producers 0 and --consumers 0/);
    expect(usageError({ producers: 0 }).message).toMatch(/--producers 0: .*use --producers 1 or more/);
    expect(usageError({ size: 4 }).message).toBe(
      `--size 4 is too small: each message carries its ${MIN_SIZE}-byte send time (use --size ${MIN_SIZE} or more)`,
    );
    expect(usageError({ size: 64 * 1024 * 1024 }).message).toMatch(
      /--size 67108864 is too big: at most 16777216/,
    );
    expect(usageError({ queues: 3, producers: 2, consumers: 3 }).message).toMatch(
      /--queues 3 needs at least 3 producers .*2 producers given/,
    );
    expect(usageError({ queues: 2, producers: 2, consumers: 1 }).message).toMatch(
      /--queues 2 needs at least 2 consumers/,
    );
    expect(usageError({ count: 2, producers: 3, queues: 1 }).message).toMatch(
      /--count 2 is fewer than the 3 producers/,
    );
    expect(usageError({ producers: 101 }).message).toMatch(/--producers 101 is too many: at most 100/);
  });

  it('accepts the smallest size and a publish-only run', () => {
    expect(planBench(benchRequest({ size: MIN_SIZE }))[0]?.size).toBe(MIN_SIZE);
    expect(planBench(benchRequest({ consumers: 0 }))[0]?.consumers).toBe(0);
  });

  it('reports every problem at once: the first as the message, the rest below it', () => {
    const error = usageError({ count: 5, durationSeconds: 1, size: 2 });
    expect(error.message).toMatch(/--count and --duration/);
    expect(error.hint).toMatch(/--size 2 is too small/);
  });

  it('refuses to read a stream the way the broker refuses, with the same explanation as the other commands', () => {
    expect(usageError({ queueType: 'stream' }).message).toMatch(
      /^reading a stream needs --acknowledge and --prefetch n: RabbitMQ serves a stream only/,
    );
    expect(usageError({ queueType: 'stream', acknowledge: true }).message).toMatch(/needs --prefetch n/);
    expect(
      planBench(benchRequest({ queueType: 'stream', acknowledge: true, prefetch: 10 }))[0]?.queueType,
    ).toBe('stream');
    // Publishing alone to a stream needs no consumer settings.
    expect(planBench(benchRequest({ queueType: 'stream', consumers: 0 }))[0]?.consumers).toBe(0);
  });

  it('cuts the confirm window for big messages so unconfirmed bodies stay within the memory bound', () => {
    expect(confirmWindowFor(1000, 12)).toBe(1000);
    expect(confirmWindowFor(0, 12)).toBe(0);
    // 1 MiB bodies: 63 of them, with what each costs besides its body, fit in 64 MiB.
    expect(confirmWindowFor(1000, 1024 * 1024)).toBe(63);
    expect(confirmWindowFor(1000, 16 * 1024 * 1024)).toBe(3);
    // Small bodies: a Buffer and a Map entry each still count, so a huge window is cut too.
    expect(confirmWindowFor(10_000_000, 12)).toBe(Math.floor(MAX_UNCONFIRMED_BYTES / (12 + 256)));
    const plans = planBench(benchRequest({ size: 16 * 1024 * 1024 }));
    expect(plans[0]).toMatchObject({ confirmWindow: 3, confirmAsked: 1000 });
    expect(planWarnings(benchRequest({ size: 16 * 1024 * 1024 }), plans).join('\n')).toMatch(
      /the confirm window is 3, not 1,000, for 16,777,216-byte messages/,
    );
  });

  it('warns that the broker ignores a prefetch without manual acks', () => {
    const given = benchRequest({ prefetch: 10 });
    expect(planWarnings(given, planBench(given))).toEqual([
      '--prefetch has no effect without --acknowledge: the broker does not limit auto-ack consumers',
    ]);
    const manual = benchRequest({ prefetch: 10, acknowledge: true });
    expect(planWarnings(manual, planBench(manual))).toEqual([]);
  });
});

describe('--compare', () => {
  it('runs a baseline and one row per setting, each differing from the baseline in that setting alone', () => {
    const plans = planBench(benchRequest({ compare: true }));
    const variants = [...new Set(plans.map((plan) => plan.variant))];
    expect(variants).toEqual(['baseline', 'auto-ack', 'prefetch 1', 'persistent', 'quorum queue']);
    const baseline = plans[0];
    expect(baseline).toMatchObject({
      queueType: 'classic',
      persistent: false,
      acknowledge: true,
      prefetch: 100,
    });
    const keys = ['queueType', 'persistent', 'acknowledge', 'prefetch'] as const;
    for (const plan of plans.filter((row) => row.variant !== 'baseline')) {
      const differing = keys.filter((key) => plan[key] !== baseline?.[key]);
      // auto-ack has no prefetch: the broker would ignore one.
      expect(differing).toEqual(
        plan.variant === 'auto-ack' ? ['acknowledge', 'prefetch'] : [expect.any(String)],
      );
    }
  });

  it('runs each row twice: at full speed for throughput, then at a fixed rate for latency', () => {
    const plans = planBench(benchRequest({ compare: true }));
    expect(plans).toHaveLength(10);
    plans.forEach((plan, index) => {
      const [throughput, latency] = [plans[index - (index % 2)], plans[index - (index % 2) + 1]];
      expect(throughput?.variant).toBe(latency?.variant);
      expect(plan.phase).toBe(index % 2 === 0 ? 'throughput' : 'latency');
      expect(plan.rate).toBe(index % 2 === 0 ? undefined : COMPARE_LATENCY_RATE);
      expect(plan.length).toEqual({ kind: 'duration', seconds: COMPARE_PHASE_SECONDS });
    });
    // Ten runs of 2 s, plus their drains of 2 s at most: a class waits well under a minute.
    expect(plans.length * COMPARE_PHASE_SECONDS).toBeLessThanOrEqual(20);
    // --rate sets the latency runs' pace; the throughput runs stay at full speed.
    const paced = planBench(benchRequest({ compare: true, rate: 250 }));
    expect(paced.map((plan) => plan.rate)).toEqual(Array.from({ length: 5 }, () => [undefined, 250]).flat());
  });

  it('keeps the sizes, counts and clients given, and refuses the settings its rows vary', () => {
    const plans = planBench(
      benchRequest({ compare: true, count: 200, size: 100, producers: 2, consumers: 2 }),
    );
    expect(plans.every((plan) => plan.size === 100 && plan.producers === 2 && plan.consumers === 2)).toBe(
      true,
    );
    expect(plans[0]?.length).toEqual({ kind: 'count', count: 200 });
    expect(usageError({ compare: true, acknowledge: true, queueType: 'quorum' }).message).toBe(
      '--compare sets --acknowledge, --queue-type itself (its rows vary ack mode, persistence, queue type and prefetch): leave them out',
    );
    expect(usageError({ compare: true, consumers: 0 }).message).toMatch(/--compare measures consumers too/);
    expect(compareMatrix(planBench(benchRequest())[0] as never, 10)).toHaveLength(10);
  });
});

describe('sharing out the work', () => {
  it('shares --count among the producers, to the message', () => {
    const shares = [0, 1, 2].map((index) => producerShare(10, 3, index));
    expect(shares).toEqual([4, 3, 3]);
    expect(shares.reduce((a, b) => a + b)).toBe(10);
  });

  it('spreads producers and consumers round robin over the queues', () => {
    expect([0, 1, 2, 3].map((index) => queueIndexFor(index, 2))).toEqual([0, 1, 0, 1]);
    expect(consumersOn(0, { consumers: 3, queues: 2 })).toBe(2);
    expect(consumersOn(1, { consumers: 3, queues: 2 })).toBe(1);
  });

  it('expects one delivery per message, except that every consumer of a stream reads every message', () => {
    const plan = { consumers: 3, queues: 2 };
    expect(expectedDeliveries({ ...plan, queueType: 'classic' }, [10, 20])).toBe(30);
    expect(expectedDeliveries({ ...plan, queueType: 'quorum' }, [10, 20])).toBe(30);
    expect(expectedDeliveries({ ...plan, queueType: 'stream' }, [10, 20])).toBe(2 * 10 + 1 * 20);
    expect(expectedDeliveries({ consumers: 0, queues: 1, queueType: 'classic' }, [10])).toBe(0);
  });

  it("sets a --count run's bar to the deliveries the consumers should see", () => {
    const [stream] = planBench(
      benchRequest({ count: 100, consumers: 2, queueType: 'stream', acknowledge: true, prefetch: 5 }),
    );
    expect(countGoal(stream as never)).toBe(200);
    const [publishOnly] = planBench(benchRequest({ count: 100, consumers: 0 }));
    expect(countGoal(publishOnly as never)).toBe(100);
  });
});
