import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { childEnv, QTOOL_BIN } from '../support/cli.js';

/**
 * bin/cli-loader.js hands V8 the code cache the build made (dist/cli/main.cjs.v8-cache). These
 * check that this Node accepts the cache the build just made, and that the CLI runs the same
 * without it or with a damaged one.
 */
const run = promisify(execFile);
const root = join(dirname(QTOOL_BIN), '..');

it("this Node accepts the build's code cache", async () => {
  const { stdout } = await run(
    process.execPath,
    [
      '-e',
      "const { script } = require('./bin/cli-loader.js').loadCli(); console.log(script.cachedDataRejected);",
    ],
    { cwd: root, env: childEnv() },
  );
  expect(stdout.trim()).toBe('false');
});

let copy: string;
beforeAll(async () => {
  copy = await mkdtemp(join(tmpdir(), 'qtool-loader-'));
  for (const part of ['bin', 'dist', 'package.json'])
    await cp(join(root, part), join(copy, part), { recursive: true });
});
afterAll(async () => {
  await rm(copy, { recursive: true, force: true });
});

it.each([
  ['a damaged code cache', 'not a code cache'],
  ['no code cache', null],
])('runs the same with %s', async (_what, cache) => {
  const cacheFile = join(copy, 'dist', 'cli', 'main.cjs.v8-cache');
  if (cache === null) await rm(cacheFile, { force: true });
  else await writeFile(cacheFile, cache);
  const bin = join(copy, 'bin', 'qtool.js');
  const { stdout } = await run(process.execPath, [bin, 'config', 'show', '--json', '--host', 'cache-check'], {
    env: childEnv(),
  });
  expect(JSON.parse(stdout)).toMatchObject({ settings: { host: { value: 'cache-check' } } });
});
