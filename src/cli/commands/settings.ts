import type { Command } from 'commander';
import { runConfigShow } from '../../commands/config-show.js';
import { runLogin } from '../../commands/login.js';
import { DEFAULT_PROFILE, userConfigPath } from '../../config/profiles.js';
import type { CliContext } from '../context.js';

/** login and config show: profiles instead of long option lists. */
export function registerSettingsCommands(program: Command, { io, result, settings }: CliContext): void {
  program
    .command('login')
    .description(
      'test the connection options, then save them as a profile (--profile NAME, default "default")',
    )
    .action(async (_options, command: Command) => {
      const name =
        (command.optsWithGlobals() as { profile?: string }).profile ??
        io.env.QTOOL_PROFILE ??
        DEFAULT_PROFILE;
      result.exitCode = await runLogin(
        await settings(command, true),
        { name, path: userConfigPath(io.env) },
        io,
      );
    });

  program
    .command('config')
    .description('settings: `qtool config show` prints what would be used and where each value came from')
    .command('show')
    .description('print the connection settings this command line would use, password masked')
    .option('--json', 'as JSON', false)
    .action(async (options: { json: boolean }, command: Command) => {
      result.exitCode = runConfigShow(await settings(command), options, io);
    });
}
