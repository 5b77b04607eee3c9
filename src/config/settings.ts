import { QtoolError, UsageError } from '../errors.js';
import {
  type ConnectionFlags,
  DEFAULT_SETTINGS,
  type ResolvedConnection,
  resolveConnection,
} from './connection.js';
import {
  loadProfile,
  localConfigPath,
  parseConfigText,
  requestedProfile,
  type SelectedProfile,
  userConfigPath,
} from './profiles.js';
import { rememberSecret } from './secrets.js';
import { type LocalFileTrust, localFileTrust, trustStorePath } from './trust.js';

/** Everything the settings for one run come from. */
export interface SettingsInput {
  flags: ConnectionFlags & { profile?: string | undefined; passwordStdin?: boolean | undefined };
  env: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /** Reads the whole of standard input (for --password-stdin). */
  readStdin: () => Promise<string>;
  /** Asks for a password without echoing it, or null when nobody can be asked (not a TTY). */
  askPassword: ((question: string) => Promise<string>) | null;
  /** For `login`: the named profile may not exist yet, and a missing password is asked for. */
  forLogin?: boolean;
  /** Says one line to the user (a folder's config file that is not used). */
  notice?: (line: string) => void;
}

export interface ResolvedSettings extends ResolvedConnection {
  profile: SelectedProfile | null;
  /** The current folder's qtool.config.json, and whether it was used. */
  localFile: { path: string; trust: LocalFileTrust };
}

/**
 * The settings for this run, in the documented order: flag > environment > profile > default.
 * `--password-stdin` counts as a flag. A profile without a password prompts for one on a TTY,
 * unless its user is guest.
 */
export async function resolveSettings(input: SettingsInput): Promise<ResolvedSettings> {
  const { env } = input;
  const flags: ConnectionFlags = { ...input.flags };
  if (input.flags.passwordStdin) {
    if (flags.password !== undefined) throw new UsageError('give --password or --password-stdin, not both');
    flags.password = firstLine(await input.readStdin());
    if (flags.password === '') throw new UsageError('--password-stdin read no password from standard input');
  }
  const userFile = userConfigPath(env);
  const localFile = localConfigPath(input.cwd);
  const { trust, content } = await localFileTrust(trustStorePath(userFile), localFile);
  if (trust === 'untrusted' || trust === 'changed') {
    input.notice?.(
      `qtool: ignoring ${localFile}: ${trust === 'changed' ? 'it changed since you trusted it' : 'not trusted yet'}; ` +
        'check it, then `qtool config trust` to use it',
    );
  }
  const name = requestedProfile(input.flags.profile, env);
  const files =
    trust === 'trusted' && content !== null
      ? [userFile, { path: localFile, config: parseConfigText(content.toString('utf8'), localFile) }]
      : [userFile];
  const profile = await loadProfile(name, files).catch((error: unknown) => {
    if (input.forLogin && error instanceof UsageError) return null; // login creates it
    throw error;
  });
  const resolved = resolveConnection(flags, env, profile ?? undefined);
  // The guest user's password is the well-known default: asking for it only got in the way.
  const wantsPassword =
    (profile !== null || input.forLogin === true) && resolved.settings.username !== DEFAULT_SETTINGS.username;
  if (wantsPassword && resolved.sources.password === 'default' && input.askPassword !== null) {
    const password = await input.askPassword(
      profile === null
        ? `Password for ${resolved.settings.username}:`
        : `Password for ${resolved.settings.username} (profile '${profile.name}' has none):`,
    );
    if (password === '') throw new QtoolError('no password given');
    resolved.settings.password = password;
    resolved.sources.password = 'flag';
    rememberSecret(password);
  }
  return { ...resolved, profile, localFile: { path: localFile, trust } };
}

function firstLine(text: string): string {
  const newline = text.indexOf('\n');
  return (newline === -1 ? text : text.slice(0, newline)).replace(/\r$/, '');
}
