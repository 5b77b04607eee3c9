import { spawn } from 'node:child_process';
import { signalProcess } from './processes.js';

/**
 * Waits (polling once a second) for the owner to go, then stops the node with rabbitmqctl, kills whatever
 * is left of it, and removes the data folder. Every value comes in through environment variables, and the
 * rabbitmqctl command (with its prefix, e.g. `chroot ROOT`) as the positional parameters, so none is ever
 * parsed as shell code.
 */
export const WATCHDOG_SCRIPT = [
  'while kill -0 "$QTOOL_WD_OWNER" 2>/dev/null; do sleep 1; done',
  '"$@" -n "$QTOOL_WD_NODE" stop --idempotent "$QTOOL_WD_PIDFILE_ARG" >/dev/null 2>&1',
  // Anything left of the node (even a VM still booting) carries its unique pid-file path in its environment.
  'for environ in /proc/[0-9]*/environ; do',
  '  if tr "\\000" "\\n" < "$environ" 2>/dev/null | grep -qxF "RABBITMQ_PID_FILE=$QTOOL_WD_PIDFILE"; then',
  '    dir=$(dirname "$environ")',
  // Not epmd: the first node on a machine starts it with its own environment, but all nodes rely on it.
  '    [ "$(cat "$dir/comm" 2>/dev/null)" = epmd ] || kill -9 "$(basename "$dir")" 2>/dev/null',
  '  fi',
  'done',
  'rm -rf "$QTOOL_WD_BASEDIR"',
].join('\n');

export interface WatchdogOptions {
  ownerPid: number;
  nodeName: string;
  /** rabbitmqctl, behind its prefix when it has one: `['/usr/sbin/rabbitmqctl']`, `['chroot', ROOT, '/usr/sbin/rabbitmqctl']`. */
  ctlCommand: readonly string[];
  /** The pid file path as the node's processes see it (in their RABBITMQ_PID_FILE). */
  pidFile: string;
  /** The pid file path as rabbitmqctl must receive it (escaped for Debian's su wrapper when needed). */
  pidFileArg: string;
  baseDir: string;
  env: Record<string, string>;
}

/** Starts the detached watchdog and returns its pid (the leader of its own process group). */
export function startWatchdog(options: WatchdogOptions): number | undefined {
  const child = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'qtool-watchdog', ...options.ctlCommand], {
    detached: true,
    stdio: 'ignore',
    env: {
      ...options.env,
      QTOOL_WD_OWNER: String(options.ownerPid),
      QTOOL_WD_NODE: options.nodeName,
      QTOOL_WD_PIDFILE: options.pidFile,
      QTOOL_WD_PIDFILE_ARG: options.pidFileArg,
      QTOOL_WD_BASEDIR: options.baseDir,
    },
  });
  child.on('error', () => {
    // A watchdog that could not start only loses the crash clean-up; stop() still works.
  });
  child.unref();
  return child.pid;
}

/** Ends a watchdog (its whole process group, so its `sleep` goes too) before it can act. */
export function stopWatchdog(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    signalProcess(pid, 'SIGKILL');
  }
}
