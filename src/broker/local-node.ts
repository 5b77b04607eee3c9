/**
 * Starts and stops throwaway local RabbitMQ nodes: each has its own node name, ports, config and data folder,
 * so several run side by side and the system's own node and /etc/rabbitmq are never touched.
 *
 * The node is started in the foreground (`rabbitmq-server` without `-detached`) as a detached child whose
 * stdout/stderr go to files in baseDir: a `-detached` start that fails (a bad config, say) exits silently
 * and writes nothing anywhere, while this way the reason is in startup_log and the exit is noticed at once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { BrokerStartError, BrokerStartInterrupted } from './errors.js';
import { logReport, nodeLogFiles } from './logs.js';
import {
  type NodeLayout,
  nodeEnvironment,
  nodeLayout,
  renderEnabledPlugins,
  renderRabbitmqConf,
} from './node-files.js';
import { chownRecursive, firstUntraversableAncestor, lookupUser, type UnixUser } from './ownership.js';
import { isPortAnswering, pickFreePorts } from './ports.js';
import {
  isPidAlive,
  pidBelongsToNode,
  processesWithEnvironment,
  readPidFile,
  signalProcess,
  waitForPidExit,
} from './processes.js';
import {
  commandBehind,
  describeTool,
  environmentWithoutRabbitmqVariables,
  escapeForSuWrapper,
  isRoot,
  type RabbitmqTools,
  rabbitmqctl,
  resolveRabbitmqTools,
  resolveRabbitmqToolsInRoot,
} from './tools.js';
import { startWatchdog, stopWatchdog } from './watchdog.js';

export { BrokerStartError, BrokerStartInterrupted, RabbitmqctlError } from './errors.js';
export { isPortAnswering } from './ports.js';
export { findRabbitmqServer, rabbitmqctl, resolveRabbitmqToolsInRoot } from './tools.js';

export interface LocalNodeOptions {
  /** Default: a free port on 127.0.0.1. */
  amqpPort?: number;
  /** false (default): plugin off; true: on, on a free port; a number: on, on that port. */
  management?: boolean | number;
  /** Extra rabbitmq.conf lines, e.g. `{ max_message_size: '16777216' }`. */
  extraConfig?: Record<string, string>;
  /** Default: a new folder under os.tmpdir() (under rootDir's /tmp with rootDir). Removed by stop() unless keepData. */
  baseDir?: string;
  /**
   * Run the RabbitMQ installed in this system root instead of the host's, through chroot (root only):
   * e.g. a Debian 13 root with RabbitMQ 4.0 beside a Debian 12 host's 3.10. baseDir must be inside it.
   */
  rootDir?: string;
  /** Default: `qtool-<random>@localhost`. */
  nodeName?: string;
  /** Default 90 000. Applies to start() and to each restart(). */
  startTimeoutMs?: number;
  /** When set, a detached watchdog stops the node and removes baseDir once this pid is gone. */
  watchdogOwnerPid?: number;
  /** Progress lines ("starting RabbitMQ node X on port N..."). */
  onLog?: (line: string) => void;
  /**
   * Aborting it before the node is up kills the half-started node, removes baseDir (when created
   * here) and rejects with BrokerStartInterrupted. It has no effect once the node is up.
   */
  signal?: AbortSignal;
  /**
   * Called with the node's facts after its files are written and before rabbitmq-server runs, so a
   * caller can record the node before there is anything to lose track of. A rejection ends the start.
   */
  beforeLaunch?: (facts: LocalNodeFacts) => Promise<void>;
}

export interface LocalNode {
  readonly nodeName: string;
  readonly amqpPort: number;
  readonly managementPort: number | null;
  /** Where config, data (mnesia/) and logs (log/) live. */
  readonly baseDir: string;
  /** amqp://guest:guest@127.0.0.1:PORT */
  readonly url: string;
  /** Stops this node only (rabbitmqctl stop, else its own pid), then removes baseDir unless keepData. */
  stop(options?: { keepData?: boolean }): Promise<void>;
  /**
   * A real broker restart: stop, then start again with the same name, ports and data. After
   * stop({ keepData: true }) it starts the node again (and its watchdog, when it had one).
   */
  restart(): Promise<void>;
  /** `rabbitmqctl -n NODE ...args`: resolves stdout, rejects with a RabbitmqctlError carrying stderr. */
  ctl(args: string[]): Promise<string>;
}

