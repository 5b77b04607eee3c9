import { DEFAULT_SETTINGS, maskedUrl } from '../config/connection.js';
import { type Profile, saveProfile } from '../config/profiles.js';
import type { ResolvedSettings } from '../config/settings.js';
import { type CommandIo, writeLine } from './io.js';
import { withSession } from './with-session.js';

/**
 * `qtool login --profile NAME [connection options]`: connects with the given settings and, only
 * when that works, saves them as a named profile in the user's config file (mode 0600).
 */
export async function runLogin(
  resolved: ResolvedSettings,
  target: { name: string; path: string },
  io: CommandIo,
): Promise<number> {
  const { settings, sources } = resolved;
  await withSession(settings, 'login', async () => {});
  const profile: Profile = {
    host: settings.hostname,
    port: settings.port,
    vhost: settings.vhost,
    username: settings.username,
    queue: settings.queue,
  };
  if (settings.protocol === 'amqps') profile.url = `amqps://${settings.hostname}:${settings.port}`;
  if (settings.heartbeat !== undefined) profile.heartbeat = settings.heartbeat;
  // The default guest password is nothing to save; any other is, in a file only the user can read.
  if (sources.password !== 'default' || settings.password !== DEFAULT_SETTINGS.password) {
    profile.password = settings.password;
  }
  await saveProfile(target.path, target.name, profile);
  writeLine(io.stderr, `Connected to ${maskedUrl(settings)} as ${settings.username}.`);
  writeLine(
    io.stderr,
    `Saved profile '${target.name}' to ${target.path} (mode 600: only you can read it${profile.password === undefined ? '' : '; it holds the password'}).`,
  );
  writeLine(
    io.stderr,
    `Use it with --profile ${target.name}, or export QTOOL_PROFILE=${target.name} in each pane.`,
  );
  return 0;
}
