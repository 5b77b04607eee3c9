import { type ConnectionSettings, DEFAULT_SETTINGS, maskedUrl } from '../config/connection.js';
import { type Profile, saveProfile } from '../config/profiles.js';
import { CONNECTION_OPTIONS } from '../config/schema.js';
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
  const profile = profileFrom(settings);
  // The default guest password is nothing to save; any other is, in a file only the user can read.
  if (sources.password === 'default' && settings.password === DEFAULT_SETTINGS.password) {
    delete profile.password;
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

/**
 * The settings as a profile: every option's value as its variable would carry it (see schema.ts),
 * so whatever was tested (TLS files, heartbeat, queue) is what the profile reproduces.
 */
function profileFrom(settings: ConnectionSettings): Profile {
  const profile: Profile = {};
  for (const option of CONNECTION_OPTIONS) {
    const value = option.toEnv(settings);
    if (value === '') continue;
    if (option.kind === 'switch') profile[option.name] = true;
    else if (option.name === 'port' || option.name === 'heartbeat') profile[option.name] = Number(value);
    else profile[option.name] = value;
  }
  return profile;
}
