import { type Command, InvalidArgumentError, Option } from 'commander';
import { QUEUE_TYPES } from '../../amqp/queue-type.js';
import { parseQueueName } from '../../config/values.js';
import { thousands } from '../../output/format.js';
import type { CliContext } from '../context.js';
import { messageIdArgument, nonEmpty, positiveInteger } from '../parsers.js';
import { addQueueOptions, queueOptions } from '../queue-options.js';

/** peek, purge, delete and declare: looking into and managing the queue named by --queue. */
export function registerQueueCommands(program: Command, { io, result, connection }: CliContext): void {
  program
    .command('peek')
    .description('show the first messages of the queue without taking them (they are marked redelivered)')
    .option('--count <n>', 'how many messages from the head of the queue', positiveInteger, 1)
    .option('--json', 'one JSON object per message, as receive --json', false)
    .option(
      '--force',
      'peek at a quorum queue even where the broker counts each peek toward its delivery limit (RabbitMQ 4.0 to 4.2)',
      false,
    )
    .action(async (options, command: Command) => {
      const { runPeek } = await import('../../commands/peek.js');
      result.exitCode = await runPeek(
        await connection(command),
        { count: options.count, json: options.json, force: options.force },
        io,
      );
    });

  program
    .command('failed')
    .description(
      "the failed jobs of the queue (in '<queue>.failed'): list them with their reasons, requeue or purge them",
    )
    .option('--requeue', 'move failed messages back to the work queue (with --all or --id)', false)
    .option('--all', 'with --requeue: every failed message', false)
    .option('--id <message-id>', 'with --requeue: the failed message with this message id', messageIdArgument)
    .option('--purge', 'remove every failed message and say how many', false)
    .option('--count <n>', 'list at most n failed messages', positiveInteger, 100)
    .option('--json', 'one JSON object per failed message', false)
    .option(
      '--force',
      'list (or requeue by id) from a quorum queue even where the broker counts each return toward its delivery limit (RabbitMQ 4.0 to 4.2)',
      false,
    )
    .action(async (options, command: Command) => {
      const given = (name: string) => command.getOptionValueSource(name) === 'cli';
      const fail = (message: string) => command.error(`error: ${message}`, { exitCode: 2 });
      if (options.requeue && options.purge)
        fail('--requeue and --purge do opposite things: give one of them');
      if (options.requeue && options.all && options.id !== undefined) {
        fail('--requeue takes --all (every failed message) or --id <message-id> (one of them), not both');
      }
      if (options.requeue && !options.all && options.id === undefined) {
        fail('--requeue needs --all (every failed message) or --id <message-id> (one of them)');
      }
      if (!options.requeue && (options.all || options.id !== undefined)) {
        fail(`${options.all ? '--all' : '--id'} goes with --requeue`);
      }
      if ((options.requeue || options.purge) && (given('count') || options.json)) {
        fail(
          `${given('count') ? '--count' : '--json'} is for the listing, not for --${options.requeue ? 'requeue' : 'purge'}`,
        );
      }
      const { runFailed } = await import('../../commands/failed.js');
      result.exitCode = await runFailed(
        await connection(command),
        {
          action: options.purge
            ? { kind: 'purge' }
            : options.requeue
              ? { kind: 'requeue', id: options.id ?? null }
              : { kind: 'list', count: options.count, json: options.json },
          force: options.force,
        },
        io,
      );
    });

  program
    .command('purge')
    .description('remove every ready message from the queue (unacknowledged ones stay) and say how many')
    .action(async (_options, command: Command) => {
      const { runPurge } = await import('../../commands/purge.js');
      result.exitCode = await runPurge(await connection(command), io);
    });

  program
    .command('delete')
    .description('delete the queue; refuses one with consumers or messages unless --force')
    .option('--force', 'delete it even with consumers (they are cancelled) and messages (discarded)', false)
    .option(
      '--if-unused',
      'also have the broker refuse it if it has consumers (with --force: messages go with it)',
      false,
    )
    .option(
      '--if-empty',
      'also have the broker refuse it if it has ready messages (with --force: consumers are cancelled)',
      false,
    )
    .action(async (options, command: Command) => {
      const { runDelete } = await import('../../commands/delete.js');
      result.exitCode = await runDelete(
        await connection(command),
        { force: options.force, ifUnused: options.ifUnused, ifEmpty: options.ifEmpty },
        io,
      );
    });

  addQueueOptions(
    program
      .command('declare')
      .description('declare the queue with a type and arguments; an existing one must match them'),
  )
    // --queue-type's earlier name, kept working for scripts and notes that use it.
    .addOption(new Option('--type <type>').choices(QUEUE_TYPES).conflicts('queueType').hideHelp())
    .option('--max-length <n>', 'keep at most n ready messages, dropping the oldest', messageLimit)
    .option('--message-ttl <ms>', 'messages expire after this many milliseconds in the queue', messageTtl)
    .option(
      '--dead-letter-queue <name>',
      'send rejected, expired and dropped messages to this queue (declared too, durable)',
      queueName,
    )
    .action(async (options, command: Command) => {
      const { durability, queueType } = queueOptions({
        durable: options.durable,
        queueType: options.queueType ?? options.type,
      });
      const { runDeclare } = await import('../../commands/declare.js');
      result.exitCode = await runDeclare(
        await connection(command),
        {
          // Neither --durable nor --no-durable leaves it undefined: see asksForSettings.
          durable: durability === 'unspecified' ? undefined : durability === 'durable',
          type: queueType,
          maxLength: options.maxLength,
          messageTtlMs: options.messageTtl,
          deadLetterQueue: options.deadLetterQueue,
        },
        io,
      );
    });
}

function wholeNumber(text: string, max: number, what: string): number {
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value > max) {
    throw new InvalidArgumentError(`expected ${what}, from 0 to ${thousands(max)}.`);
  }
  return value;
}

function messageLimit(text: string): number {
  return wholeNumber(text, Number.MAX_SAFE_INTEGER, 'a whole number of messages');
}

function messageTtl(text: string): number {
  // RabbitMQ refuses a TTL above 2^32 - 1 ms (about 49 days).
  return wholeNumber(text, 4_294_967_295, 'a whole number of milliseconds');
}

/** The same rules as --queue (255 bytes, no control characters), as commander's kind of error. */
function queueName(text: string): string {
  nonEmpty(text);
  try {
    return parseQueueName(text, 'the name');
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message}.`);
  }
}
