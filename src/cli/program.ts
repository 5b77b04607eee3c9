import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { type CommandIo, writeLine } from '../commands/io.js';
import type { SettingsInput } from '../config/settings.js';
import { registerBenchCommand } from './commands/bench.js';
import { registerBrokerCommands } from './commands/broker.js';
import { registerCompletionCommand } from './commands/completion.js';
import { registerLabCommand } from './commands/lab.js';
import { registerMessagingCommands } from './commands/messaging.js';
import { registerMonitoringCommands } from './commands/monitoring.js';
import { registerQueueCommands } from './commands/queues.js';
import { registerSettingsCommands } from './commands/settings.js';
import { groupsToRegister } from './command-selection.js';
import { addHiddenConnectionOptions, withConnectionOptions } from './connection-options.js';
import type { CliContext, ProgramResult } from './context.js';
import { askPassword } from './prompt.js';

/**
 * The command tree. Connection options are parsed by the program, so they work before or after
 * the subcommand (`qtool qprocessor --host h --queue q` and `qtool --host h qprocessor`), and shown
 * in the help of each command that connects; their environment variables and defaults are applied
 * by resolveConnection, not commander, so that profiles slot in between.
 */
export function buildProgram(io: CommandIo, result: ProgramResult, args?: readonly string[]): Command {
  const program = new Command('qtool')
    .description('Send, receive and process RabbitMQ work-queue messages from the shell, as the lab teaches.')
    .version(packageVersion(), '-V, --version')
    .configureHelp({ sortSubcommands: false })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // A terminal's width, else commander's own 80 columns: the width of the prerendered pages.
      getOutHelpWidth: () => (io.stdout.isTTY && io.stdout.columns ? io.stdout.columns : 80),
      getErrHelpWidth: () => (io.stderr.isTTY && io.stderr.columns ? io.stderr.columns : 80),
    });

  addHiddenConnectionOptions(program).option('--verbose', 'show stack traces of errors');
  program.addHelpText(
    'after',
    '\nConnection options (--host, --vhost, --username, --queue, --profile, TLS) are listed in the help of\neach command that connects, e.g. `qtool send --help`; they work before or after the command.',
  );

  // Each command's implementation, and the settings machinery, load only when a command runs:
  // `--help`, `--version` and a usage error pay for commander and the option definitions alone.
  const settings = async (command: Command, forLogin = false) =>
    (await import('../config/settings.js')).resolveSettings({
      forLogin,
      flags: command.optsWithGlobals() as SettingsInput['flags'],
      env: io.env,
      readStdin: () => readAll(io.stdin),
      // Prompt only when a person is there to answer.
      askPassword: io.stdin.isTTY && io.stderr.isTTY ? askPassword : null,
      notice: (line) => writeLine(io.stderr, line),
    });
  const context: CliContext = {
    io,
    result,
    settings,
    async connection(command: Command) {
      const resolved = (await settings(command)).settings;
      if (resolved.protocol === 'amqps' && resolved.insecure) {
        writeLine(
          io.stderr,
          "qtool: warning: --insecure: the broker's TLS certificate is not verified; the connection is encrypted, but anyone on the way could pose as the broker",
        );
      }
      return resolved;
    },
  };

  // Each group lives in src/cli/commands/; only the groups this command line can run are built
  // (all of them without `args`, as for the help pages).
  const groups = args === undefined ? COMMAND_GROUPS : groupsToRegister(args, COMMAND_GROUPS);
  for (const group of groups) group.register(program, context);

  const registered = new Set(program.commands.map((command) => command.name()));
  for (const path of CONNECTING_COMMANDS) {
    if (registered.has(path.split(' ')[0] as string)) withConnectionOptions(commandAt(program, path));
  }
  return program;
}

/** Every command, in groups of one registration each, in the order `qtool --help` lists them. */
const COMMAND_GROUPS: readonly {
  names: readonly string[];
  register: (program: Command, context: CliContext) => void;
}[] = [
  { names: ['send', 'receive', 'qprocessor', 'demo'], register: registerMessagingCommands },
  { names: ['lab'], register: registerLabCommand },
  { names: ['broker'], register: registerBrokerCommands },
  { names: ['peek', 'failed', 'purge', 'delete', 'declare'], register: registerQueueCommands },
  { names: ['status', 'watch'], register: registerMonitoringCommands },
  { names: ['bench'], register: registerBenchCommand },
  { names: ['login', 'config'], register: registerSettingsCommands },
  { names: ['completion'], register: registerCompletionCommand },
];

/** The top-level command names of each group, for tests that check them against the tree. */
export const COMMAND_GROUP_NAMES = COMMAND_GROUPS.map((group) => group.names);

/** The commands that talk to a broker: their help lists the connection options; the others' does not. */
const CONNECTING_COMMANDS = [
  'send',
  'receive',
  'qprocessor',
  'demo',
  'lab',
  'peek',
  'failed',
  'purge',
  'delete',
  'declare',
  'status',
  'watch',
  'bench',
  'login',
  'config show',
];

function commandAt(program: Command, path: string): Command {
  let command = program;
  for (const name of path.split(' ')) {
    const next = command.commands.find((candidate) => candidate.name() === name);
    if (next === undefined) throw new Error(`no command '${path}' to add connection options to`);
    command = next;
  }
  return command;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function packageVersion(): string {
  // dist/cli/main.cjs and src/cli/program.ts both sit two levels below package.json.
  const manifest = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(manifest) as { version: string }).version;
}
