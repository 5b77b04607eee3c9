import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import type { JobExit } from '../worker/job-policy.js';

export interface JobRequest {
  command: string;
  stdin: Buffer;
  env: Record<string, string>;
  /** --job-timeout in ms: SIGTERM to the job's process group after this long; undefined: none. */
  timeoutMs: number | undefined;
  /** How long after SIGTERM the group gets SIGKILL. */
  killAfterMs: number;
  /** Each complete line of the job's stdout or stderr, as it comes (a last unterminated one at the end). */
  onLine(stream: 'stdout' | 'stderr', line: string): void;
  /** Aborted when the worker exits for good: the job's group gets SIGTERM, so no job outlives its worker. */
  signal?: AbortSignal;
}

export interface JobRun extends JobExit {
  /** What the job wrote to stdout, its first MAX_KEPT_STDOUT_BYTES: the reply's body. */
  stdout: Buffer;
  /** How many bytes the job wrote to stdout in all (more than stdout holds when it was cut). */
  stdoutBytes: number;
  startedAt: number;
  durationMs: number;
}

/**
 * How much of a job's stdout is kept for its reply. Every line still goes to the worker's output
 * as it comes; only the copy held in memory stops here, so a job that writes gigabytes cannot
 * exhaust the worker's memory. 4 MiB is well under RabbitMQ's max message size (16 MiB from 4.0,
 * 128 MiB in 3.x), so the reply of a cut output is still accepted.
 */
export const MAX_KEPT_STDOUT_BYTES = 4 * 1024 * 1024;

/** A line longer than this is passed on in pieces of this size. */
const MAX_LINE_CHARS = 64 * 1024;

/** After the shell exited, how long its pipes may stay open (a background child holding them) before we stop reading. */
const PIPE_GRACE_MS = 1_000;

/**
 * The process groups of the jobs running now. Whatever way the worker's process ends (its own
 * exit, the safety net's process.exit on an uncaught error, a second Ctrl-C), the 'exit' hook
 * SIGKILLs them: a job never outlives its worker. It runs synchronously, so it cannot wait for a
 * SIGTERM to work.
 */
const runningGroups = new Set<number>();
let exitHookInstalled = false;

function killGroupsAtExit(): void {
  for (const pid of runningGroups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  runningGroups.clear();
}

/** How many job process groups are running now (for tests and accounts). */
export function runningJobGroups(): number {
  return runningGroups.size;
}

/**
 * Runs `command` through `sh -c` in a process group of its own, so a time-out can stop the whole
 * job (a pipeline, the children a script started) and not only the shell. Never rejects: a
 * command that cannot start is a failed run with `spawnError`.
 */
export function runJob(request: JobRequest): Promise<JobRun> {
  const startedAt = performance.now();
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', request.command], {
      env: { ...process.env, ...request.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    if (!exitHookInstalled) {
      process.on('exit', killGroupsAtExit);
      exitHookInstalled = true;
    }
    const group = child.pid;
    if (group !== undefined) runningGroups.add(group);
    const chunks: Buffer[] = [];
    let kept = 0;
    let stdoutBytes = 0;
    let timedOut = false;
    let spawnError: string | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let termTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let pipeTimer: NodeJS.Timeout | undefined;
    let settled = false;

    const killGroup = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // The group is gone already.
      }
    };
    // As a time-out does: SIGTERM, then SIGKILL --kill-after later if the group is still there.
    const onAbort = () => {
      killGroup('SIGTERM');
      clearTimeout(killTimer);
      killTimer = setTimeout(() => killGroup('SIGKILL'), request.killAfterMs);
    };
    const finish = () => {
      if (settled) return;
      settled = true;
      if (group !== undefined) runningGroups.delete(group);
      request.signal?.removeEventListener('abort', onAbort);
      clearTimeout(termTimer);
      clearTimeout(killTimer);
      clearTimeout(pipeTimer);
      flushPartial('stdout');
      flushPartial('stderr');
      resolve({
        code: exit?.code ?? null,
        signal: exit?.signal ?? null,
        timedOut,
        ...(spawnError === undefined ? {} : { spawnError }),
        stdout: Buffer.concat(chunks),
        stdoutBytes,
        startedAt,
        durationMs: performance.now() - startedAt,
      });
    };

    const partial = { stdout: '', stderr: '' };
    const take = (stream: 'stdout' | 'stderr', text: string) => {
      const lines = (partial[stream] + text).split('\n');
      partial[stream] = lines.pop() ?? '';
      for (const line of lines) request.onLine(stream, line);
      // Output without newlines would otherwise pile up here without bound: pass it on in pieces.
      if (partial[stream].length >= MAX_LINE_CHARS) flushPartial(stream);
    };
    const flushPartial = (stream: 'stdout' | 'stderr') => {
      if (partial[stream] !== '') request.onLine(stream, partial[stream]);
      partial[stream] = '';
    };
    // Its own decoder: a chunk may end in the middle of a character.
    const stdoutText = new StringDecoder('utf8');
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (kept < MAX_KEPT_STDOUT_BYTES) {
        const piece = chunk.subarray(0, MAX_KEPT_STDOUT_BYTES - kept);
        chunks.push(piece);
        kept += piece.length;
      }
      take('stdout', stdoutText.write(chunk));
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => take('stderr', text));
    // A command that does not read its input closes the pipe early: that is its business.
    child.stdin.on('error', () => {});
    child.stdin.end(request.stdin);

    if (request.timeoutMs !== undefined) {
      termTimer = setTimeout(() => {
        timedOut = true;
        killGroup('SIGTERM');
        killTimer = setTimeout(() => killGroup('SIGKILL'), request.killAfterMs);
      }, request.timeoutMs);
    }
    request.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error) => {
      spawnError = error.message;
      finish();
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      clearTimeout(termTimer);
      // What the shell left behind in its group goes with it once a time-out struck.
      if (timedOut) killGroup('SIGKILL');
      pipeTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, PIPE_GRACE_MS);
    });
    child.on('close', () => {
      if (exit !== undefined) finish();
    });
  });
}
