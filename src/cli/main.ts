import { CommanderError } from 'commander';
import type { CommandIo } from '../commands/io.js';
import { scrubSecrets } from '../config/secrets.js';
import { EXIT_FAILURE, EXIT_USAGE, QtoolError } from '../errors.js';
import { processIo } from './process-io.js';
import { buildProgram } from './program.js';

/**
 * The one error boundary: parse, run the command, and turn whatever went wrong into a plain
 * message and an exit code. Stack traces only with --verbose; passwords never.
 */
export async function main(argv: string[], io: CommandIo = processIo()): Promise<number> {
  const verbose = argv.includes('--verbose');
  installSafetyNet(io, verbose);
  const result = { exitCode: 0 };
  try {
    await buildProgram(io, result, argv.slice(2)).parseAsync(argv);
    return result.exitCode;
  } catch (error) {
    return reportError(error, io, verbose);
  }
}

export function reportError(error: unknown, io: CommandIo, verbose: boolean): number {
  if (error instanceof CommanderError) {
    // commander has already printed its message; --help and --version are not failures.
    return error.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  const write = (text: string) => io.stderr.write(`${scrubSecrets(text)}\n`);
  if (error instanceof QtoolError) {
    write(`qtool: ${error.message}`);
    if (error.hint) write(error.hint);
  } else {
    write(`qtool: unexpected error: ${error instanceof Error ? error.message : String(error)}`);
    if (!verbose) write('Run again with --verbose for the details.');
  }
  if (verbose) writeStack(error, write);
  return error instanceof QtoolError ? error.exitCode : EXIT_FAILURE;
}

function writeStack(error: unknown, write: (text: string) => void): void {
  let current: unknown = error;
  let prefix = '';
  while (current instanceof Error) {
    write(`${prefix}${current.stack ?? current.message}`);
    current = current.cause;
    prefix = 'caused by: ';
  }
}

let safetyNetInstalled = false;

/** Errors that escape every await (an 'error' event nobody listened to) still get a plain message. */
function installSafetyNet(io: CommandIo, verbose: boolean): void {
  if (safetyNetInstalled) return;
  safetyNetInstalled = true;
  // The reader of our output went away (`qtool status | head -1`): not our failure, so exit 0 as
  // `head` expects. Commands that watch their own output (receive, watch) give their own account
  // while they run; this catches the rest, and any write error that comes after they stopped.
  io.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (io.stdout.listenerCount('error') > 1) return;
    if (error.code === 'EPIPE') io.exitNow(0);
    io.exitNow(reportError(error, io, verbose));
  });
  process.on('uncaughtException', (error: NodeJS.ErrnoException) => {
    // The reader of our output went away (`qtool status | head`): that is not our failure. Only
    // stdout's own EPIPE counts: one from a child's pipe is a real error, reported as such.
    if (error.code === 'EPIPE' && (io.stdout as { destroyed?: boolean }).destroyed === true) io.exitNow(0);
    io.exitNow(reportError(error, io, verbose));
  });
  process.on('unhandledRejection', (reason) => {
    io.exitNow(reportError(reason, io, verbose));
  });
}
