import { DEFAULT_CONFIRM_WINDOW, DEFAULT_SIZE } from '../../src/commands/bench/defaults.js';
import type { BenchRequest } from '../../src/commands/bench/plan.js';

/** `qtool bench`'s options as commander hands them over with the command line's defaults, changed by `overrides`. */
export function benchRequest(overrides: Partial<BenchRequest> = {}): BenchRequest {
  return {
    producers: 1,
    consumers: 1,
    size: DEFAULT_SIZE,
    durationSeconds: undefined,
    count: undefined,
    rate: undefined,
    confirm: DEFAULT_CONFIRM_WINDOW,
    persistent: false,
    acknowledge: false,
    prefetch: undefined,
    queueType: undefined,
    queues: 1,
    compare: false,
    ...overrides,
  };
}