const DEFAULT_START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 60_000;
/** How many times stopProcess looks for processes of the node that are left (see there). */
const LEFTOVER_SCANS = 5;
const NODE_NAME = /^[A-Za-z0-9_-]+@[A-Za-z0-9.-]+$/;

function validPort(port: number, what: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new TypeError(`${what} must be a TCP port (1-65535), got ${port}`);
  }
  return port;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** `path` (on the host) as a process in `rootDir` sees it; throws when it lies outside. */
function pathInRoot(path: string, rootDir: string | null): string {
  if (rootDir === null) return path;
  const inside = relative(rootDir, path);
  if (inside.startsWith('..') || resolve(rootDir, inside) !== path) {
    throw new TypeError(`${path} is outside ${rootDir}, where the node runs`);
  }
  return `/${inside.split(sep).join('/')}`;
}

/** The folder to create a node's baseDir in: os.tmpdir(), or /tmp when `runAs` could not reach it. */
async function defaultParentDir(runAs: UnixUser | null, rootDir: string | null): Promise<string> {
  // A chroot's node sees nothing outside its root.
  if (rootDir !== null) return join(rootDir, 'tmp');
  const preferred = tmpdir();
  const reachable =
    runAs === null || (await firstUntraversableAncestor(join(preferred, 'x'), runAs)) === null;
  return reachable ? preferred : '/tmp';
}

class RabbitNode implements LocalNode {
  readonly url: string;
  /** The node's files, as this process reaches them. */
  private readonly layout: NodeLayout;
  /** The same files as the node's own processes see them (they differ inside a chroot). */
  private readonly nodeSees: NodeLayout;
  private readonly env: Record<string, string>;
  private readonly log: (line: string) => void;
  private watchdogPid: number | undefined;
  /** Kept so that a restart after stop({ keepData: true }) is watched again. */
  private watchdogOwnerPid: number | undefined;
  private child: ChildProcess | undefined;
  private childExit: string | undefined;
  /** Aborted when the current rabbitmq-server process exits. */
  private childGone = new AbortController();
  private running = false;
  private removed = false;

  constructor(
    readonly nodeName: string,
    readonly amqpPort: number,
    readonly managementPort: number | null,
    readonly baseDir: string,
    private readonly tools: RabbitmqTools,
    private readonly startTimeoutMs: number,
    private readonly ownsBaseDir: boolean,
    readonly distPort: number,
    log: (line: string) => void,
  ) {
    this.url = `amqp://guest:guest@127.0.0.1:${amqpPort}`;
    this.layout = nodeLayout(baseDir);
    this.nodeSees = nodeLayout(pathInRoot(baseDir, tools.rootDir));
    this.log = log;
    this.env = {
      ...environmentWithoutRabbitmqVariables(),
      ...nodeEnvironment({ layout: this.nodeSees, nodeName, amqpPort, distPort }),
    };
  }

  ctl(args: string[]): Promise<string> {
    return rabbitmqctl(this.nodeName, args, { tools: this.tools });
  }

  get rootDir(): string | null {
    return this.tools.rootDir;
  }

  get pidFileAsNodeSees(): string {
    return this.nodeSees.pidFile;
  }

  /** Takes charge of a node another process started (see attachLocalNode), so stop() acts on it. */
  adopt(): void {
    this.running = true;
  }

  startWatchdog(ownerPid: number): void {
    this.watchdogOwnerPid = ownerPid;
    this.watchdogPid = startWatchdog({
      ownerPid,
      nodeName: this.nodeName,
      ctlCommand: [...this.tools.commandPrefix, this.tools.ctl],
      pidFile: this.nodeSees.pidFile,
      pidFileArg: this.tools.ctlViaSuWrapper
        ? escapeForSuWrapper(this.nodeSees.pidFile)
        : this.nodeSees.pidFile,
      baseDir: this.baseDir,
      env: environmentWithoutRabbitmqVariables(),
    });
  }

