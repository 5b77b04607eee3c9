import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { LocalNodeFacts } from './local-node.js';

/**
 * What `qtool broker start` started, saved so that `stop` and `status`, run later from another
 * process, act on that broker and never on one qtool did not start.
 */
export type BrokerState = BrokerRecord &
  (
    | ({ kind: 'local' } & LocalNodeFacts)
    | { kind: 'docker'; composeFile: string; amqpPort: number; managementPort: number }
  );

/**
 * `starting` is written before the broker is launched, so a start that is interrupted (even by
 * SIGKILL) leaves a record `broker stop` can clean up; `running` once the broker is up.
 */
export type BrokerStatus = 'starting' | 'running';

interface BrokerRecord {
  startedAt: string;
  status: BrokerStatus;
  /** While `starting`: the pid of the `qtool broker start` doing it, to tell a live start from an interrupted one. */
  starterPid?: number;
}

/**
 * `$QTOOL_STATE_DIR/broker.json` when set (tests), else `$XDG_STATE_HOME/qtool/broker.json`, else
 * `~/.local/state/qtool/broker.json`.
 */
export function brokerStatePath(env: Readonly<Record<string, string | undefined>>): string {
  if (env.QTOOL_STATE_DIR !== undefined && env.QTOOL_STATE_DIR !== '') {
    return join(env.QTOOL_STATE_DIR, 'broker.json');
  }
  const stateHome =
    env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME !== ''
      ? env.XDG_STATE_HOME
      : join(homedir(), '.local', 'state');
  return join(stateHome, 'qtool', 'broker.json');
}

/** The saved state, or null when there is none; throws when the file is there but unreadable. */
export async function readBrokerState(path: string): Promise<BrokerState | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const value = JSON.parse(text) as Partial<BrokerState> | null;
  const described =
    (value?.kind === 'local' && typeof value.nodeName === 'string' && typeof value.baseDir === 'string') ||
    (value?.kind === 'docker' && typeof value.composeFile === 'string');
  if (!described) throw new Error(`${path} does not describe a broker qtool started`);
  // Records written before there was a status only ever described a broker that was up.
  return { ...value, status: value.status === 'starting' ? 'starting' : 'running' } as BrokerState;
}

export async function writeBrokerState(path: string, state: BrokerState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(state, null, 2)}\n`);
}

export async function removeBrokerState(path: string): Promise<void> {
  await rm(path, { force: true });
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1']);

/**
 * The management port of the broker `qtool broker start` runs on this machine at `port`, or null.
 * It is 15672 unless that was taken; status and watch (also in qtool lab's watch pane) use this
 * to find the API without --management-url. An unreadable record counts as none.
 */
export async function recordedManagementPort(
  env: Readonly<Record<string, string | undefined>>,
  hostname: string,
  port: number,
): Promise<number | null> {
  if (!LOOPBACK_NAMES.has(hostname)) return null;
  const state = await readBrokerState(brokerStatePath(env)).catch(() => null);
  return state !== null && state.amqpPort === port ? state.managementPort : null;
}
