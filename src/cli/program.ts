import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import type { CommandIo } from '../commands/io.js';
import { resolveSettings, type SettingsInput } from '../config/settings.js';
import { registerBrokerCommands } from './commands/broker.js';
import { registerCompletionCommand } from './commands/completion.js';
import { registerLabCommand } from './commands/lab.js';
import { registerMessagingCommands } from './commands/messaging.js';
import { registerMonitoringCommands } from './commands/monitoring.js';
import { registerQueueCommands } from './commands/queues.js';
import { registerSettingsCommands } from './commands/settings.js';
import type { CliContext, ProgramResult } from './context.js';
import { nonEmpty } from './parsers.js';
import { askPassword } from './prompt.js';

/**
 * The command tree. Connection options live on the program, so they work before or after the
 * subcommand (`qtool qprocessor --host h --queue q` and `qtool --host h qprocessor`); their
 * environment variables and defaults are applied by resolveConnection, not commander, so that
 * later settings sources (profiles) slot in between.
 */
export function buildProgram(io: CommandIo, result: ProgramResult): Command {
  const program = new Command('qtool')
    .description('Send, receive and process RabbitMQ work-queue messages from the shell, as the lab teaches.')
    .version(packageVersion(), '-V, --version')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });

  program
    .option('--url <url>', 'broker URL, amqp[s]://user:password@host:port/vhost (env AMQP_URL)')
    .option(
      '--host <host[:port]>',
      'broker host, optionally with :port (env QTOOL_HOST; default localhost)',
      nonEmpty,
    )
    .option('--port <n>', 'broker port (env QTOOL_PORT; default 5672, 5671 for amqps)')
    .option('--vhost <name>', 'virtual host (env QTOOL_VHOST; default /)')
    .option('--username <name>', 'user name (env QTOOL_USERNAME; default guest)')
    .option(
      '--password <pw>',
      'password (env QTOOL_PASSWORD; default guest). Visible to other users of the machine: prefer the variable',
    )
    .option(
      '--heartbeat <seconds>',
      'heartbeat interval, 0 for none (env QTOOL_HEARTBEAT; default: what the broker proposes)',
    )
    .option('--queue <name>', 'queue name (env QTOOL_QUEUE; default hello)')
    .option('--profile <name>', 'use a saved connection profile (env QTOOL_PROFILE; see qtool login)')
    .option('--password-stdin', 'read the password from the first line of standard input')
    .option('--verbose', 'show stack traces of errors');

  const settings = (command: Command, forLogin = false) =>
    resolveSettings({
      forLogin,
      flags: command.optsWithGlobals() as SettingsInput['flags'],
      env: io.env,
      readStdin: () => readAll(io.stdin),
      // Prompt only when a person is there to answer.
      askPassword: io.stdin.isTTY && io.stderr.isTTY ? askPassword : null,
    });
  const context: CliContext = {
    io,
    result,
    settings,
    async connection(command: Command) {
      return (await settings(command)).settings;
    },
  };

  // One line per group of commands; each group lives in src/cli/commands/.
  registerMessagingCommands(program, context);
  registerLabCommand(program, context);
  registerBrokerCommands(program, context);
  registerQueueCommands(program, context);
  registerMonitoringCommands(program, context);
  registerSettingsCommands(program, context);
  registerCompletionCommand(program, context);

  return program;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function packageVersion(): string {
  // dist/cli/program.js and src/cli/program.ts both sit two levels below package.json.
  const manifest = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(manifest) as { version: string }).version;
}
