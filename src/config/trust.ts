import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { QtoolError } from '../errors.js';
import { writePrivateJson } from './private-file.js';

/**
 * Which folder config files (`qtool.config.json`) the user has trusted, by absolute path and the
 * SHA-256 of their content, as direnv does for .envrc. A file someone else wrote (a cloned
 * repository, a shared lab folder) could otherwise point qtool at its own host while the password
 * comes from the user's environment or profile, and so send it there. A changed file needs
 * trusting again.
 */
interface TrustStore {
  trusted: Record<string, string>;
}

/** The trust list sits beside the user's config file. */
export function trustStorePath(userConfigFile: string): string {
  return join(dirname(userConfigFile), 'trusted.json');
}

export function contentDigest(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

async function readStore(storePath: string): Promise<TrustStore> {
  let text: string;
  try {
    text = await readFile(storePath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { trusted: {} };
    throw new QtoolError(`cannot read ${storePath}: ${(error as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as Partial<TrustStore>;
    const trusted = parsed.trusted;
    if (typeof trusted === 'object' && trusted !== null && !Array.isArray(trusted)) {
      return {
        trusted: Object.fromEntries(Object.entries(trusted).filter(([, v]) => typeof v === 'string')),
      };
    }
  } catch {
    // A broken list trusts nothing; `qtool config trust` writes a good one again.
  }
  return { trusted: {} };
}

/** What is known of a folder's config file. */
export type LocalFileTrust = 'absent' | 'trusted' | 'untrusted' | 'changed';

/**
 * Whether `file` may be read: trusted with exactly this content. The content comes back too, so
 * what is used is exactly what was checked, not the file read again after someone changed it.
 */
export async function localFileTrust(
  storePath: string,
  file: string,
): Promise<{ trust: LocalFileTrust; content: Buffer | null }> {
  let content: Buffer;
  try {
    content = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { trust: 'absent', content: null };
    throw new QtoolError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const recorded = (await readStore(storePath)).trusted[file];
  if (recorded === undefined) return { trust: 'untrusted', content };
  return { trust: recorded === contentDigest(content) ? 'trusted' : 'changed', content };
}

/** Trusts `file` with its current content. */
export async function trustFile(storePath: string, file: string, content: Buffer): Promise<void> {
  const store = await readStore(storePath);
  store.trusted[file] = contentDigest(content);
  await writePrivateJson(storePath, store);
}

/** Forgets `file`; true when it had been trusted. */
export async function untrustFile(storePath: string, file: string): Promise<boolean> {
  const store = await readStore(storePath);
  if (store.trusted[file] === undefined) return false;
  delete store.trusted[file];
  await writePrivateJson(storePath, store);
  return true;
}
