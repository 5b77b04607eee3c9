import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { LocalNode } from '../../src/broker/local-node.js';
import { isRunning, type RunningCli, startCli } from './cli.js';
import { startTestNode } from './nodes.js';

/**
 * What the fault suite (test/e2e/faults-*.test.ts) shares: every qtool it starts is tracked, so
 * each test can show that none is left running, and a failing test still ends what it started.
 */
export interface Launcher {
  /** startCli, tracked. */
  start(...args: Parameters<typeof startCli>): RunningCli;
  /** Fails unless every qtool this launcher started has ended (checked by pid). */
  expectNoneRunning(): void;
  /** Kills (SIGKILL) whatever is still running, and forgets everything started so far. */
  killLeftovers(): Promise<void>;
}

/** A fault file's own node and the qtools its tests start (see faultScene). */
export interface FaultScene {
  /** The node, once beforeAll has started it. */
  readonly node: LocalNode;
  /** AMQP_URL of that node, for the qtools the tests start. */
  readonly env: Record<string, string>;
  readonly clis: Launcher;
}

/**
 * Call inside a fault file's describe: a node of the project's version of its own, started before
 * its tests and stopped after them (the tests disturb it: restarts, alarms), and a launcher whose
 * leftovers are killed after each test.
 */
export function faultScene(): FaultScene {
  let started: LocalNode | undefined;
  const clis = launcher();
  beforeAll(async () => {
    started = await startTestNode();
  }, 120_000);
  afterEach(() => clis.killLeftovers(), 30_000);
  afterAll(async () => {
    await started?.stop();
  }, 120_000);
  const node = (): LocalNode => {
    if (started === undefined) throw new Error('the fault node is started in beforeAll');
    return started;
  };
  return {
    get node() {
      return node();
    },
    get env() {
      return { AMQP_URL: node().url };
    },
    clis,
  };
}

export function launcher(): Launcher {
  let started: RunningCli[] = [];
  return {
    start(...args) {
      const cli = startCli(...args);
      started.push(cli);
      return cli;
    },
    expectNoneRunning() {
      for (const cli of started) {
        const { pid } = cli.process;
        expect(pid, 'a qtool that never started').toBeDefined();
        expect(
          isRunning(pid as number),
          `qtool ${cli.process.spawnargs.slice(2).join(' ')} (pid ${pid}) still runs`,
        ).toBe(false);
      }
    },
    async killLeftovers() {
      const left = started.filter((cli) => isRunning(cli.process.pid));
      started = [];
      await Promise.all(left.map((cli) => killOutright(cli)));
    },
  };
}

/** `kill -9`, and wait until the process is gone (RunningCli.finished calls a SIGKILL a time-out). */
export async function killOutright(cli: RunningCli): Promise<void> {
  const child = cli.process;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.kill('SIGKILL');
  await closed;
}

/** One line of `qprocessor --json`. */
export interface WorkerEvent {
  event: 'received' | 'processed' | 'lost' | 'acked' | 'requeued';
  worker: string;
  body: string;
  redelivered: boolean;
  deliveryTag: number;
}

export const workerEvents = (worker: RunningCli, event: WorkerEvent['event']): WorkerEvent[] =>
  completeJsonLines<WorkerEvent>(worker.stdout()).filter((line) => line.event === event);

/**
 * The JSON lines of a running process's output so far: only whole ones, since a pipe may hand over
 * the start of a line before its end (jsonLines is for a process that has ended).
 */
export function completeJsonLines<T = Record<string, unknown>>(text: string): T[] {
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

/** How many times each body occurs in `bodies`. */
export function countByBody(bodies: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const body of bodies) counts.set(body, (counts.get(body) ?? 0) + 1);
  return counts;
}

/** The bodies of `expected` that `counts` does not hold at least once. */
export function missing(expected: readonly string[], counts: Map<string, number>): string[] {
  return expected.filter((body) => (counts.get(body) ?? 0) === 0);
}

/** A number as qtool prints it ("200,000") back to a number. */
export function parseCount(text: string | undefined): number {
  return Number((text ?? 'NaN').replace(/,/g, ''));
}