  /**
   * Starts rabbitmq-server and waits until the node has booted; throws BrokerStartError otherwise,
   * or BrokerStartInterrupted (after killing the node) when `interruption` aborts first.
   */
  async launch(what: 'start' | 'restart', interruption?: AbortSignal): Promise<void> {
    const startedAt = Date.now();
    const deadline = startedAt + this.startTimeoutMs;
    const management = this.managementPort === null ? '' : `, management on ${this.managementPort}`;
    this.log(
      `${what === 'start' ? 'starting' : 'restarting'} RabbitMQ node ${this.nodeName} on port ${this.amqpPort}${management} (data in ${this.baseDir})...`,
    );
    const out = openSync(this.layout.startupLog, 'a');
    const err = openSync(this.layout.startupErr, 'a');
    try {
      this.childExit = undefined;
      const childGone = new AbortController();
      this.childGone = childGone;
      const [command, args] = commandBehind(this.tools.commandPrefix, this.tools.server);
      const child = spawn(command, args, {
        cwd: this.baseDir,
        env: this.env,
        detached: true,
        stdio: ['ignore', out, err],
      });
      this.child = child;
      // Only the current process counts: a previous one (before a restart) may still be winding down.
      child.once('error', (error) => {
        if (this.child === child) this.childExit ??= `could not be run (${error.message})`;
        childGone.abort();
      });
      child.once('exit', (code, signal) => {
        if (this.child === child) {
          this.childExit ??= signal === null ? `exited (code ${code})` : `was killed by ${signal}`;
        }
        childGone.abort();
      });
      child.unref();
      this.running = true;
    } finally {
      closeSync(out);
      closeSync(err);
    }

    try {
      await this.waitUntilUp(deadline, interruption);
    } catch (error) {
      if (interruption?.aborted) {
        await this.stopProcess(true);
        throw new BrokerStartInterrupted(`the start of RabbitMQ node ${this.nodeName} was interrupted`, {
          cause: error,
        });
      }
      const reason = error instanceof Error ? error.message : String(error);
      const report = await logReport([
        this.layout.startupErr,
        this.layout.startupLog,
        ...(await nodeLogFiles(this.layout.logBase, this.nodeName)),
      ]);
      await this.stopProcess(true);
      const dataKept = what === 'restart' || !this.ownsBaseDir;
      throw new BrokerStartError(
        `RabbitMQ node ${this.nodeName} (port ${this.amqpPort}, ${describeTool(this.tools, this.tools.server)}) did not come up: ${reason}` +
          `\n${dataKept ? `Data and logs are kept in ${this.baseDir}` : 'Its folder has been removed; the logs were:'}\n${report}`,
        { baseDir: dataKept ? this.baseDir : null, cause: error },
      );
    }
    this.log(`RabbitMQ node ${this.nodeName} is up on ${this.url} after ${seconds(Date.now() - startedAt)}`);
  }

  private async waitUntilUp(deadline: number, interruption: AbortSignal | undefined): Promise<void> {
    const limit = seconds(this.startTimeoutMs);
    const pause = interruption === undefined ? {} : { signal: interruption };
    for (let waitingFor = `port ${this.amqpPort}`; ; await delay(200, undefined, pause)) {
      interruption?.throwIfAborted();
      if (this.childExit !== undefined) {
        throw new Error(`rabbitmq-server ${this.childExit} before the node was up`);
      }
      if (Date.now() >= deadline) throw new Error(`${waitingFor} did not answer within ${limit}`);
      if (!(await isPortAnswering('127.0.0.1', this.amqpPort, 500))) continue;
      if (this.managementPort === null) break;
      waitingFor = `the management port ${this.managementPort}`;
      if (await isPortAnswering('127.0.0.1', this.managementPort, 500)) break;
    }
    // The listener is up; await_startup confirms the node booted completely and the CLI can reach it.
    const remainingMs = Math.max(deadline - Date.now(), 1000);
    const awaitStartup = ['await_startup', '--timeout', String(Math.ceil(remainingMs / 1000))];
    const failure = await rabbitmqctl(this.nodeName, awaitStartup, {
      tools: this.tools,
      timeoutMs: remainingMs + 5000,
      signal: eitherSignal(this.childGone.signal, interruption),
    }).then(
      () => null,
      (error: unknown) => error,
    );
    // An exit of rabbitmq-server explains more than the aborted CLI call does.
    if (this.childExit !== undefined) {
      throw new Error(`rabbitmq-server ${this.childExit} before the node was up`);
    }
    if (failure !== null) throw failure;
  }

