import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type ConnectionSettings, maskedUrl } from '../config/connection.js';
import { connectionOption, settingsEnvironment } from '../config/schema.js';
import { refuseControlCharacters } from '../config/values.js';
import { QtoolError, UsageError } from '../errors.js';
import { shellQuote } from '../output/format.js';
import { findTmux, tmux, tmuxScript } from '../tmux/tmux.js';
import type { OnLose } from '../worker/policy.js';
import { type CommandIo, writeLine } from './io.js';

const QTOOL_BIN = fileURLToPath(new URL('../../bin/qtool.js', import.meta.url));
/** Where each pane finds node and qtool, for its `qtool` alias. */
const NODE_VAR = 'QTOOL_LAB_NODE';
const BIN_VAR = 'QTOOL_LAB_BIN';
/** Workers per row of the grid at the top; more workers make more rows. */
const WORKERS_PER_ROW = 3;
/** The share of the window's height for the watch and shell panes below the workers. */
const BOTTOM_PERCENT = 40;

/** qprocessor options every worker pane gets; undefined ones are left to qprocessor's defaults. */
export interface LabWorkerOptions {
  acknowledge: boolean;
  prefetch: number | undefined;
  loseEvery: number | undefined;
  onLose: OnLose | undefined;
  delayPerCharSeconds: number | undefined;
  block: boolean;
}

export interface LabOptions {
  workers: number;
  /** The tmux session's name (or, inside tmux, the new window's). */
  session: string;
  /** Start it without attaching. */
  detach: boolean;
  worker: LabWorkerOptions;
}

/**
 * `qtool lab`: the lab's terminal layout in one go. A tmux session (a new window when already in
 * tmux) with a qprocessor pane per worker on top, and `qtool watch` and a shell for `qtool send`
 * below, all on the same connection and queue. The settings reach the panes as QTOOL_* variables, so
 * the password is in no command line.
 */
export async function runLab(
  settings: ConnectionSettings,
  options: LabOptions,
  io: CommandIo,
): Promise<number> {
  const tmuxPath = requireTmux(io);
  const name = validSessionName(options.session);
  const inTmux = (io.env.TMUX ?? '') !== '';
  if (!inTmux && (await hasSession(tmuxPath, name, io))) {
    throw new QtoolError(`a tmux session '${name}' already exists`, {
      hint: `Attach to it with \`tmux attach -t ${name}\`, end it with \`qtool lab --kill --session ${name}\`, or name another with --session.`,
    });
  }

  const env = paneEnvironment(settings);
  const envFlags = Object.entries(env).flatMap(([key, value]) => ['-e', `${key}=${value}`]);
  const printIds = ['-P', '-F', '#{window_id} #{pane_id}'];
  const size = terminalSize(io);
  const create = inTmux
    ? ['new-window', ...(options.detach ? ['-d'] : []), '-n', name, ...printIds, ...envFlags]
    : ['new-session', '-d', '-s', name, '-n', 'lab', ...size, ...printIds, ...envFlags];
  const [created] = await tmuxScript(tmuxPath, [create], io.env);
  const [windowId, firstPane] = (created ?? '').split(' ');
  if (windowId === undefined || firstPane === undefined) {
    throw new QtoolError(`tmux did not say which window it created (it printed: ${created ?? 'nothing'})`);
  }

  try {
    await layOut(tmuxPath, windowId, firstPane, options, io, envFlags);
  } catch (error) {
    // Leave no half-built lab behind.
    await tmux(tmuxPath, ['kill-window', '-t', windowId], io.env);
    throw new QtoolError(`could not lay out the lab: ${(error as Error).message}`, {
      hint: 'A larger terminal (or fewer --workers) may help.',
      cause: error,
    });
  }

  writeLine(
    io.stderr,
    `Lab ${inTmux ? 'window' : 'session'} '${name}': ${options.workers === 1 ? '1 worker (w1)' : `${options.workers} workers (w1-w${options.workers})`}, qtool watch and a shell, ` +
      `on queue '${settings.queue}' at ${maskedUrl(settings)}.`,
  );
  if (inTmux) return 0;
  if (options.detach || !io.stdin.isTTY || !io.stdout.isTTY) {
    writeLine(
      io.stderr,
      `Attach with \`tmux attach -t ${name}\`; end it with \`qtool lab --kill --session ${name}\`.`,
    );
    return 0;
  }
  const attach = spawn(tmuxPath, ['attach-session', '-t', `=${name}`], { stdio: 'inherit', env: io.env });
  const [code] = (await once(attach, 'exit')) as [number | null];
  return code ?? 1;
}

