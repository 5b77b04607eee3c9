import { type Command, Option } from 'commander';
import { QUEUE_TYPES } from '../../amqp/queue-type.js';
import {
  COMPARE_LATENCY_RATE,
  COMPARE_PHASE_SECONDS,
  DEFAULT_CONFIRM_WINDOW,
  DEFAULT_DURATION_SECONDS,
  DEFAULT_SIZE,
  MIN_SIZE,
} from '../../commands/bench/defaults.js';
import type { CliContext } from '../context.js';
import {
  nonNegativeInteger,
  positiveInteger,
  positiveNumber,
  positiveSeconds,
  prefetchCount,
} from '../parsers.js';

/** bench: a load generator on temporary queues of its own, in the spirit of RabbitMQ's PerfTest. */
export function registerBenchCommand(program: Command, { io, result, connection }: CliContext): void {
  program
    .command('bench')
    .description(
      "measure the broker: producers and consumers on temporary queues of bench's own (deleted afterwards), live rates, then totals and end-to-end latency",
    )
    .option('--producers <n>', 'producers, each on its own connection', nonNegativeInteger, 1)
    .option(
      '--consumers <n>',
      'consumers, each on its own connection (0: publish only)',
      nonNegativeInteger,
      1,
    )
    .option(
      '--size <bytes>',
      `message body size; the first ${MIN_SIZE} bytes carry the send time`,
      positiveInteger,
      DEFAULT_SIZE,
    )
    .option(
      '--duration <seconds>',
      `publish for this long (default ${DEFAULT_DURATION_SECONDS} s; ${COMPARE_PHASE_SECONDS} s per --compare run)`,
      positiveSeconds,
    )
    .option(
      '--count <n>',
      'send n messages in all (shared among the producers), then wait for them',
      positiveInteger,
    )
    .option(
      '--rate <msg/s>',
      `at most this many messages per second, per producer (default: as fast as possible; ${COMPARE_LATENCY_RATE} for the latency runs of --compare)`,
      positiveNumber,
    )
    .option(
      '--confirm <window>',
      'publisher confirms, at most this many unconfirmed per producer; 0: no confirms',
      nonNegativeInteger,
      DEFAULT_CONFIRM_WINDOW,
    )
    .option('--persistent', 'delivery mode 2: written to disk (the queues are durable)', false)
    .option('--acknowledge', 'manual acks, one per message; without it, auto-ack', false)
    .option(
      '--prefetch <n>',
      'at most n unacknowledged messages per consumer (with --acknowledge)',
      prefetchCount,
    )
    .addOption(
      new Option('--queue-type <type>', 'type of the temporary queues (default: classic)').choices(
        QUEUE_TYPES,
      ),
    )
    .option(
      '--queues <n>',
      'temporary queues; producers and consumers are spread over them',
      positiveInteger,
      1,
    )
    .option(
      '--compare',
      'run a short matrix (auto-ack vs manual acks, transient vs persistent, classic vs quorum, prefetch 1 vs 100), each at full speed for throughput and at --rate for latency, and print a table',
      false,
    )
    .option('--json', 'the summary as one JSON object on stdout', false)
    .addHelpText(
      'after',
      '\nbench declares its own queues (qtool-bench-<id>-1, ...) and deletes them at the end, also after Ctrl-C or an error.\nCtrl-C stops publishing, drains briefly and prints the figures so far; a second one stops waiting.',
    )
    .action(async (options, command: Command) => {
      if (command.getOptionValueSourceWithGlobals('queue') === 'cli') {
        command.error(
          'error: bench uses temporary queues of its own and never touches --queue: leave --queue out (--queues n sets how many it makes)',
          { exitCode: 2 },
        );
      }
      const { runBench } = await import('../../commands/bench/bench.js');
      result.exitCode = await runBench(
        await connection(command),
        {
          producers: options.producers,
          consumers: options.consumers,
          size: options.size,
          durationSeconds: options.duration,
          count: options.count,
          rate: options.rate,
          confirm: options.confirm,
          persistent: options.persistent,
          acknowledge: options.acknowledge,
          prefetch: options.prefetch,
          queueType: options.queueType,
          queues: options.queues,
          compare: options.compare,
          json: options.json,
        },
        io,
      );
    });
}
