import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { BrokerStartError, RabbitmqctlError } from './errors.js';

/** Folders searched after PATH: Debian/Ubuntu (sbin is often not on a user's PATH), generic, Homebrew. */
const EXTRA_DIRS = [
  '/usr/sbin',
  '/usr/lib/rabbitmq/bin',
  '/usr/local/sbin',
  '/opt/homebrew/sbin',
  '/usr/local/opt/rabbitmq/sbin',
];

/** The rabbitmqctl to run, and how its arguments must be passed. */
export interface CtlTool {
  readonly ctl: string;
  /**
   * True when `ctl` is Debian's root-only wrapper, which re-runs the real script through
   * `su rabbitmq -s /bin/sh -c "..."`, so every argument is re-parsed by a shell inside double quotes
   * (see {@link escapeForSuWrapper}).
   */
  readonly ctlViaSuWrapper: boolean;
  /**
   * The words every RabbitMQ command is run behind: [] for the host's own install, `chroot ROOT` for
   * one in another system root (see {@link resolveRabbitmqToolsInRoot}). Paths then name places as
   * the root sees them.
   */
  readonly commandPrefix: readonly string[];
}

/** The paths of the RabbitMQ scripts a local node is driven with. */
export interface RabbitmqTools extends CtlTool {
  readonly server: string;
  /** The system root the scripts are run in (by chroot), or null for the host's own. */
  readonly rootDir: string | null;
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The first executable `name` on PATH, then in the usual RabbitMQ sbin folders; null when none. */
export function findExecutable(name: string, extraDirs: readonly string[] = EXTRA_DIRS): string | null {
  const pathDirs = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  for (const dir of [...pathDirs, ...extraDirs]) {
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

/** The path of `rabbitmq-server` (PATH, then /usr/sbin, /usr/lib/rabbitmq/bin, ...), or null. */
export function findRabbitmqServer(): string | null {
  return findExecutable('rabbitmq-server');
}

/**
 * When `scriptText` is Debian's wrapper (`su rabbitmq ... /usr/lib/rabbitmq/bin/${SCRIPT}`), the folder
 * holding the real scripts; otherwise null.
 */
export function suWrapperTarget(scriptText: string): string | null {
  if (!/\bsu rabbitmq\b/.test(scriptText)) return null;
  const match = /(\/[^\s"'`]+)\/\$\{SCRIPT\}/.exec(scriptText);
  return match?.[1] ?? null;
}

function readScriptHead(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(0, 64 * 1024);
  } catch {
    return '';
  }
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * The script to run for `path`. As root, Debian's wrappers are used as they are (they run everything as
 * the `rabbitmq` user). Anyone else is refused by them, so the real script they point at is used directly,
 * and a node then runs as the current user.
 */
function scriptToRun(path: string): { path: string; viaSuWrapper: boolean } {
  const target = suWrapperTarget(readScriptHead(path));
  if (target === null) return { path, viaSuWrapper: false };
  if (isRoot()) return { path, viaSuWrapper: true };
  const real = join(target, basename(path));
  return { path: isExecutableFile(real) ? real : path, viaSuWrapper: false };
}

function ctlTool(ctlPath: string): CtlTool {
  const script = scriptToRun(ctlPath);
  return { ctl: script.path, ctlViaSuWrapper: script.viaSuWrapper, commandPrefix: [] };
}

/** Finds rabbitmq-server and the rabbitmqctl next to it (else on PATH). */
export function resolveRabbitmqTools(serverPath: string | null = findRabbitmqServer()): RabbitmqTools {
  if (serverPath === null) {
    throw new BrokerStartError(
      'rabbitmq-server was not found on PATH, in /usr/sbin or in /usr/lib/rabbitmq/bin. ' +
        'Install it (Debian/Ubuntu: apt-get install -y rabbitmq-server).',
    );
  }
  const sibling = join(dirname(serverPath), 'rabbitmqctl');
  const ctlPath = isExecutableFile(sibling) ? sibling : findExecutable('rabbitmqctl');
  if (ctlPath === null) {
    throw new BrokerStartError(`rabbitmqctl was not found next to ${serverPath} nor on PATH.`);
  }
  return { server: scriptToRun(serverPath).path, rootDir: null, ...ctlTool(ctlPath) };
}

/** Where a RabbitMQ install in another system root keeps its scripts, as the root sees them. */
const ROOT_DIRS = ['/usr/sbin', '/usr/lib/rabbitmq/bin', '/usr/local/sbin'];

/**
 * The RabbitMQ installed in another system root, e.g. a Debian 13 root with RabbitMQ 4.0 on a Debian 12
 * host with 3.10: its scripts run through `chroot ROOT`, so only root can use them. As on the host, a
 * Debian install's su wrapper runs everything as the root's own `rabbitmq` user, with its HOME (and so
 * its Erlang cookie) in the root.
 */
export function resolveRabbitmqToolsInRoot(rootDir: string): RabbitmqTools {
  const root = resolve(rootDir);
  if (!isRoot()) {
    throw new BrokerStartError(
      `Running the RabbitMQ installed in ${root} takes chroot, which only root may use.`,
    );
  }
  const chroot = findExecutable('chroot', ['/usr/sbin', '/sbin']);
  if (chroot === null) throw new BrokerStartError('chroot was not found on PATH nor in /usr/sbin.');
  const find = (name: string) => {
    for (const dir of ROOT_DIRS) {
      if (isExecutableFile(join(root, dir, name))) return join(dir, name);
    }
    throw new BrokerStartError(
      `${name} was not found in ${ROOT_DIRS.map((dir) => join(root, dir)).join(', ')}.`,
    );
  };
  const server = find('rabbitmq-server');
  const ctl = find('rabbitmqctl');
  return {
    server,
    ctl,
    ctlViaSuWrapper: suWrapperTarget(readScriptHead(join(root, ctl))) !== null,
    commandPrefix: [chroot, root],
    rootDir: root,
  };
}

/** The program and arguments that run `path ...args` behind `prefix` (e.g. `chroot ROOT`). */
export function commandBehind(
  prefix: readonly string[],
  path: string,
  args: readonly string[] = [],
): [string, string[]] {
  const [first, ...rest] = prefix;
  return first === undefined ? [path, [...args]] : [first, [...rest, path, ...args]];
}

/** A command line to show: the tool with the prefix it runs behind. */
export function describeTool(tools: CtlTool, path: string): string {
  return [...tools.commandPrefix, path].join(' ');
}

/** Finds rabbitmqctl on its own (PATH, then /usr/sbin, /usr/lib/rabbitmq/bin, ...). */
export function resolveRabbitmqctl(): CtlTool {
  const ctlPath = findExecutable('rabbitmqctl');
  if (ctlPath === null) {
    throw new RabbitmqctlError(
      'rabbitmqctl was not found on PATH, in /usr/sbin or in /usr/lib/rabbitmq/bin',
      {
        args: [],
        exitCode: null,
        stdout: '',
        stderr: '',
      },
    );
  }
  return ctlTool(ctlPath);
}

/**
 * Debian's wrapper passes arguments on as `su rabbitmq -s /bin/sh -c "... \"ARG\""`, escaping only double
 * quotes, so `$`, backquotes and backslashes in an argument would be interpreted by that shell. Escaping
 * them first makes the argument arrive unchanged (e.g. an Erlang `eval` with `$a` or `"a\"b"`).
 */
export function escapeForSuWrapper(arg: string): string {
  return arg.replace(/[\\$`]/g, (char) => `\\${char}`);
}

/** The environment without any RABBITMQ_* variable, so a user's own settings never leak into our nodes. */
export function environmentWithoutRabbitmqVariables(
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && !key.startsWith('RABBITMQ_')) clean[key] = value;
  }
  return clean;
}

export interface RabbitmqctlOptions {
  /** Kill the CLI after this long. Default 120 s. */
  timeoutMs?: number;
  /** Which rabbitmqctl; found with {@link resolveRabbitmqctl} when omitted. */
  tools?: CtlTool;
  /** Kills the CLI when aborted. */
  signal?: AbortSignal;
}

/**
 * Runs `rabbitmqctl -n NODE ...args` and resolves its stdout; rejects with a {@link RabbitmqctlError}
 * carrying stderr.
 */
export function rabbitmqctl(nodeName: string, args: readonly string[], options: RabbitmqctlOptions = {}) {
  const tools = options.tools ?? resolveRabbitmqctl();
  const passed = tools.ctlViaSuWrapper ? args.map(escapeForSuWrapper) : [...args];
  const commandLine = `rabbitmqctl -n ${nodeName} ${args.join(' ')}`;
  const [command, commandArgs] = commandBehind(tools.commandPrefix, tools.ctl, ['-n', nodeName, ...passed]);
  return new Promise<string>((resolvePromise, reject) => {
    execFile(
      command,
      commandArgs,
      {
        env: environmentWithoutRabbitmqVariables(),
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
      (error, stdout, stderr) => {
        if (error === null) {
          resolvePromise(stdout);
          return;
        }
        const exitCode = typeof error.code === 'number' ? error.code : null;
        const why = options.signal?.aborted
          ? 'was aborted'
          : error.killed
            ? `was killed after ${options.timeoutMs ?? 120_000} ms`
            : exitCode === null
              ? `could not run (${error.message})`
              : `failed with exit code ${exitCode}`;
        const detail = (stderr.trim() || stdout.trim()).split('\n').slice(-20).join('\n');
        reject(
          new RabbitmqctlError(`${commandLine} ${why}${detail === '' ? '' : `:\n${detail}`}`, {
            args,
            exitCode,
            stdout,
            stderr,
            cause: error,
          }),
        );
      },
    );
  });
}
