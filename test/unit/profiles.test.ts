import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveConnection } from '../../src/config/connection.js';
import {
  loadProfile,
  requestedProfile,
  saveProfile,
  userConfigPath,
  validateConfig,
} from '../../src/config/profiles.js';
import { QtoolError, UsageError } from '../../src/errors.js';

let folder: string;
let paths: { user: string; local: string };

beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), 'qtool-profiles-'));
  paths = { user: join(folder, 'user', 'qtool', 'config.json'), local: join(folder, 'qtool.config.json') };
});

/** Both files, as resolveSettings passes them once the folder's file is trusted. */
const files = () => [paths.user, paths.local];

afterEach(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('profiles', () => {
  it('honours XDG_CONFIG_HOME for the user file', () => {
    expect(userConfigPath({ XDG_CONFIG_HOME: '/x' })).toBe('/x/qtool/config.json');
  });

  it('takes --profile over QTOOL_PROFILE', () => {
    expect(requestedProfile('a', { QTOOL_PROFILE: 'b' })).toBe('a');
    expect(requestedProfile(undefined, { QTOOL_PROFILE: 'b' })).toBe('b');
    expect(requestedProfile(undefined, {})).toBeUndefined();
  });

  it('reads QTOOL_PROFILE set but empty as no profile at all, not even default', async () => {
    expect(requestedProfile(undefined, { QTOOL_PROFILE: '' })).toBeNull();
    await saveProfile(paths.user, 'default', { host: 'elsewhere' });
    expect(await loadProfile(null, files())).toBeNull();
  });

  it('refuses profile names with control characters', () => {
    expect(() => requestedProfile('lab\u0015x', {})).toThrow(UsageError);
    expect(() => validateConfig({ profiles: { 'a\rb': {} } }, 'f.json')).toThrow(/control character/);
    expect(() => validateConfig({ profiles: { a: { queue: 'q\u0015; rm -rf ~\r' } } }, 'f.json')).toThrow(
      /"queue" contains a control character \(U\+0015\)/,
    );
  });

  it('saves a profile with mode 0600, keeping the other profiles', async () => {
    await saveProfile(paths.user, 'one', { host: 'h1' });
    await saveProfile(paths.user, 'two', { host: 'h2', password: 'secret' });
    const saved = JSON.parse(await readFile(paths.user, 'utf8'));
    expect(saved.profiles).toEqual({ one: { host: 'h1' }, two: { host: 'h2', password: 'secret' } });
    expect((await stat(paths.user)).mode & 0o777).toBe(0o600);
    expect((await stat(join(folder, 'user', 'qtool'))).mode & 0o777).toBe(0o700);
  });

  it('lets the local file win over the user file, field by field', async () => {
    await saveProfile(paths.user, 'lab', { host: 'user-host', vhost: 'student1', port: 5673 });
    await writeFile(paths.local, JSON.stringify({ profiles: { lab: { host: 'local-host' } } }));
    const profile = await loadProfile('lab', files());
    expect(profile?.flags).toEqual({ host: 'local-host', vhost: 'student1', port: '5673' });
    expect(profile?.files).toEqual([paths.user, paths.local]);
  });

  it('uses the default profile when none is named, and nothing when there is none', async () => {
    expect(await loadProfile(undefined, files())).toBeNull();
    await saveProfile(paths.user, 'default', { queue: 'q' });
    expect((await loadProfile(undefined, files()))?.name).toBe('default');
  });

  it('refuses an unknown profile as a usage error listing the known ones', async () => {
    await saveProfile(paths.user, 'lab', {});
    await expect(loadProfile('lob', files())).rejects.toThrow(UsageError);
    await expect(loadProfile('lob', files())).rejects.toThrow(/known profiles: lab/);
  });

  it('names the file and every problem of a broken config', async () => {
    await writeFile(paths.local, '{ not json');
    await expect(loadProfile('x', files())).rejects.toThrow(new RegExp(`${paths.local} is not valid JSON`));
    expect(() => validateConfig({ profiles: { a: { hots: 'x', port: [1] } } }, 'f.json')).toThrow(
      /problems: profile "a": unknown setting "hots".*; profile "a": "port" must be a string, a number or true\/false/,
    );
    expect(() => validateConfig([], 'f.json')).toThrow(QtoolError);
  });
});

describe('precedence with a profile', () => {
  it('is flag > environment > profile > default', () => {
    const profile = {
      name: 'lab',
      flags: { host: 'p-host', vhost: 'p-vhost', queue: 'p-queue', username: 'p-user' },
    };
    const { settings, sources } = resolveConnection(
      { queue: 'f-queue' },
      { QTOOL_VHOST: 'e-vhost', QTOOL_QUEUE: 'e-queue' },
      profile,
    );
    expect(settings).toMatchObject({
      hostname: 'p-host',
      vhost: 'e-vhost',
      queue: 'f-queue',
      username: 'p-user',
    });
    expect(sources).toMatchObject({ hostname: 'profile', vhost: 'env', queue: 'flag', port: 'default' });
  });

  it('names the profile when one of its values is bad', () => {
    expect(() => resolveConnection({}, {}, { name: 'lab', flags: { port: 'abc' } })).toThrow(
      /profile 'lab' port/,
    );
  });
});
