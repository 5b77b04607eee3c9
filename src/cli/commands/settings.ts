import type { Command } from 'commander';
import { DEFAULT_PROFILE, localConfigPath, requestedProfile, userConfigPath } from '../../config/profiles.js';
import type { CliContext } from '../context.js';

/** login and config show: profiles instead of long option lists. */
export function registerSettingsCommands(program: Command, { io, result, settings }: CliContext): void {
  program
    .command('login')
    .description(
      'test the connection options, then save them as a profile (--profile NAME, default "default"); ' +
        'asks for the password at a terminal when none is given (or --password-stdin)',
    )
    .action(async (_options, command: Command) => {
      const name =
        requestedProfile((command.optsWithGlobals() as { profile?: string }).profile, io.env) ??
        DEFAULT_PROFILE;
      const { runLogin } = await import('../../commands/login.js');
      result.exitCode = await runLogin(
        await settings(command, true),
        { name, path: userConfigPath(io.env) },
        io,
      );
    });

  const config = program
    .command('config')
    .description(
      'settings: `config show` prints what would be used and where each value came from; `config trust` lets qtool read ./qtool.config.json',
    );
  config
    .command('trust')
    .description(
      "read this folder's qtool.config.json from now on (qtool ignores one you have not trusted, since it could send your password elsewhere); trusted as it is now",
    )
    .action(async () => {
      const { runConfigTrust } = await import('../../commands/config-trust.js');
      const { trustStorePath } = await import('../../config/trust.js');
      result.exitCode = await runConfigTrust(localConfigPath(), trustStorePath(userConfigPath(io.env)), io);
    });
  config
    .command('untrust')
    .description("stop reading this folder's qtool.config.json")
    .action(async () => {
      const { runConfigUntrust } = await import('../../commands/config-trust.js');
      const { trustStorePath } = await import('../../config/trust.js');
      result.exitCode = await runConfigUntrust(localConfigPath(), trustStorePath(userConfigPath(io.env)), io);
    });
  config
    .command('show')
    .description('print the connection settings this command line would use, password masked')
    .option('--json', 'as JSON', false)
    .action(async (options: { json: boolean }, command: Command) => {
      const { runConfigShow } = await import('../../commands/config-show.js');
      result.exitCode = runConfigShow(await settings(command), options, io);
    });
}
