import { type Command, Option } from 'commander';
import { CONNECTION_OPTIONS, type ConnectionOption, PROFILE_ENV } from '../config/schema.js';

/** Help headings: the lab's options first, TLS apart so it does not bury them. */
const HEADINGS: Record<ConnectionOption['group'], string> = {
  connection: 'Connection options (flag > environment > profile > default):',
  tls: 'TLS options (amqps):',
};

/** The flags that are not settings themselves but say where settings come from. */
function profileOptions(): Option[] {
  return [
    new Option(
      '--profile <name>',
      `use a saved connection profile, see qtool login (env ${PROFILE_ENV}; set but empty: none)`,
    ),
    new Option('--password-stdin', 'read the password from the first line of standard input'),
  ];
}

function optionFor(spec: ConnectionOption): Option {
  const facts = [`env ${spec.env}`];
  if (spec.defaultText !== undefined) facts.push(`default ${spec.defaultText}`);
  return new Option(spec.flags, `${spec.description} (${facts.join('; ')})`);
}

/**
 * Shows the connection options in a command's help, grouped. The values themselves are parsed
 * by the program (see addHiddenConnectionOptions), so they work before or after the subcommand.
 */
export function withConnectionOptions(command: Command): Command {
  for (const spec of CONNECTION_OPTIONS) command.addOption(optionFor(spec).helpGroup(HEADINGS[spec.group]));
  for (const option of profileOptions()) command.addOption(option.helpGroup(HEADINGS.connection));
  return command;
}

/**
 * The same options on the program itself, out of its help: commander lets the program take its
 * options anywhere on the line, so `qtool --host h send` and `qtool send --host h` both work,
 * and environment variables and profiles are applied by resolveConnection, not by commander.
 */
export function addHiddenConnectionOptions(program: Command): Command {
  for (const spec of CONNECTION_OPTIONS) program.addOption(optionFor(spec).hideHelp());
  for (const option of profileOptions()) program.addOption(option.hideHelp());
  return program;
}

/** Options whose value is a file name, for completion. */
export const CONNECTION_FILE_OPTIONS: readonly string[] = CONNECTION_OPTIONS.filter(
  (spec) => spec.kind === 'file',
).map((spec) => `--${spec.name}`);
