import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveProfile, userConfigPath } from '../../src/config/profiles.js';
import { resolveSettings, type SettingsInput } from '../../src/config/settings.js';
import { QtoolError } from '../../src/errors.js';

/** The password prompt: when resolveSettings asks, and what it does with the answer. */
describe('resolveSettings password prompt', () => {
  let folder: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'qtool-settings-'));
    env = { XDG_CONFIG_HOME: folder };
    const path = userConfigPath(env);
    await saveProfile(path, 'student', { host: 'h', username: 'student1', vhost: 'student1' });
    await saveProfile(path, 'local', { host: 'localhost', username: 'guest' });
  });

  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  function input(profile: string | undefined, answer: string | null, asked: string[]): SettingsInput {
    return {
      flags: profile === undefined ? {} : { profile },
      env,
      cwd: folder,
      readStdin: async () => '',
      askPassword:
        answer === null
          ? null
          : async (question) => {
              asked.push(question);
              return answer;
            },
    };
  }

  it('asks for the password a profile does not hold, and uses the answer', async () => {
    const asked: string[] = [];
    const resolved = await resolveSettings(input('student', 's3cret', asked));
    expect(asked).toEqual(["Password for student1 (profile 'student' has none):"]);
    expect(resolved.settings.password).toBe('s3cret');
  });

  it('does not ask for guest, whose password is the well-known default', async () => {
    const asked: string[] = [];
    const resolved = await resolveSettings(input('local', 'typed', asked));
    expect(asked).toEqual([]);
    expect(resolved.settings.password).toBe('guest');
    expect(resolved.sources.password).toBe('default');
  });

  it('refuses an empty answer for any other user', async () => {
    await expect(resolveSettings(input('student', '', []))).rejects.toThrow(QtoolError);
  });

  it('never asks without a terminal, or without a profile', async () => {
    const asked: string[] = [];
    expect((await resolveSettings(input('student', null, asked))).settings.password).toBe('guest');
    expect((await resolveSettings(input(undefined, 'typed', asked))).settings.password).toBe('guest');
    expect(asked).toEqual([]);
  });
});
