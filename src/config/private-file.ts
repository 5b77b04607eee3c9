import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes `value` as JSON to a file only its owner can read (0600, folder 0700), through a
 * temporary file and a rename, so a crash never leaves half a file. For files that hold
 * passwords (profiles) or decide what qtool trusts.
 */
export async function writePrivateJson(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600); // the umask may have narrowed, never widened; be explicit
  await rename(temporary, path);
}
