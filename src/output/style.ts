import { Chalk, type ChalkInstance } from 'chalk';

/** The only place that imports chalk: every coloured string goes through a Style. */
export interface Style {
  /** The colour that marks one worker's lines, stable for a given name. */
  worker(name: string): (text: string) => string;
  dim(text: string): string;
  bold(text: string): string;
  warn(text: string): string;
  error(text: string): string;
  ok(text: string): string;
}

/**
 * Colour only for a terminal, never when NO_COLOR is set (https://no-color.org), and always when
 * FORCE_COLOR asks for it. chalk's own detection ignores NO_COLOR, hence this decision here.
 */
export function colorLevel(env: Readonly<Record<string, string | undefined>>, isTTY: boolean): 0 | 1 | 2 | 3 {
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '' && force !== '0' && force !== 'false') {
    const level = Number.parseInt(force, 10);
    return Number.isInteger(level) && level >= 1 && level <= 3 ? (level as 1 | 2 | 3) : 1;
  }
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0;
  if (force === '0' || force === 'false') return 0;
  if (!isTTY || env.TERM === 'dumb') return 0;
  return /256|truecolor|24bit/.test(`${env.TERM ?? ''} ${env.COLORTERM ?? ''}`) ? 2 : 1;
}

const WORKER_COLOURS = [
  'cyan',
  'magenta',
  'yellow',
  'green',
  'blue',
  'redBright',
  'cyanBright',
  'magentaBright',
] as const;

export function createStyle(level: 0 | 1 | 2 | 3): Style {
  const chalk: ChalkInstance = new Chalk({ level });
  return {
    worker: (name) => chalk[WORKER_COLOURS[hashName(name) % WORKER_COLOURS.length] ?? 'cyan'],
    dim: (text) => chalk.dim(text),
    bold: (text) => chalk.bold(text),
    warn: (text) => chalk.yellow(text),
    error: (text) => chalk.red(text),
    ok: (text) => chalk.green(text),
  };
}

/** A small stable hash, so a worker keeps its colour across restarts. */
function hashName(name: string): number {
  let hash = 0;
  for (const char of name) hash = (hash * 31 + (char.codePointAt(0) ?? 0)) >>> 0;
  return hash;
}
