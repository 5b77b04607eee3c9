import { execFile } from 'node:child_process';
import { lchown, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/** A local account as `id` reports it. */
export interface UnixUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
}

function id(args: string[]): Promise<string | null> {
  return new Promise((resolvePromise) => {
    execFile('id', args, { encoding: 'utf8', timeout: 10_000 }, (error, stdout) => {
      resolvePromise(error === null ? stdout.trim() : null);
    });
  });
}

/** Looks a user up with `id` (so NSS sources other than /etc/passwd count); null when there is none. */
export async function lookupUser(name: string): Promise<UnixUser | null> {
  const [uid, gid, groups] = await Promise.all([id(['-u', name]), id(['-g', name]), id(['-G', name])]);
  if (uid === null || gid === null) return null;
  return {
    name,
    uid: Number(uid),
    gid: Number(gid),
    groups: (groups ?? gid)
      .split(/\s+/)
      .filter((g) => g !== '')
      .map(Number),
  };
}

/** `chown -R uid:gid path`, without following symbolic links. */
export async function chownRecursive(path: string, uid: number, gid: number): Promise<void> {
  await lchown(path, uid, gid);
  const info = await stat(path);
  if (!info.isDirectory()) return;
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) await chownRecursive(child, uid, gid);
    else await lchown(child, uid, gid);
  }
}

/** Whether a directory with this owner and mode lets `user` pass through it (search permission). */
export function canTraverse(dir: { uid: number; gid: number; mode: number }, user: UnixUser): boolean {
  if (user.uid === 0) return true;
  if (dir.uid === user.uid) return (dir.mode & 0o100) !== 0;
  if (dir.gid === user.gid || user.groups.includes(dir.gid)) return (dir.mode & 0o010) !== 0;
  return (dir.mode & 0o001) !== 0;
}

/** The first folder on the way to `path` (its ancestors, not itself) that `user` cannot pass; else null. */
export async function firstUntraversableAncestor(path: string, user: UnixUser): Promise<string | null> {
  const ancestors: string[] = [];
  for (let dir = dirname(resolve(path)); ; dir = dirname(dir)) {
    ancestors.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of ancestors) {
    const info = await stat(dir);
    if (!canTraverse(info, user)) return dir;
  }
  return null;
}
