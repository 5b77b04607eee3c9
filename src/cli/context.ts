import type { Command } from 'commander';
import type { CommandIo } from '../commands/io.js';
import type { ConnectionSettings } from '../config/connection.js';
import type { ResolvedSettings } from '../config/settings.js';

/** Runs a command and reports its exit code; set by each action. */
export interface ProgramResult {
  exitCode: number;
}

/** What every command registration needs from the program. */
export interface CliContext {
  io: CommandIo;
  result: ProgramResult;
  /** The connection settings for the running command: flag > environment > profile > default. */
  connection(command: Command): Promise<ConnectionSettings>;
  /** The same with where each value came from and the profile used (for `config show`). */
  settings(command: Command, forLogin?: boolean): Promise<ResolvedSettings>;
}
