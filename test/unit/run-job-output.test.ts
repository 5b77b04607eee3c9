import { describe, expect, it } from 'vitest';
import { MAX_KEPT_STDOUT_BYTES, runJob } from '../../src/commands/run-job.js';

/** How much of a job's output the worker holds in memory: a bounded part, however much it writes. */
describe('runJob output', () => {
  const run = (command: string, onLine: (stream: 'stdout' | 'stderr', line: string) => void = () => {}) =>
    runJob({ command, stdin: Buffer.alloc(0), env: {}, timeoutMs: 20_000, killAfterMs: 1_000, onLine });

  it('keeps only the first MAX_KEPT_STDOUT_BYTES of stdout for the reply, and counts all of it', async () => {
    const total = MAX_KEPT_STDOUT_BYTES + 1_000_000;
    const result = await run(`head -c ${total} /dev/zero | tr '\\0' 'x'; echo`);
    expect(result.code).toBe(0);
    expect(result.stdout.length).toBe(MAX_KEPT_STDOUT_BYTES);
    expect(result.stdoutBytes).toBe(total + 1);
    expect(result.stdout.subarray(0, 3).toString()).toBe('xxx');
  });

  it('keeps all of a short stdout', async () => {
    const result = await run('printf "a\\nb\\n"');
    expect(result.stdout.toString()).toBe('a\nb\n');
    expect(result.stdoutBytes).toBe(4);
  });

  it('passes a line without newlines on in pieces rather than holding it whole', async () => {
    const pieces: number[] = [];
    const result = await run(`head -c 300000 /dev/zero | tr '\\0' 'y'`, (stream, line) => {
      if (stream === 'stdout') pieces.push(line.length);
    });
    expect(result.code).toBe(0);
    expect(pieces.reduce((sum, length) => sum + length, 0)).toBe(300_000);
    expect(Math.max(...pieces)).toBeLessThanOrEqual(128 * 1024);
    expect(pieces.length).toBeGreaterThan(1);
  });
});
