import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { QtoolError, UsageError } from '../errors.js';
import type { ConnectionFlags } from './connection.js';
import { writePrivateJson } from './private-file.js';
import { CONNECTION_OPTIONS, type OptionName, PROFILE_ENV } from './schema.js';
import { controlCharacterIn } from './values.js';

/**
 * Named connection profiles, so nobody types five connection options per tmux pane.
 *
 * Two files, both optional: the user's (`$XDG_CONFIG_HOME/qtool/config.json`, by default
 * `~/.config/qtool/config.json`) and the current folder's `qtool.config.json`, whose fields win
 * once the user has trusted that file (see trust.ts).
 * ```json
 * { "profiles": { "lab": { "host": "10.200.172.54", "vhost": "student1", "username": "student1",
 *                          "password": "...", "queue": "hello", "heartbeat": 30 } } }
 * ```
 */

/** A saved profile: any connection option by its name (see schema.ts), as JSON strings, numbers or booleans. */
export type Profile = { [name in OptionName]?: string | number | boolean };

export interface ConfigFile {
  profiles?: Record<string, Profile>;
}

/** A profile chosen for this run, with the files it came from (for `config show` and errors). */
export interface SelectedProfile {
  name: string;
  flags: ConnectionFlags;
  files: string[];
}

const PROFILE_KEYS: readonly OptionName[] = CONNECTION_OPTIONS.map((option) => option.name);
/** The profile used when none is named, if it exists. */
export const DEFAULT_PROFILE = 'default';
const LOCAL_FILE = 'qtool.config.json';

/** Where the user's config file lives, honouring XDG_CONFIG_HOME. */
export function userConfigPath(env: Readonly<Record<string, string | undefined>>): string {
  const base =
    env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'qtool', 'config.json');
}

/** The project-local config file in the current folder. */
export function localConfigPath(cwd: string = process.cwd()): string {
  return resolve(cwd, LOCAL_FILE);
}

/** Reads one config file; a missing file is an empty one, a broken one is an error naming it. */
export async function readConfigFile(path: string): Promise<ConfigFile | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new QtoolError(`cannot read ${path}: ${(error as Error).message}`);
  }
  return parseConfigText(text, path);
}

/** A config file's text, parsed and checked; `path` names it in errors. */
export function parseConfigText(text: string, path: string): ConfigFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new QtoolError(`${path} is not valid JSON: ${(error as Error).message}`, {
      hint: 'Fix or delete the file; `qtool login --profile NAME` writes a valid one.',
    });
  }
  return validateConfig(parsed, path);
}

/** A config file already read (the folder's, exactly the bytes that were trusted). */
export interface LoadedConfig {
  path: string;
  config: ConfigFile;
}

/** Checks the shape, collecting every problem rather than stopping at the first. */
export function validateConfig(value: unknown, path: string): ConfigFile {
  const problems: string[] = [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new QtoolError(`${path} must hold a JSON object like {"profiles": {...}}`);
  }
  const profiles = (value as ConfigFile).profiles;
  if (
    profiles !== undefined &&
    (typeof profiles !== 'object' || profiles === null || Array.isArray(profiles))
  ) {
    problems.push('"profiles" must be an object of named profiles');
  }
  for (const [name, profile] of Object.entries(profiles ?? {})) {
    const nameProblem = profileNameProblem(name);
    if (nameProblem !== null) problems.push(nameProblem);
    if (typeof profile !== 'object' || profile === null || Array.isArray(profile)) {
      problems.push(`profile "${name}" must be an object`);
      continue;
    }
    for (const [key, field] of Object.entries(profile)) {
      if (!(PROFILE_KEYS as readonly string[]).includes(key)) {
        problems.push(`profile "${name}": unknown setting "${key}" (known: ${PROFILE_KEYS.join(', ')})`);
      } else if (typeof field !== 'string' && typeof field !== 'number' && typeof field !== 'boolean') {
        problems.push(`profile "${name}": "${key}" must be a string, a number or true/false`);
      } else if (key !== 'password' && typeof field === 'string' && controlCharacterIn(field) !== null) {
        // A value with a control character could rewrite a terminal line or a tmux pane's input.
        problems.push(
          `profile "${name}": "${key}" contains a control character (${controlCharacterIn(field)})`,
        );
      }
    }
  }
  if (problems.length > 0) {
    throw new QtoolError(
      `${path} has ${problems.length === 1 ? 'a problem' : 'problems'}: ${problems.join('; ')}`,
    );
  }
  return value as ConfigFile;
}

