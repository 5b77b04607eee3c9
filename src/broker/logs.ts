import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** The last `count` non-empty-at-the-end lines of `text`. */
export function tailLines(text: string, count: number): string[] {
  const lines = text.replace(/\s+$/, '').split(/\r?\n/);
  if (lines.length === 1 && lines[0] === '') return [];
  return lines.slice(-count);
}

/** The last `maxBytes` of a file as text, or null when it cannot be read. */
export async function readFileEnd(path: string, maxBytes = 256 * 1024): Promise<string | null> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const { size } = await handle.stat();
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } catch {
    return null;
  } finally {
    await handle?.close();
  }
}

const ERROR_LINE = /\[error\]|BOOT FAILED|Error during startup|Kernel pid terminated|eaddrinuse/i;

/**
 * A readable report of why a node did not come up: the first error lines found, then the tail of every
 * non-empty file among `files` (missing files are skipped).
 */
export async function logReport(files: readonly string[], linesPerFile = 40): Promise<string> {
  const sections: string[] = [];
  const errors: string[] = [];
  for (const file of files) {
    const text = await readFileEnd(file);
    if (text === null) continue;
    const tail = tailLines(text, linesPerFile);
    if (tail.length === 0) continue;
    for (const line of text.split(/\r?\n/)) {
      if (errors.length < 12 && ERROR_LINE.test(line) && !errors.includes(line)) errors.push(line);
    }
    sections.push(`--- last ${tail.length} lines of ${file} ---\n${tail.join('\n')}`);
  }
  if (sections.length === 0) return `(no log output found in ${files.join(', ')})`;
  const head = errors.length === 0 ? [] : [`--- first error lines ---\n${errors.join('\n')}`];
  return [...head, ...sections].join('\n');
}

/** The log files of a node's log folder, its main log (NODE.log) first. */
export async function nodeLogFiles(logBase: string, nodeName: string): Promise<string[]> {
  const main = join(logBase, `${nodeName}.log`);
  let names: string[] = [];
  try {
    names = await readdir(logBase);
  } catch {
    return [main];
  }
  const others = names
    .filter((name) => name.endsWith('.log') && name !== `${nodeName}.log`)
    .map((name) => join(logBase, name));
  return [main, ...others];
}
