import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveProfile } from '../../src/config/profiles.js';
import { childEnv, runCli } from '../support/cli.js';

const run = promisify(execFile);
let folder: string;
let script: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'qtool-completion-'));
  const generated = await runCli(['completion', 'bash']);
  expect(generated.exitCode).toBe(0);
  script = join(folder, 'qtool.bash');
  await writeFile(script, generated.stdout);
  // Saved profiles, for --profile completion, written as qtool login writes them.
  await saveProfile(join(folder, 'qtool', 'config.json'), 'lab', { host: 'h' });
  await saveProfile(join(folder, 'qtool', 'config.json'), 'home', { host: 'h' });
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

/** What bash offers after the given words (the last one is the word being completed). */
async function complete(...words: string[]): Promise<string[]> {
  const quoted = words.map((word) => `'${word}'`).join(' ');
  const { stdout } = await run(
    'bash',
    [
      '-c',
      `source '${script}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _qtool; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { env: childEnv({ XDG_CONFIG_HOME: folder }) },
  );
  return stdout.split('\n').filter(Boolean);
}

describe('qtool completion', () => {
  it('generates a bash script that bash accepts', async () => {
    await run('bash', ['-n', script]);
  });

  it('completes subcommands, their options, global options and closed sets of values', async () => {
    expect(await complete('qtool', 'qpro')).toEqual(['qprocessor']);
    expect(await complete('qtool', 'qprocessor', '--lose')).toEqual(['--lose-every']);
    expect(await complete('qtool', 'qprocessor', '--on-lose', '')).toEqual(['requeue', 'crash', 'hang']);
    expect(await complete('qtool', '--host', 'h', 'send', '--pers')).toEqual(['--persistent']);
    expect(await complete('qtool', 'receive', '--vh')).toEqual(['--vhost']);
    expect(await complete('qtool', 'config', '')).toEqual(['trust', 'untrust', 'show']);
    expect(await complete('qtool', 'completion', '')).toEqual(['bash', 'zsh']);
    expect(await complete('qtool', 'send', '--profile', '')).toEqual(['lab', 'home']);
    // An option of another command is not offered.
    expect(await complete('qtool', 'send', '--lose')).toEqual([]);
  });

  it('refuses an unknown shell as a usage error', async () => {
    const result = await runCli(['completion', 'fish']);
    expect(result.exitCode).toBe(2);
  });

  it('generates a zsh script through bashcompinit', async () => {
    const result = await runCli(['completion', 'zsh']);
    expect(result.stdout).toMatch(/^#compdef qtool/);
    expect(result.stdout).toContain('bashcompinit');
    expect(result.stdout).toContain('complete -o default -F _qtool qtool');
  });
});
