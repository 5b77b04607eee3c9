import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { drain } from '../support/amqp.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { runCli } from '../support/cli.js';

const broker = testBroker();
const { hostname, port, password: brokerPassword, username: brokerUser } = new URL(broker.amqpUrl);
let folder: string;
let env: Record<string, string>;
const configFile = () => join(folder, 'qtool', 'config.json');

beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), 'qtool-config-'));
  env = { XDG_CONFIG_HOME: folder };
});

afterEach(async () => {
  await rm(folder, { recursive: true, force: true });
});

const login = (name: string, extra: string[] = [], input = decodeURIComponent(brokerPassword)) =>
  runCli(
    [
      'login',
      '--profile',
      name,
      '--host',
      hostname,
      '--port',
      port,
      '--username',
      decodeURIComponent(brokerUser),
      '--password-stdin',
      ...extra,
    ],
    { env, input: `${input}\n` },
  );

describe('profiles, login and config show', () => {
  it('login tests the connection, then saves the profile with mode 0600 and says so', async () => {
    const queue = uniqueName('profiled');
    const result = await login('lab', ['--queue', queue]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/Saved profile 'lab' to .*config\.json \(mode 600/);
    expect((await stat(configFile())).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(await readFile(configFile(), 'utf8'));
    expect(saved.profiles.lab).toMatchObject({ host: hostname, port: Number(port), queue });

    // The profile then stands in for the options, by flag or by environment.
    expect((await runCli(['send', '--profile', 'lab', 'by-flag'], { env })).exitCode).toBe(0);
    expect((await runCli(['send', 'by-env'], { env: { ...env, QTOOL_PROFILE: 'lab' } })).exitCode).toBe(0);
    expect(await drain(broker.amqpUrl, queue)).toEqual(['by-flag', 'by-env']);
  });

  it('login saves nothing when the connection fails', async () => {
    const result = await login('bad', [], 'not-the-password');
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/wrong username or password/);
    expect(result.stderr).not.toContain('not-the-password');
    await expect(stat(configFile())).rejects.toThrow();
  });

  it('config show tells where each value came from and masks the password', async () => {
    await login('lab', ['--queue', 'profile-queue', '--vhost', '/']);
    const result = await runCli(['config', 'show', '--profile', 'lab', '--heartbeat', '7', '--json'], {
      env: { ...env, QTOOL_QUEUE: 'env-queue' },
    });
    expect(result.exitCode, result.stderr).toBe(0);
    const shown = JSON.parse(result.stdout);
    expect(shown.settings.host).toEqual({ value: hostname, source: 'profile' });
    expect(shown.settings.queue).toEqual({ value: 'env-queue', source: 'env' });
    expect(shown.settings.heartbeat).toEqual({ value: 7, source: 'flag' });
    expect(shown.settings.password.value).toBe('***');
    expect(shown.profile.name).toBe('lab');
    const human = await runCli(['config', 'show', '--password', 'Sup3rSecret!'], { env });
    expect(human.stdout).toMatch(/password +\*\*\* +flag --password/);
    expect(human.stdout + human.stderr).not.toContain('Sup3rSecret!');
  });

  it('a trusted qtool.config.json in the current folder wins over the user file', async () => {
    await login('lab', ['--queue', 'from-user-file']);
    const project = await mkdtemp(join(tmpdir(), 'qtool-project-'));
    try {
      await writeFile(
        join(project, 'qtool.config.json'),
        JSON.stringify({ profiles: { lab: { queue: 'from-local' } } }),
      );
      expect((await runCli(['config', 'trust'], { env, cwd: project })).exitCode).toBe(0);
      const result = await runCli(['config', 'show', '--profile', 'lab', '--json'], { env, cwd: project });
      const shown = JSON.parse(result.stdout);
      expect(shown.settings.queue.value).toBe('from-local');
      expect(shown.settings.host.value).toBe(hostname);
    } finally {
      await rm(project, { recursive: true, force: true });
    }
  });

  it('an unknown profile is a usage error', async () => {
    const result = await runCli(['receive', '--profile', 'nope'], { env });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/no profile named 'nope'/);
  });

  it('--password-stdin cannot also carry the messages of send', async () => {
    const result = await runCli(['send', '--password-stdin'], { env, input: 'pw\nmessage\n' });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--password-stdin uses standard input/);
  });
});
