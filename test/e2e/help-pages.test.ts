import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHelpPages } from '../../src/cli/help-pages.js';
import { findTmux } from '../../src/tmux/tmux.js';
import { eventually } from '../support/amqp.js';
import { childEnv, QTOOL_BIN } from '../support/cli.js';

/**
 * `qtool [command...] --help` is printed by bin/qtool.js from dist/help.json when commander would
 * render it 80 columns wide, without loading the CLI. These tests check that the pages are the
 * CLI's own, and when the bin may and may not use them.
 */
const run = promisify(execFile);

it('dist/help.json holds every page exactly as the CLI renders it from the source', async () => {
  const built = JSON.parse(await readFile(new URL('../../dist/help.json', import.meta.url), 'utf8'));
  const fromSource = await renderHelpPages();
  expect(Object.keys(fromSource)).toContain('broker start');
  expect(built).toEqual(fromSource);
});

it('qtool <command> --help through a pipe prints the page commander prints', async () => {
  const pages = await renderHelpPages();
  for (const path of ['', 'send', 'config show']) {
    const words = path === '' ? [] : path.split(' ');
    const { stdout } = await run(process.execPath, [QTOOL_BIN, ...words, '--help'], { env: childEnv() });
    expect(stdout).toBe(pages[path]);
  }
});

/**
 * A copy of the bin beside pages and a CLI of its own, so that each answer says where it came from:
 * a prerendered page, or the CLI (which the fast path must never load).
 */
describe('when the bin answers --help itself', () => {
  let folder: string;
  let bin: string;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'qtool-help-'));
    await mkdir(join(folder, 'bin'));
    await mkdir(join(folder, 'dist', 'cli'), { recursive: true });
    bin = join(folder, 'bin', 'qtool.js');
    for (const file of ['qtool.js', 'cli-loader.js', 'package.json']) {
      await copyFile(join(dirname(QTOOL_BIN), file), join(folder, 'bin', file));
    }
    await writeFile(join(folder, 'package.json'), '{"type":"module","version":"9.9.9"}\n');
    await writeFile(
      join(folder, 'dist', 'help.json'),
      JSON.stringify({ '': 'top page\n', send: 'send page\n' }),
    );
    await writeFile(
      join(folder, 'dist', 'cli', 'main.cjs'),
      [
        'exports.main = async (argv) => {',
        "  process.stdout.write('from the CLI: ' + argv.slice(2).join(' ') + '\\n');",
        '  return 0;',
        '};',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  const answer = async (...args: string[]) => (await run(process.execPath, [bin, ...args])).stdout;

  it('prints the page for a command path followed by --help or -h', async () => {
    expect(await answer('--help')).toBe('top page\n');
    expect(await answer('-h')).toBe('top page\n');
    expect(await answer('send', '--help')).toBe('send page\n');
    expect(await answer('--version')).toBe('9.9.9\n');
  });

  it('leaves everything else to the CLI: options before --help, unknown paths, help elsewhere', async () => {
    expect(await answer('send', '--queue', 'q', '--help')).toBe('from the CLI: send --queue q --help\n');
    expect(await answer('nothing', '--help')).toBe('from the CLI: nothing --help\n');
    expect(await answer('constructor', '--help')).toBe('from the CLI: constructor --help\n');
    expect(await answer('--help', 'send')).toBe('from the CLI: --help send\n');
    expect(await answer('send', 'hello')).toBe('from the CLI: send hello\n');
  });

  const tmuxPath = findTmux(process.env);
  it.skipIf(tmuxPath === null)(
    'in a terminal, only one 80 columns wide gets the page; commander renders for any other width',
    async () => {
      const tmuxDir = await mkdtemp(join(tmpdir(), 'qtool-help-tmux-'));
      const env = childEnv({ TMUX_TMPDIR: tmuxDir, TMUX: undefined, HOME: tmuxDir });
      const tmux = (args: string[]) => run(tmuxPath as string, args, { env, encoding: 'utf8' });
      try {
        for (const [width, expected] of [
          [80, 'send page'],
          [100, 'from the CLI: send --help'],
        ] as const) {
          const session = `help-${width}`;
          // The pane runs the command itself (no interactive shell), at the pane's own width, as a
          // user's terminal would be; it stays open until the server is killed.
          const command = `${process.execPath} ${bin} send --help; echo done; sleep 60`;
          await tmux(['new-session', '-d', '-s', session, '-x', String(width), '-y', '10', command]);
          let screen = '';
          await eventually(
            async () => {
              screen = (await tmux(['capture-pane', '-p', '-t', session])).stdout;
              return /^done$/m.test(screen);
            },
            `the help in a ${width}-column pane`,
            20_000,
          );
          expect(screen).toMatch(new RegExp(`^${expected}$`, 'm'));
        }
      } finally {
        await tmux(['kill-server']).catch(() => {});
        await rm(tmuxDir, { recursive: true, force: true });
      }
    },
  );
});
