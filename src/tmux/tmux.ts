/**
 * A thin shell around the tmux client. Commands go to tmux as a script on standard input
 * (`source-file -`), never as arguments, so values such as a password set with `-e VAR=value` do not
 * show up in the process list.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

type Env = Readonly<Record<string, string | undefined>>;

/** The tmux executable on `env.PATH`, or null when there is none. */
export function findTmux(env: Env): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'tmux');
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** One argument in tmux's command syntax: single-quoted, as in sh (`'it'\''s'`). */
export function tmuxQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export interface TmuxResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs tmux with these (non-secret) arguments. */
export function tmux(
  tmuxPath: string,
  args: readonly string[],
  env: Env,
  input?: string,
): Promise<TmuxResult> {
  return new Promise((resolve) => {
    const child = execFile(
      tmuxPath,
      [...args],
      { env: env as NodeJS.ProcessEnv, encoding: 'utf8', timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr: stderr || (error?.message ?? '') });
      },
    );
    // tmux may exit before reading its script (a failing first command); its exit code and
    // stderr tell why, so a broken pipe here is not an error of its own.
    child.stdin?.on('error', () => {});
    child.stdin?.end(input ?? '');
  });
}

/**
 * Runs tmux commands (each an argument list) in one client, starting the server when none runs;
 * resolves what they print (e.g. `-P -F '#{pane_id}'`), one line per printing command.
 */
export async function tmuxScript(
  tmuxPath: string,
  commands: readonly (readonly string[])[],
  env: Env,
): Promise<string[]> {
  const script = commands.map((command) => command.map(tmuxQuote).join(' ')).join('\n');
  const result = await tmux(tmuxPath, ['start-server', ';', 'source-file', '-'], env, `${script}\n`);
  if (result.code !== 0) throw new Error(`tmux failed: ${result.stderr.trim()}`);
  return result.stdout.split('\n').filter((line) => line !== '');
}