/** Splits the lab's window into its panes and starts each pane's command. */
async function layOut(
  tmuxPath: string,
  windowId: string,
  firstPane: string,
  options: LabOptions,
  io: CommandIo,
  envFlags: string[],
): Promise<void> {
  const printIds = ['-P', '-F', '#{window_id} #{pane_id}'];
  const split = async (target: string, direction: '-h' | '-v', percent: number): Promise<string> => {
    const [line] = await tmuxScript(
      tmuxPath,
      [['split-window', '-d', direction, '-t', target, '-l', `${percent}%`, ...printIds, ...envFlags]],
      io.env,
    );
    const pane = line?.split(' ')[1];
    if (pane === undefined) throw new QtoolError('tmux did not say which pane it created');
    return pane;
  };

  // Watch and shell below, side by side; then the workers' grid in what is left on top.
  const watchPane = await split(firstPane, '-v', BOTTOM_PERCENT);
  const shellPane = await split(watchPane, '-h', 50);
  const workerPanes = await splitEvenly(firstPane, '-v', rowSizes(options.workers).length, split);
  const panes: string[] = [];
  for (const [row, count] of rowSizes(options.workers).entries()) {
    panes.push(...(await splitEvenly(workerPanes[row] as string, '-h', count, split)));
  }

  // Only fixed text is ever typed into a pane: anything the user chose (the queue, paths) could
  // carry a line editor's control keys, so it reaches the shell through the pane's environment.
  const alias = `alias qtool='"$${NODE_VAR}" "$${BIN_VAR}"'; clear`;
  const commands: string[][] = [
    ['set-option', '-w', '-t', windowId, 'pane-border-status', 'top'],
    ['set-option', '-w', '-t', windowId, 'pane-border-format', ' #{@qtool_title} '],
  ];
  // Worker and watch panes show the command they run, so students see what to type themselves;
  // the shell pane only shows its hint.
  const run = (pane: string, title: string, line: string, showCommand = true) => {
    const typed = showCommand ? [alias, line] : [`${alias}; ${line}`];
    commands.push(['set-option', '-p', '-t', pane, '@qtool_title', title]);
    for (const text of typed) {
      commands.push(['send-keys', '-t', pane, '-l', text], ['send-keys', '-t', pane, 'Enter']);
    }
  };
  panes.forEach((pane, index) => {
    const worker = `w${index + 1}`;
    run(
      pane,
      `worker ${worker}`,
      ['qtool', 'qprocessor', '--name', worker, ...workerArgs(options.worker)].join(' '),
    );
  });
  run(watchPane, 'qtool watch', `qtool watch "$${connectionOption('queue').env}"`);
  run(
    shellPane,
    'shell: qtool send ...',
    `echo ${shellQuote('Send from here, e.g.: qtool send one two three four')}`,
    false,
  );
  commands.push(['select-pane', '-t', shellPane]);
  await tmuxScript(tmuxPath, commands, io.env);
}

/** `qtool lab --kill`: ends the lab's session (or, inside tmux, its window), and nothing else. */
export async function runLabKill(session: string, io: CommandIo): Promise<number> {
  const tmuxPath = requireTmux(io);
  const name = validSessionName(session);
  if (await hasSession(tmuxPath, name, io)) {
    const killed = await tmux(tmuxPath, ['kill-session', '-t', `=${name}`], io.env);
    if (killed.code !== 0)
      throw new QtoolError(`could not end tmux session '${name}': ${killed.stderr.trim()}`);
    writeLine(io.stderr, `Ended tmux session '${name}'.`);
    return 0;
  }
  if ((io.env.TMUX ?? '') !== '') {
    const windows = await tmux(tmuxPath, ['list-windows', '-F', '#{window_id} #{window_name}'], io.env);
    const window = windows.stdout
      .split('\n')
      .map((line) => line.split(' '))
      .find(([, windowName]) => windowName === name)?.[0];
    if (window !== undefined) {
      await tmux(tmuxPath, ['kill-window', '-t', window], io.env);
      writeLine(io.stderr, `Closed the lab window '${name}'.`);
      return 0;
    }
  }
  writeLine(io.stderr, `There is no tmux session '${name}'; nothing to end.`);
  return 1;
}