  /**
   * Stops the Erlang VM of this node and waits until it is gone. Normally `rabbitmqctl -n NODE stop` (a
   * graceful stop, so durable data is flushed) and then polling the pid from RABBITMQ_PID_FILE; that is the
   * same as `stop PIDFILE` but about a second faster, as rabbitmqctl only checks the pid once a second.
   * If rabbitmqctl fails or the VM lingers, the pid gets SIGTERM, then SIGKILL; `quick` goes straight to
   * SIGKILL (used when a start failed). A pid is only signalled once it is known to be this node's VM.
   */
  private async stopProcess(quick = false): Promise<void> {
    if (!this.running) return;
    const pid = await readPidFile(this.layout.pidFile);
    const vmPid =
      pid !== null && (await isPidAlive(pid)) && (await pidBelongsToNode(pid, this.nodeName)) ? pid : null;
    let stopped = false;
    if (!quick && (vmPid !== null || pid === null)) {
      try {
        await rabbitmqctl(this.nodeName, ['stop'], { tools: this.tools, timeoutMs: STOP_TIMEOUT_MS });
        stopped = vmPid === null || (await waitForPidExit(vmPid, STOP_TIMEOUT_MS));
      } catch (error) {
        this.log(`rabbitmqctl stop failed for ${this.nodeName}: ${(error as Error).message}`);
      }
    }
    if (vmPid !== null && !stopped && (await isPidAlive(vmPid))) {
      this.log(`killing pid ${vmPid} of RabbitMQ node ${this.nodeName}`);
      if (!quick) {
        signalProcess(vmPid, 'SIGTERM');
        stopped = await waitForPidExit(vmPid, 10_000);
      }
      if (!stopped) {
        signalProcess(vmPid, 'SIGKILL');
        await waitForPidExit(vmPid, 5_000);
      }
    }
    // Whatever is left of this node (a VM that had not written its pid file yet, or the scripts around
    // it) is found by the unique pid-file path in its environment. Early in a boot a script may fork
    // its next step just after a scan (Debian's wrapper runs su, then sh, then the VM), so scan again
    // until one finds nothing; every round ends the processes that could fork more.
    for (let round = 0; round < LEFTOVER_SCANS; round += 1) {
      const leftovers = await processesWithEnvironment(`RABBITMQ_PID_FILE=${this.nodeSees.pidFile}`);
      if (leftovers.length === 0) break;
      this.log(`ending leftover processes ${leftovers.join(', ')} of RabbitMQ node ${this.nodeName}`);
      for (const leftover of leftovers) signalProcess(leftover, quick ? 'SIGKILL' : 'SIGTERM');
      for (const leftover of leftovers) {
        if (!(await waitForPidExit(leftover, 5_000))) signalProcess(leftover, 'SIGKILL');
      }
    }
    const child = this.child;
    if (child?.pid !== undefined && this.childExit === undefined) {
      // Without /proc, rabbitmq-server's process group is the last handle on a node without a pid file.
      if (vmPid === null && !stopped) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
      await Promise.race([exited, delay(5_000)]);
    }
    this.running = false;
  }

  private async removeData(): Promise<void> {
    if (this.removed) return;
    await rm(this.baseDir, { recursive: true, force: true, maxRetries: 3 });
    this.removed = true;
  }

  async stop(options: { keepData?: boolean } = {}): Promise<void> {
    const startedAt = Date.now();
    if (this.watchdogPid !== undefined) {
      stopWatchdog(this.watchdogPid);
      this.watchdogPid = undefined;
    }
    if (this.running) {
      this.log(`stopping RabbitMQ node ${this.nodeName}...`);
      await this.stopProcess();
    }
    if (options.keepData !== true) await this.removeData();
    this.log(`RabbitMQ node ${this.nodeName} stopped after ${seconds(Date.now() - startedAt)}`);
  }

