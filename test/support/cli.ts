import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI, exactly as `npx qtool` runs it. */
export const QTOOL_BIN = fileURLToPath(new URL('../../bin/qtool.js', import.meta.url));

export interface CliResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Extra environment; the connection comes from here (AMQP_URL etc.). */
  env?: Record<string, string | undefined>;
  /** Written to standard input, then closed. Without it stdin is closed at once. */
  input?: string | Buffer;
  /** Kill the process (and fail) if it has not ended by then. */
  timeoutMs?: number;
  /** Working folder (for a local qtool.config.json). */
  cwd?: string;
}

/** Environment for a child: this process's, minus anything that would steer qtool by accident. */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  // No user profile leaks in: the config folder is one that does not exist unless a test sets it.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    XDG_CONFIG_HOME: '/nonexistent/qtool-test-config',
  };
  for (const key of Object.keys(env)) {
    if (key.startsWith('QTOOL_') || key === 'AMQP_URL' || key === 'FORCE_COLOR') delete env[key];
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Runs `qtool ...args` to completion. */
export async function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const child = startCli(args, options);
  if (options.input !== undefined) child.process.stdin.end(options.input);
  else child.process.stdin.end();
  return child.finished(options.timeoutMs ?? 30_000);
}

/** A running `qtool` whose output can be awaited line by line. */
export interface RunningCli {
  process: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout (or stderr) matches; rejects with the output so far after `timeoutMs`. */
  waitFor(pattern: RegExp, options?: { stream?: 'stdout' | 'stderr'; timeoutMs?: number }): Promise<string>;
  /** Resolves with the result once the process ends; kills it after `timeoutMs`. */
  finished(timeoutMs?: number): Promise<CliResult>;
  signal(signal: NodeJS.Signals): void;
}

/**
 * The passwords a run was given (by flag, variable, URL or --password-stdin). No qtool output may
 * ever hold one, so every finished run is checked: each end-to-end test is also a leak test.
 * 'guest' is the well-known default (and a user name), so it is no secret.
 */
export function passwordsGiven(args: readonly string[], options: CliOptions): string[] {
  const found = new Set<string>();
  const add = (value: string | undefined) => {
    if (value !== undefined && value.length >= 4 && value !== 'guest') found.add(value);
  };
  const fromUrl = (url: string | undefined) => {
    try {
      if (url !== undefined) add(decodeURIComponent(new URL(url).password));
    } catch {
      // not a URL: nothing to take from it
    }
  };
  add(options.env?.QTOOL_PASSWORD);
  fromUrl(options.env?.AMQP_URL);
  args.forEach((arg, index) => {
    if (arg === '--password') add(args[index + 1]);
    if (arg.startsWith('--password=')) add(arg.slice('--password='.length));
    if (arg === '--url') fromUrl(args[index + 1]);
  });
  if (args.includes('--password-stdin') && options.input !== undefined) {
    add(String(options.input).split('\n')[0]);
  }
  return [...found];
}

export function startCli(args: string[], options: CliOptions = {}): RunningCli {
  const child = spawn(process.execPath, [QTOOL_BIN, ...args], {
    env: childEnv(options.env),
    stdio: 'pipe',
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    notify();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    notify();
  });
  const exited = new Promise<CliResult>((resolve) => {
    child.on('close', (exitCode, signal) => resolve({ exitCode, signal, stdout, stderr }));
  });
  let ended = false;
  void exited.then(() => {
    ended = true;
    notify();
  });

  const describe = () => `\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;

  return {
    process: child,
    stdout: () => stdout,
    stderr: () => stderr,
    waitFor(pattern, { stream = 'stdout', timeoutMs = 20_000 } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const text = stream === 'stdout' ? stdout : stderr;
          const match = pattern.exec(text);
          if (match) {
            cleanup();
            resolve(match[0]);
          } else if (ended) {
            cleanup();
            reject(
              new Error(`qtool ${args.join(' ')} ended before ${stream} matched ${pattern}${describe()}`),
            );
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for ${stream} to match ${pattern}${describe()}`,
            ),
          );
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    async finished(timeoutMs = 30_000) {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      if (result.signal === 'SIGKILL')
        throw new Error(`qtool ${args.join(' ')} did not end within ${timeoutMs} ms${describe()}`);
      for (const password of passwordsGiven(args, options)) {
        if (result.stdout.includes(password) || result.stderr.includes(password)) {
          throw new Error(`qtool ${args.join(' ')} printed the password it was given${describe()}`);
        }
      }
      return result;
    },
    signal(signal) {
      child.kill(signal);
    },
  };
}

/**
 * Ctrl-C twice, as someone quitting at once: the second only once the worker said it is stopping,
 * since two signals sent together can merge into one. Resolves with how the worker ended.
 */
export async function interruptTwice(worker: RunningCli, timeoutMs?: number): Promise<CliResult> {
  worker.signal('SIGINT');
  await worker.waitFor(/stopping:/, { stream: 'stderr' });
  worker.signal('SIGINT');
  return worker.finished(timeoutMs);
}

/** Starts `qtool qprocessor` on `queue` as worker `name`, and resolves once it waits for messages. */
export async function startWorker(
  env: Record<string, string | undefined>,
  queue: string,
  name: string,
  extra: string[],
): Promise<RunningCli> {
  const worker = startCli(['qprocessor', '--queue', queue, '--name', name, ...extra], { env });
  await worker.waitFor(/waiting for messages/, { stream: 'stderr' });
  return worker;
}

/** Whether a process with this pid exists (Node reaps its children once they end, so an ended child has none). */
export function isRunning(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Parses `--json` output into objects, one per line. */
export function jsonLines<T = Record<string, unknown>>(text: string): T[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}