/**
 * The profile asked for: --profile, else QTOOL_PROFILE; undefined when neither is set (the
 * `default` profile applies if there is one), null when one is set but empty: no profile at all.
 * `qtool lab` sets QTOOL_PROFILE='' in its panes so that only the lab's own settings apply.
 */
export function requestedProfile(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string | null | undefined {
  const given = flag ?? env[PROFILE_ENV];
  if (given === undefined) return undefined;
  if (given === '') return null;
  const problem = profileNameProblem(given);
  if (problem !== null) throw new UsageError(problem);
  return given;
}

/** Why a profile name cannot be used, or null. Names are printed and typed in shells. */
export function profileNameProblem(name: string): string | null {
  if (name === '') return 'a profile name must not be empty';
  if (controlCharacterIn(name) !== null)
    return `profile name contains a control character (${controlCharacterIn(name)})`;
  if (name.length > 64) return `profile name '${name.slice(0, 20)}...' is longer than 64 characters`;
  return null;
}

/**
 * Loads the profile for this run from `files` (later files win, field by field): the named one
 * (an error if no file has it), or the `default` profile when none is named and one exists, or null.
 */
export async function loadProfile(
  name: string | null | undefined,
  files: readonly (string | LoadedConfig)[],
): Promise<SelectedProfile | null> {
  if (name === null) return null;
  const found: { path: string; profile: Profile }[] = [];
  const known = new Set<string>();
  const wanted = name ?? DEFAULT_PROFILE;
  for (const file of files) {
    const path = typeof file === 'string' ? file : file.path;
    const config = typeof file === 'string' ? await readConfigFile(file) : file.config;
    for (const profileName of Object.keys(config?.profiles ?? {})) known.add(profileName);
    const profile = config?.profiles?.[wanted];
    if (profile !== undefined) found.push({ path, profile });
  }
  if (found.length === 0) {
    if (name === undefined) return null;
    const available =
      known.size > 0 ? `known profiles: ${[...known].sort().join(', ')}` : 'no profile is saved yet';
    throw new UsageError(
      `no profile named '${name}' (${available})`,
      `Create it with: qtool login --profile ${name} --host ... --vhost ... --username ...`,
    );
  }
  const merged: Profile = Object.assign({}, ...found.map((entry) => entry.profile));
  return { name: wanted, flags: profileToFlags(merged), files: found.map((entry) => entry.path) };
}

/** A profile's values as the strings the flags would have been. */
export function profileToFlags(profile: Profile): ConnectionFlags {
  const flags: ConnectionFlags = {};
  for (const key of PROFILE_KEYS) {
    const value = profile[key];
    if (value !== undefined) flags[key] = typeof value === 'boolean' ? value : String(value);
  }
  return flags;
}

/**
 * Saves a profile into the user's config file, keeping everything else in it. The file holds
 * passwords, so it is written with mode 0600 (folder 0700), through a temporary file and a rename
 * so a crash never leaves half a file.
 */
export async function saveProfile(path: string, name: string, profile: Profile): Promise<void> {
  const existing = (await readConfigFile(path)) ?? {};
  const next: ConfigFile = { ...existing, profiles: { ...(existing.profiles ?? {}), [name]: profile } };
  await writePrivateJson(path, next);
}