  async restart(): Promise<void> {
    if (this.removed) throw new Error(`RabbitMQ node ${this.nodeName} was stopped and its data removed`);
    // stop() ended the watchdog; a node started again must not outlive its owner either.
    if (this.watchdogOwnerPid !== undefined && this.watchdogPid === undefined) {
      this.startWatchdog(this.watchdogOwnerPid);
    }
    await this.stopProcess();
    await this.launch('restart');
  }
}

/** Starts a throwaway RabbitMQ node and resolves once it accepts AMQP connections and has fully booted. */
export async function startLocalNode(options: LocalNodeOptions = {}): Promise<LocalNode> {
  const tools =
    options.rootDir === undefined ? resolveRabbitmqTools() : resolveRabbitmqToolsInRoot(options.rootDir);
  const log = options.onLog ?? (() => {});
  const nodeName = options.nodeName ?? `qtool-${randomBytes(4).toString('hex')}@localhost`;
  if (!NODE_NAME.test(nodeName)) throw new TypeError(`nodeName must look like name@host, got ${nodeName}`);
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;

  // As root, Debian's wrapper runs the node as `rabbitmq`, which must own (and reach) everything it uses.
  const runAs = isRoot() ? await lookupUser('rabbitmq', tools.commandPrefix) : null;

  const ownsBaseDir = options.baseDir === undefined;
  const baseDir =
    options.baseDir === undefined
      ? await mkdtemp(join(await defaultParentDir(runAs, tools.rootDir), 'qtool-rabbitmq-'))
      : resolve(options.baseDir);
  // Refused before anything is created or removed.
  if (!ownsBaseDir) pathInRoot(baseDir, tools.rootDir);

  try {
    await mkdir(baseDir, { recursive: true });
    if (runAs !== null) {
      const blocked = await firstUntraversableAncestor(baseDir, runAs, tools.rootDir ?? '/');
      if (blocked !== null) {
        throw new BrokerStartError(
          `The RabbitMQ node runs as user ${runAs.name}, who cannot enter ${blocked} on the way to ${baseDir}. ` +
            `Use a baseDir under /tmp, or let it through: chmod o+x ${blocked}`,
        );
      }
    }

    const wanted = options.management ?? false;
    const fixedPorts: number[] = [];
    if (options.amqpPort !== undefined) fixedPorts.push(validPort(options.amqpPort, 'amqpPort'));
    if (typeof wanted === 'number') fixedPorts.push(validPort(wanted, 'management port'));
    for (const port of fixedPorts) {
      if (await isPortAnswering('127.0.0.1', port, 1000)) {
        throw new BrokerStartError(
          `Port ${port} on 127.0.0.1 is already in use; cannot start ${nodeName} on it.`,
        );
      }
    }
    const free = (await pickFreePorts(5)).filter((port) => !fixedPorts.includes(port));
    const takeFree = () => {
      const port = free.shift();
      if (port === undefined) throw new BrokerStartError('could not find enough free TCP ports');
      return port;
    };
    const amqpPort = options.amqpPort ?? takeFree();
    const distPort = takeFree();
    const managementPort = wanted === false ? null : wanted === true ? takeFree() : wanted;

    const layout = nodeLayout(baseDir);
    await Promise.all(
      [layout.mnesiaBase, layout.logBase, layout.confDir].map((dir) => mkdir(dir, { recursive: true })),
    );
    await Promise.all([
      writeFile(layout.configFile, renderRabbitmqConf({ managementPort, extraConfig: options.extraConfig })),
      writeFile(layout.enabledPluginsFile, renderEnabledPlugins(managementPort !== null)),
      writeFile(layout.envConfFile, '# Empty: keeps /etc/rabbitmq/rabbitmq-env.conf out of this node.\n'),
    ]);
    if (runAs !== null) await chownRecursive(baseDir, runAs.uid, runAs.gid);

    const node = new RabbitNode(
      nodeName,
      amqpPort,
      managementPort,
      baseDir,
      tools,
      startTimeoutMs,
      ownsBaseDir,
      distPort,
      log,
    );
    if (options.watchdogOwnerPid !== undefined) node.startWatchdog(options.watchdogOwnerPid);
    const stopIfInterrupted = () => {
      if (options.signal?.aborted) {
        throw new BrokerStartInterrupted(`the start of RabbitMQ node ${nodeName} was interrupted`);
      }
    };
    try {
      stopIfInterrupted();
      await options.beforeLaunch?.(localNodeFacts(node));
      stopIfInterrupted();
      await node.launch('start', options.signal);
    } catch (error) {
      await node.stop({ keepData: !ownsBaseDir }).catch(() => {});
      throw error;
    }
    return node;
  } catch (error) {
    if (ownsBaseDir) await rm(baseDir, { recursive: true, force: true }).catch(() => {});
    throw error;
  }
}

