import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

/** Whether `pid` is a live process (zombies count as gone on Linux). */
export async function isPidAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ...": the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS): kill(0) said it exists
  }
}

/** The pid written in a pid file, or null when the file is missing or holds no number. */
export async function readPidFile(path: string): Promise<number | null> {
  try {
    const pid = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function psCommand(pid: number): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(
      'ps',
      ['-p', String(pid), '-o', 'command='],
      { encoding: 'utf8', timeout: 10_000 },
      (error, out) => resolve(error === null ? out.trim() : null),
    );
  });
}

/**
 * Whether `pid` is the Erlang VM of node `nodeName`, so a stale pid file never makes us kill an unrelated
 * process that reused the pid. On Linux the process environment must hold RABBITMQ_NODENAME=nodeName;
 * where that cannot be read, the command line must at least be an Erlang VM (beam).
 */
export async function pidBelongsToNode(pid: number, nodeName: string): Promise<boolean> {
  try {
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
    return environ.split('\0').includes(`RABBITMQ_NODENAME=${nodeName}`);
  } catch {
    const command = await psCommand(pid);
    return command !== null && /\bbeam/.test(command);
  }
}

/** Resolves true once `pid` is gone, false if it is still alive after timeoutMs. */
export async function waitForPidExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await isPidAlive(pid))) return true;
    if (Date.now() >= deadline) return false;
    await delay(100);
  }
}

/** Sends `signal` to a process, ignoring "no such process". */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/**
 * The pids of all processes whose environment holds exactly `entry` (e.g. `RABBITMQ_PID_FILE=/tmp/x/pid`),
 * read from /proc; [] where there is no /proc. This finds every process of one throwaway node, including
 * those Debian's wrapper starts in a session of their own, and a VM that has not written its pid file yet.
 * epmd is never included: the first node on a machine starts it with its own environment, but every
 * other node relies on it.
 */
export async function processesWithEnvironment(entry: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return [];
  }
  const found: number[] = [];
  await Promise.all(
    names
      .filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)
      .map(async (name) => {
        try {
          const environ = await readFile(`/proc/${name}/environ`, 'utf8');
          if (!environ.split('\0').includes(entry)) return;
          if ((await readFile(`/proc/${name}/comm`, 'utf8')).trim() === 'epmd') return;
          found.push(Number(name));
        } catch {
          // gone, or not ours to read
        }
      }),
  );
  return found.sort((a, b) => a - b);
}
