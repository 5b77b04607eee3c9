import { type ConnectionSettings, maskedUrl } from '../../config/connection.js';
import { QtoolError } from '../../errors.js';
import { createLiveDisplay } from '../../output/bench-progress.js';
import { shellQuote } from '../../output/format.js';
import { type CommandIo, writeLine } from '../io.js';
import { COMPARE_LATENCY_RATE } from './defaults.js';
import { type BenchPlan, type BenchRequest, countGoal, planBench, planWarnings } from './plan.js';
import type { BenchSummary } from './report.js';
import { compareHeader, compareNotes, compareTable, rateSetting, summaryLines } from './report-text.js';
import { type RunOutcome, runBenchOnce } from './run.js';

export interface BenchOptions extends BenchRequest {
  json: boolean;
}

/**
 * `qtool bench`: a load generator in the spirit of RabbitMQ's PerfTest, on temporary queues of its
 * own that it deletes afterwards. One run, or with --compare a matrix of short runs shown as a
 * table. The summary (or table) goes to stdout, with --json as one JSON object; the live line
 * and notices go to stderr.
 *
 * Ctrl-C stops publishing, lets the consumers drain briefly, prints the figures so far, deletes
 * the queues and exits 0 (as receive and qprocessor do); a second stops waiting for the broker and
 * goes straight to deleting the queues (exit 130); a third exits at once, naming the queues left.
 */
export async function runBench(
  settings: ConnectionSettings,
  options: BenchOptions,
  io: CommandIo,
): Promise<number> {
  const plans = planBench(options);
  for (const warning of planWarnings(options, plans)) writeLine(io.stderr, `qtool: warning: ${warning}`);

  const stop = new AbortController();
  const giveUp = new AbortController();
  /** The queues that exist right now, for the last-resort message of a third Ctrl-C. */
  const pending: string[] = [];
  const stopListening = io.onInterrupt((count) => {
    if (count === 1) stop.abort();
    else if (count === 2) giveUp.abort();
    else {
      if (pending.length > 0) {
        const left = leftQueues(pending, true);
        writeLine(io.stderr, `qtool: ${left.message}\n${left.hint}`);
      }
      io.exitNow(130);
    }
  });

  const outcomes: RunOutcome[] = [];
  try {
    for (const [index, plan] of plans.entries()) {
      if (stop.signal.aborted) break;
      const label =
        plan.variant === null
          ? 'bench'
          : `${index + 1}/${plans.length} ${plan.variant}, ${plan.phase === 'latency' ? `latency at ${rateSetting(plan.rate ?? 0)} msg/s` : 'full speed'}`;
      const outcome = await runBenchOnce(
        settings,
        plan,
        { stop: stop.signal, giveUp: giveUp.signal },
        () =>
          createLiveDisplay(io.stderr, {
            label,
            ...(plan.length.kind === 'count'
              ? { total: countGoal(plan), unit: 'messages' as const }
              : { total: plan.length.seconds, unit: 'seconds' as const }),
          }),
        pending,
      );
      outcomes.push(outcome);
      const { queuesLeft, settings: used } = outcome.summary;
      const deleted = used.queues.filter((queue) => !queuesLeft.includes(queue));
      if (outcome.started && deleted.length > 0) {
        writeLine(
          io.stderr,
          `qtool: deleted the temporary ${deleted.length === 1 ? 'queue' : 'queues'} ${deleted.join(', ')}`,
        );
      }
      if (outcome.failure !== undefined) break;
    }
  } finally {
    stopListening();
  }

  const measured = outcomes.filter((outcome) => outcome.started).map((outcome) => outcome.summary);
  if (measured.length > 0) {
    if (options.json) {
      const document = options.compare ? { compare: measured } : measured[0];
      writeLine(io.stdout, JSON.stringify(document));
    } else {
      for (const line of options.compare
        ? compareLines(measured, plans, settings)
        : plainLines(measured, plans)) {
        writeLine(io.stdout, line);
      }
    }
  }

  const left = outcomes.flatMap((outcome) => outcome.summary.queuesLeft);
  const leftover = left.length > 0 ? leftQueues(left, false) : undefined;
  const failure = outcomes.find((outcome) => outcome.failure !== undefined)?.failure;
  if (failure !== undefined) {
    const lines = [failure.hint, leftover && `qtool: ${leftover.message}\n${leftover.hint}`];
    throw new QtoolError(failure.message, { cause: failure, hint: lines.filter(Boolean).join('\n') });
  }
  if (leftover !== undefined) throw new QtoolError(leftover.message, { hint: leftover.hint });
  const problems = measured.flatMap((summary) =>
    summary.problems.map((problem) =>
      summary.variant === null ? problem : `${summary.variant} (${summary.phase}): ${problem}`,
    ),
  );
  if (problems.length > 0) {
    throw new QtoolError(`the counts do not add up: ${problems.join('; ')}`, {
      hint: 'A benchmark counts only what the broker confirmed and the consumers received; see the summary above.',
    });
  }
  return giveUp.signal.aborted ? 130 : 0;
}

function plainLines(measured: BenchSummary[], plans: BenchPlan[]): string[] {
  const summary = measured[0] as BenchSummary;
  return summaryLines(summary, plans[0] as BenchPlan);
}

function compareLines(measured: BenchSummary[], plans: BenchPlan[], settings: ConnectionSettings): string[] {
  const table = compareTable(measured);
  const latencyRate = plans.find((plan) => plan.phase === 'latency')?.rate ?? COMPARE_LATENCY_RATE;
  return [
    compareHeader(plans[0] as BenchPlan, maskedUrl(settings)),
    ...table.lines,
    ...compareNotes(latencyRate, table.unsustained, (plans[0] as BenchPlan).length.kind === 'duration'),
  ];
}

/**
 * Which temporary queues are left on the broker and the command that deletes each: a one-line
 * message (without the `qtool: ` lead) and the lines that follow it.
 */
export function leftQueues(
  queues: readonly string[],
  stoppedAtOnce: boolean,
): { message: string; hint: string } {
  const one = queues.length === 1;
  const named = `bench's temporary ${one ? 'queue' : 'queues'} ${queues.join(', ')}`;
  const message = stoppedAtOnce
    ? `stopped at once: ${named} ${one ? 'is' : 'are'} left on the broker`
    : `could not delete ${named}: ${one ? 'it is' : 'they are'} left on the broker`;
  const hint = [
    `Delete ${one ? 'it' : 'them'} with the same connection options${stoppedAtOnce ? '' : ' once the broker answers'}:`,
    ...queues.map((queue) => `  qtool delete --queue ${shellQuote(queue)} --force`),
  ].join('\n');
  return { message, hint };
}
