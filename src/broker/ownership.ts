import { execFile } from 'node:child_process';
import { lchown, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { commandBehind } from './tools.js';

/** A local account as `id` reports it. */
export interface UnixUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
}

function id(args: string[], commandPrefix: readonly string[]): Promise<string | null> {
  const [command, commandArgs] = commandBehind(commandPrefix, 'id', args);
  return new Promise((resolvePromise) => {
    execFile(command, commandArgs, { encoding: 'utf8', timeout: 10_000 }, (error, stdout) => {
      resolvePromise(error === null ? stdout.trim() : null);
    });
  });
}

/**
 * Looks a user up with `id` (so NSS sources other than /etc/passwd count); null when there is none.
 * With a commandPrefix such as `chroot ROOT`, the user of that system root (its uid may differ from the host's).
 */
export async function lookupUser(
  name: string,
  commandPrefix: readonly string[] = [],
): Promise<UnixUser | null> {
  const [uid, gid, groups] = await Promise.all([
    id(['-u', name], commandPrefix),
    id(['-g', name], commandPrefix),
    id(['-G', name], commandPrefix),
  ]);
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

/**
 * The first folder on the way to `path` (its ancestors, not itself) that `user` cannot pass; else null.
 * Only folders from `top` down count: a chroot's user starts at the root it is given.
 */
export async function firstUntraversableAncestor(
  path: string,
  user: UnixUser,
  top = '/',
): Promise<string | null> {
  const first = resolve(top);
  const ancestors: string[] = [];
  for (let dir = dirname(resolve(path)); ; dir = dirname(dir)) {
    ancestors.unshift(dir);
    if (dir === first || dirname(dir) === dir) break;
  }
  for (const dir of ancestors) {
    const info = await stat(dir);
    if (!canTraverse(info, user)) return dir;
  }
  return null;
}
