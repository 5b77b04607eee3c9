import { type Command, Option } from 'commander';
import { ON_LOSE_CHOICES, type OnLose } from '../../worker/policy.js';
import type { CliContext } from '../context.js';
import { DEFAULT_KILL_AFTER_SECONDS, DEFAULT_RETRY_DELAY_SECONDS, jobOptions } from '../job-options.js';
import {
  messageIdArgument,
  nonEmpty,
  nonNegativeInteger,
  nonNegativeSeconds,
  positiveInteger,
  positiveSeconds,
  prefetchCount,
} from '../parsers.js';
import { addQueueOptions, queueOptions } from '../queue-options.js';
import { addReconnectOptions, reconnectOptions } from '../reconnect-options.js';

/** send, receive, qprocessor and demo: the lab's own commands. */
export function registerMessagingCommands(program: Command, { io, result, connection }: CliContext): void {
  addQueueOptions(
    addReconnectOptions(
      program
        .command('send')
        .description(
          'publish messages: each argument is one; with none, each line of standard input (or --file)',
        )
        .argument('[message...]', 'message bodies')
        .option('--file <path>', 'send each line of this file')
        .option('--count <n>', 'send the whole set n times', positiveInteger, 1)
        .option('--persistent', 'delivery mode 2: survive a broker restart in a durable queue', false)
        .option('--exchange <name>', 'publish to this exchange instead of the default exchange')
        .option(
          '--routing-key <key>',
          'routing key (default: the queue name; may be empty only with --exchange)',
        )
        .option('--no-confirm', 'no publisher confirms: the broker does not say which messages it kept')
        .option(
          '--message-id <id>',
          "the message's id (one message only; default: a new UUID for each message)",
          messageIdArgument,
        )
        .option(
          '--json',
          'on stdout, one JSON line per confirmed message with its id, then the summary',
          false,
        )
        .option(
          '--wait',
          "send one job and wait for the worker's reply: print its output, exit with its status",
          false,
        )
        .option(
          '--timeout <seconds>',
          'with --wait: give up waiting after this long (exit 1)',
          positiveSeconds,
        )
        .option('--quiet', 'no summary line (warnings and errors still show)'),
    ),
  ).action(async (messages: string[], options, command: Command) => {
    if (messages.length > 0 && options.file !== undefined) {
      command.error('error: give messages as arguments or with --file, not both', { exitCode: 2 });
    }
    const source =
      messages.length > 0
        ? { kind: 'arguments' as const, messages }
        : options.file !== undefined
          ? { kind: 'file' as const, path: options.file as string }
          : { kind: 'stdin' as const, stream: io.stdin };
    if (source.kind === 'stdin' && (command.optsWithGlobals() as { passwordStdin?: boolean }).passwordStdin) {
      command.error(
        'error: --password-stdin uses standard input; give the messages as arguments or with --file',
        {
          exitCode: 2,
        },
      );
    }
    const { checkSendModes } = await import('../../commands/send-modes.js');
    checkSendModes({
      source,
      count: options.count,
      confirm: options.confirm,
      messageId: options.messageId,
      json: options.json,
      wait: options.wait,
      timeoutGiven: options.timeout !== undefined,
    });
    const { runSend } = await import('../../commands/send.js');
    result.exitCode = await runSend(
      await connection(command),
      {
        source,
        count: options.count,
        persistent: options.persistent,
        exchange: options.exchange,
        routingKey: options.routingKey,
        confirm: options.confirm,
        quiet: Boolean(options.quiet),
        messageId: options.messageId,
        json: options.json,
        wait: options.wait
          ? { timeoutMs: options.timeout === undefined ? undefined : options.timeout * 1000 }
          : undefined,
        ...queueOptions(options),
        reconnect: reconnectOptions(options),
      },
      io,
    );
  });

  addQueueOptions(
    addReconnectOptions(
      program
        .command('receive')
        .description(
          'print each message body on its own line as it arrives (auto-ack, like the hello-world consumer)',
        )
        .option('--acknowledge', 'manual acks: ack each message after printing it', false)
        .option(
          '--prefetch <n>',
          'at most n unacknowledged messages at a time (with --acknowledge)',
          prefetchCount,
        )
        .option('--count <n>', 'exit after n messages (acks each, so none is lost on exit)', positiveInteger)
        .option('--idle-timeout <seconds>', 'exit 0 after this long without a message', positiveSeconds)
        .option('--json', 'one JSON object per message', false),
    ),
  ).action(async (options, command: Command) => {
    const { runReceive } = await import('../../commands/receive.js');
    result.exitCode = await runReceive(
      await connection(command),
      {
        acknowledge: options.acknowledge,
        prefetch: options.prefetch,
        count: options.count,
        idleTimeoutSeconds: options.idleTimeout,
        json: options.json,
        ...queueOptions(options, {
          manualAck: options.acknowledge || options.count !== undefined,
          prefetch: options.prefetch ?? options.count,
        }),
        reconnect: reconnectOptions(options),
      },
      io,
    );
  });

  addQueueOptions(
    addReconnectOptions(
      program
        .command('qprocessor')
        .description("the lab's worker: fakes work per character, can lose messages, acks on request")
        .option('--name <label>', 'worker name shown on each line (default: a short random id)', nonEmpty)
        .option(
          '--delay-per-char <seconds>',
          'seconds of fake work per character; 0 for none',
          nonNegativeSeconds,
          1,
        )
        .option(
          '--block',
          'busy-wait instead of sleeping: starves heartbeats, to show a heartbeat time-out',
          false,
        )
        .option('--acknowledge', 'turn auto-ack off and ack each message after its work', false)
        .option(
          '--prefetch <n>',
          'at most n unacknowledged messages per worker (fair dispatch: 1)',
          prefetchCount,
        )
        .option('--lose-every <n>', 'lose every n-th message this worker receives', positiveInteger)
        .addOption(
          new Option('--on-lose <action>', 'with --acknowledge, what losing a message does')
            .choices(ON_LOSE_CHOICES)
            .default('requeue' satisfies OnLose),
        )
        .option('--json', 'one JSON event per line on stdout, no colour', false)
        .option(
          '--exec <command>',
          'run this shell command (sh -c) per message instead of the fake work: body on stdin, QTOOL_MESSAGE_ID etc. in the environment; exit 0 is success',
          nonEmpty,
        )
        .option(
          '--job-timeout <seconds>',
          'with --exec: a job running longer fails; its process group gets SIGTERM',
          positiveSeconds,
        )
        .option(
          '--kill-after <seconds>',
          'with --job-timeout: SIGKILL this long after SIGTERM',
          positiveSeconds,
          DEFAULT_KILL_AFTER_SECONDS,
        )
        .option(
          '--concurrency <n>',
          'with --exec: run up to n jobs at once (prefetch at least n)',
          prefetchCount,
          1,
        )
        .option(
          '--retries <n>',
          "with --exec --acknowledge: run a failed message again up to n times, then move it to '<queue>.failed'",
          nonNegativeInteger,
          0,
        )
        .option(
          '--retry-delay <seconds>',
          "with --retries: how long a failed message waits in '<queue>.retry' before it runs again",
          nonNegativeSeconds,
          DEFAULT_RETRY_DELAY_SECONDS,
        ),
    ),
  ).action(async (options, command: Command) => {
    const job = jobOptions(options, (name) => command.getOptionValueSource(name) === 'cli');
    const { runQprocessor } = await import('../../commands/qprocessor.js');
    result.exitCode = await runQprocessor(
      await connection(command),
      {
        name: options.name,
        delayPerCharSeconds: options.delayPerChar,
        block: options.block,
        acknowledge: options.acknowledge,
        prefetch: options.prefetch,
        loseEvery: options.loseEvery,
        onLose: options.onLose,
        onLoseGiven: command.getOptionValueSource('onLose') === 'cli',
        json: options.json,
        ...queueOptions(options, { manualAck: options.acknowledge, prefetch: options.prefetch }),
        reconnect: reconnectOptions(options),
        job,
      },
      io,
    );
  });

  program
    .command('demo')
    .description('a sender and two workers on a fresh queue; starts a throwaway local broker if none answers')
    .action(async (_options, command: Command) => {
      const { runDemo } = await import('../../commands/demo.js');
      result.exitCode = await runDemo(await connection(command), io);
    });
}