function requireTmux(io: CommandIo): string {
  const path = findTmux(io.env);
  if (path === null) {
    throw new QtoolError('qtool lab needs tmux, which is not installed (not found on PATH)', {
      hint: 'Install it (Debian/Ubuntu: sudo apt-get install tmux; macOS: brew install tmux) and run qtool lab again.',
    });
  }
  return path;
}

function validSessionName(name: string): string {
  refuseControlCharacters(name, '--session');
  // tmux reads ':' and '.' in a target as window and pane separators.
  if (name === '' || /[:.\s]/.test(name)) {
    throw new UsageError(`--session: '${name}' cannot name a tmux session`, 'Use letters, digits, - and _.');
  }
  return name;
}

async function hasSession(tmuxPath: string, name: string, io: CommandIo): Promise<boolean> {
  return (await tmux(tmuxPath, ['has-session', '-t', `=${name}`], io.env)).code === 0;
}

/**
 * What every pane's environment holds: the lab's settings, each in its own variable with no
 * profile (see settingsEnvironment), and where qtool itself is, for the `qtool` alias.
 */
function paneEnvironment(settings: ConnectionSettings): Record<string, string> {
  return { ...settingsEnvironment(settings), [NODE_VAR]: process.execPath, [BIN_VAR]: QTOOL_BIN };
}

function workerArgs(options: LabWorkerOptions): string[] {
  const args: string[] = [];
  if (options.acknowledge) args.push('--acknowledge');
  if (options.prefetch !== undefined) args.push('--prefetch', String(options.prefetch));
  if (options.loseEvery !== undefined) args.push('--lose-every', String(options.loseEvery));
  if (options.onLose !== undefined) args.push('--on-lose', options.onLose);
  if (options.delayPerCharSeconds !== undefined)
    args.push('--delay-per-char', String(options.delayPerCharSeconds));
  if (options.block) args.push('--block');
  return args;
}

/** How many workers go in each row: at most WORKERS_PER_ROW, spread evenly (4 -> 2+2, 5 -> 3+2). */
export function rowSizes(workers: number): number[] {
  const rows = Math.ceil(workers / WORKERS_PER_ROW);
  return Array.from(
    { length: rows },
    (_, row) => Math.floor(workers / rows) + (row < workers % rows ? 1 : 0),
  );
}

/** Splits `pane` into `count` equal panes along `direction`; resolves them in order. */
async function splitEvenly(
  pane: string,
  direction: '-h' | '-v',
  count: number,
  split: (target: string, direction: '-h' | '-v', percent: number) => Promise<string>,
): Promise<string[]> {
  const panes = [pane];
  for (let remaining = count; remaining > 1; remaining--) {
    // The new pane takes (remaining-1)/remaining of the last one, leaving it one share.
    const last = panes[panes.length - 1] as string;
    panes.push(await split(last, direction, Math.round((100 * (remaining - 1)) / remaining)));
  }
  return panes;
}

/**
 * The terminal's size for a session about to be attached, so its layout fits from the start.
 * Without a terminal (--detach from a script) tmux would make it 80x24, too small for five panes
 * to be read with capture-pane; a client attaching later resizes it to its own terminal anyway.
 */
function terminalSize(io: CommandIo): string[] {
  const { columns, rows } = io.stdout as { columns?: number; rows?: number };
  const known = columns !== undefined && rows !== undefined && columns > 0 && rows > 0;
  return ['-x', String(known ? columns : 160), '-y', String(known ? rows : 48)];
}