/** What another process needs to find, check and stop a node later (see attachLocalNode). */
export interface LocalNodeFacts {
  nodeName: string;
  amqpPort: number;
  managementPort: number | null;
  distPort: number;
  baseDir: string;
  /** The pid file as the node's processes see it (in their RABBITMQ_PID_FILE). */
  pidFile: string;
  /** Set when the node runs in another system root (LocalNodeOptions.rootDir). */
  rootDir?: string;
}

/** The facts of a node started by startLocalNode, to save for attachLocalNode. */
export function localNodeFacts(node: LocalNode): LocalNodeFacts {
  if (!(node instanceof RabbitNode)) throw new TypeError('not a node started by startLocalNode');
  return {
    nodeName: node.nodeName,
    amqpPort: node.amqpPort,
    managementPort: node.managementPort,
    distPort: node.distPort,
    baseDir: node.baseDir,
    pidFile: node.pidFileAsNodeSees,
    ...(node.rootDir === null ? {} : { rootDir: node.rootDir }),
  };
}

/**
 * A handle on a node that an earlier process started (without a watchdog) and described with
 * localNodeFacts: its stop() is the same as the starter's, and removes baseDir too.
 */
export function attachLocalNode(
  facts: LocalNodeFacts,
  options: { onLog?: (line: string) => void; startTimeoutMs?: number } = {},
): LocalNode {
  const node = new RabbitNode(
    facts.nodeName,
    facts.amqpPort,
    facts.managementPort,
    facts.baseDir,
    facts.rootDir === undefined ? resolveRabbitmqTools() : resolveRabbitmqToolsInRoot(facts.rootDir),
    options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    true,
    facts.distPort,
    options.onLog ?? (() => {}),
  );
  node.adopt();
  return node;
}

/**
 * Whether nothing is left of the node these facts describe: no process (see localNodeProcesses)
 * and no baseDir. Where /proc is missing, only the folder is checked.
 */
export async function isLocalNodeGone(facts: LocalNodeFacts): Promise<boolean> {
  return !existsSync(facts.baseDir) && (await localNodeProcesses(facts)).length === 0;
}

/** The pids of every process of that node, booting or not, found by its pid-file path; [] without /proc. */
export function localNodeProcesses(facts: LocalNodeFacts): Promise<number[]> {
  return processesWithEnvironment(`RABBITMQ_PID_FILE=${facts.pidFile}`);
}

/** Whether the Erlang VM of the node these facts describe is alive (its pid file names a live VM of that node). */
export async function isLocalNodeRunning(facts: LocalNodeFacts): Promise<boolean> {
  const pid = await readPidFile(nodeLayout(facts.baseDir).pidFile);
  return pid !== null && (await isPidAlive(pid)) && (await pidBelongsToNode(pid, facts.nodeName));
}

/** A signal that aborts when either does (AbortSignal.any needs Node 20.3). */
function eitherSignal(first: AbortSignal, second: AbortSignal | undefined): AbortSignal {
  if (second === undefined) return first;
  const both = new AbortController();
  for (const signal of [first, second]) {
    if (signal.aborted) both.abort();
    else signal.addEventListener('abort', () => both.abort(), { once: true });
  }
  return both.signal;
}
