import { STAMP_BYTES } from './stamp.js';

/**
 * bench's defaults and limits, those its --help and its report's notes show, apart from the rest
 * of the runner so that `qtool bench --help` loads nothing else.
 */

/** A message's body holds its send time; this is the smallest --size that can. */
export const MIN_SIZE = STAMP_BYTES;
/** PerfTest's default body size. */
export const DEFAULT_SIZE = 12;
export const DEFAULT_CONFIRM_WINDOW = 1000;
/** PerfTest runs until stopped; a class wants an answer, so a plain run lasts this long. */
export const DEFAULT_DURATION_SECONDS = 10;
/**
 * After publishing stopped early (the time is up, Ctrl-C), the consumers get this long to take
 * what is still queued: enough for a backlog of a second or so, short enough not to keep a class
 * waiting. What is left is reported as a backlog, not a loss.
 */
export const DRAIN_MS = 2_000;
/** In a --count run, the consumers may fall quiet this long before the missing ones count as lost. */
export const IDLE_MS = 5_000;
/**
 * Each --compare run lasts this long unless --duration or --count says otherwise: five rows of two
 * runs, with the drains and set-up well under a minute.
 */
export const COMPARE_PHASE_SECONDS = 2;
/**
 * The rate per producer of a --compare row's latency run unless --rate says otherwise: slow enough
 * for every variant to keep up on a laptop (prefetch 1 included), so no backlog builds.
 */
export const COMPARE_LATENCY_RATE = 1000;
