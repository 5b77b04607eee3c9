import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { probeAmqp } from '../broker/amqp-probe.js';
import {
  type BrokerState,
  brokerStatePath,
  readBrokerState,
  removeBrokerState,
  writeBrokerState,
} from '../broker/broker-state.js';
import {
  attachLocalNode,
  BrokerStartError,
  BrokerStartInterrupted,
  findRabbitmqServer,
  isLocalNodeGone,
  isLocalNodeRunning,
  isPortAnswering,
  type LocalNodeFacts,
  localNodeProcesses,
  startLocalNode,
} from '../broker/local-node.js';
import { isPidAlive } from '../broker/processes.js';
import { maskedUrl } from '../config/connection.js';
import { QtoolError, UsageError } from '../errors.js';
import { DEFAULT_MANAGEMENT_PORT } from '../management/client.js';
import { type CommandIo, writeLine } from './io.js';

const COMPOSE_FILE = fileURLToPath(new URL('../../docker-compose.yml', import.meta.url));
const DEFAULT_AMQP_PORT = 5672;
/** The broker qtool starts listens on the loopback interface only. */
const HOST = '127.0.0.1';
/** The exit status of a start that an interrupt (Ctrl-C or SIGTERM) cut short, as a shell reports SIGINT. */
const EXIT_INTERRUPTED = 130;

export interface BrokerStartOptions {
  /** AMQP port; default 5672. */
  port: number | undefined;
  /** Management port; default 15672, or a free one when 15672 is taken. */
  managementPort: number | undefined;
}

/**
 * `qtool broker start`: a RabbitMQ node for the lab, from a local rabbitmq-server install (or
 * `docker compose up -d` when only Docker is there), left running after qtool exits. Exits 0 when
 * a broker answers on the port afterwards, including one that already did (then nothing is started).
 */
export async function runBrokerStart(options: BrokerStartOptions, io: CommandIo): Promise<number> {
  const amqpPort = options.port ?? DEFAULT_AMQP_PORT;
  if (options.managementPort === amqpPort) {
    // One port cannot take both listeners: the node would boot only to fail.
    throw new UsageError(
      `--management-port ${amqpPort} is the AMQP port too`,
      'Give the management UI a port of its own, or leave --management-port out.',
    );
  }
  const statePath = brokerStatePath(io.env);
  const previous = await readState(statePath);
  if (previous?.status === 'starting') {
    await clearInterruptedStart(previous, statePath, io);
  } else if (previous !== null) {
    if (await isRunning(previous)) {
      if (previous.amqpPort === amqpPort) {
        writeLine(io.stdout, `qtool's broker already runs on port ${amqpPort}; nothing started.`);
        printFacts(previous, io);
        return 0;
      }
      throw new QtoolError(
        `qtool already started a broker on port ${previous.amqpPort} (recorded in ${statePath})`,
        { hint: 'Stop it first with `qtool broker stop`; qtool looks after one broker at a time.' },
      );
    }
    // Recorded but gone (a reboot, say): clear what is left of it before starting afresh.
    await stopRecorded(previous, io, false);
    await removeBrokerState(statePath);
  }

  const answer = await probeAmqp(HOST, amqpPort);
  if (answer === 'amqp') {
    writeLine(
      io.stdout,
      `A broker already answers on ${HOST}:${amqpPort} (${urlFor(amqpPort)}); qtool started nothing.`,
    );
    writeLine(
      io.stdout,
      'Use it as it is, or pick another port for a broker of your own: qtool broker start --port N',
    );
    return 0;
  }
  if (answer === 'other') {
    throw new QtoolError(`port ${amqpPort} on ${HOST} is taken by something that is not an AMQP broker`, {
      hint: 'Choose another port with --port N.',
    });
  }

  if (findRabbitmqServer() !== null) {
    const state = await startLocal(amqpPort, options.managementPort, statePath, io);
    if (state === null) return EXIT_INTERRUPTED;
    writeLine(io.stdout, `Started RabbitMQ node ${state.nodeName}; it runs until \`qtool broker stop\`.`);
    printFacts(state, io);
    return 0;
  }
  if (await dockerAnswers()) {
    const state = await startDocker(amqpPort, options.managementPort, statePath, io);
    if (state === null) return EXIT_INTERRUPTED;
    writeLine(io.stdout, 'Started RabbitMQ in Docker (docker compose); it runs until `qtool broker stop`.');
    printFacts(state, io);
    return 0;
  }
  throw new QtoolError('cannot start a broker: rabbitmq-server is not installed and Docker does not answer', {
    hint: 'Install RabbitMQ (Debian/Ubuntu: sudo apt-get install rabbitmq-server) or start Docker, then try again.',
  });
}

/** `qtool broker stop`: stops the broker `start` recorded, and removes its data; never any other. */
export async function runBrokerStop(io: CommandIo): Promise<number> {
  const statePath = brokerStatePath(io.env);
  const state = await recordedBroker(statePath, 'stops', io);
  if (state === null) return 1;
  await stopRecorded(state, io, true);
  await removeBrokerState(statePath);
  return 0;
}

/**
 * `qtool broker restart`: a real broker restart that keeps the data, for the lab's durability
 * section: durable queues and persistent messages survive it, the rest does not.
 */
export async function runBrokerRestart(io: CommandIo): Promise<number> {
  const state = await recordedBroker(brokerStatePath(io.env), 'restarts', io);
  if (state === null) return 1;
  if (state.status === 'starting') {
    writeLine(io.stderr, `${describeBroker(state)} did not finish starting, so there is nothing to restart.`);
    writeLine(io.stderr, 'Run `qtool broker stop` to clear what is left of it, then `qtool broker start`.');
    return 1;
  }
  if (state.kind === 'docker') {
    await compose(['restart'], state.composeFile);
  } else {
    try {
      await attachLocalNode(state, {
        onLog: nodeProgress(io),
      }).restart();
    } catch (error) {
      throw new QtoolError(`could not restart RabbitMQ node ${state.nodeName}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  writeLine(
    io.stdout,
    'Restarted the broker qtool started; its durable queues and persistent messages are kept.',
  );
  printFacts(state, io);
  return 0;
}

/** `qtool broker status`: whether the broker qtool started runs. Exits 0 if it does, 1 otherwise. */
export async function runBrokerStatus(io: CommandIo): Promise<number> {
  const statePath = brokerStatePath(io.env);
  const state = await readState(statePath);
  if (state === null) {
    writeLine(io.stdout, `qtool has not started a broker (nothing recorded in ${statePath}).`);
    return 1;
  }
  if (state.status === 'starting') {
    const starting = state.starterPid !== undefined && (await isPidAlive(state.starterPid));
    writeLine(
      io.stdout,
      starting
        ? `${describeBroker(state)} is still starting (qtool broker start, pid ${state.starterPid}).`
        : `${describeBroker(state)} did not finish starting: its \`qtool broker start\` was interrupted.`,
    );
    if (!starting) {
      const data = state.kind === 'local' ? state.baseDir : 'docker compose down -v';
      writeLine(
        io.stdout,
        `\`qtool broker stop\` ends whatever is left of it and removes its data (${data}).`,
      );
    }
    return 1;
  }
  const running = await isRunning(state);
  writeLine(
    io.stdout,
    `${describeBroker(state)}, started by qtool, is ${running ? 'running' : 'NOT running'}.`,
  );
  printFacts(state, io);
  if (!running)
    writeLine(io.stdout, 'Start it again with `qtool broker start` (a stale record is cleared first).');
  return running ? 0 : 1;
}

type LocalState = Extract<BrokerState, { kind: 'local' }>;

async function startLocal(
  amqpPort: number,
  requestedManagementPort: number | undefined,
  statePath: string,
  io: CommandIo,
): Promise<LocalState | null> {
  let management = requestedManagementPort ?? DEFAULT_MANAGEMENT_PORT;
  if (requestedManagementPort === undefined && (await isPortAnswering(HOST, management, 1000))) {
    writeLine(io.stderr, `Port ${management} is taken: the management plugin gets a free port instead.`);
    management = 0;
  }
  const nodeName = `qtool-broker-${amqpPort}@localhost`;
  const startedAt = new Date().toISOString();
  // Set once the node is recorded, just before rabbitmq-server runs (an object: set in a callback).
  const launched: { facts: LocalNodeFacts | null } = { facts: null };
  const interrupts = listenForInterrupts(
    () => (launched.facts === null ? null : `node ${nodeName}`),
    statePath,
    io,
  );
  try {
    const node = await startLocalNode({
      amqpPort,
      management: management === 0 ? true : management,
      nodeName,
      onLog: nodeProgress(io),
      signal: interrupts.signal,
      beforeLaunch: async (facts) => {
        const record: LocalState = {
          kind: 'local',
          status: 'starting',
          starterPid: process.pid,
          startedAt,
          ...facts,
        };
        await writeBrokerState(statePath, record);
        launched.facts = facts;
      },
    });
    const facts = launched.facts as LocalNodeFacts;
    if (interrupts.signal.aborted) {
      // The interrupt came as the boot ended: the user still asked for no broker.
      await node.stop().catch(() => {});
      return await reportInterruptedStart(facts, statePath, io);
    }
    const state: LocalState = { kind: 'local', status: 'running', startedAt, ...facts };
    await writeBrokerState(statePath, state);
    return state;
  } catch (error) {
    if (error instanceof BrokerStartInterrupted || interrupts.signal.aborted) {
      return await reportInterruptedStart(launched.facts, statePath, io);
    }
    // startLocalNode has stopped and removed a node that failed; its record goes with it.
    const leftOver = launched.facts !== null && !(await isLocalNodeGone(launched.facts));
    if (launched.facts !== null && !leftOver) await removeBrokerState(statePath);
    if (error instanceof BrokerStartError || error instanceof TypeError) {
      throw new QtoolError(`could not start a RabbitMQ node: ${error.message}`, {
        cause: error,
        ...(leftOver ? { hint: `What is left of it is recorded; \`qtool broker stop\` removes it.` } : {}),
      });
    }
    throw error;
  } finally {
    interrupts.stop();
  }
}

/**
 * While a broker starts, the first Ctrl-C or SIGTERM aborts the returned signal (the start then
 * stops what it launched); a second exits at once and says what is left, and where it is recorded.
 * `launched` names what has been launched so far, or null before anything was.
 */
function listenForInterrupts(
  launched: () => string | null,
  statePath: string,
  io: CommandIo,
): { signal: AbortSignal; stop: () => void } {
  const interruption = new AbortController();
  const stop = io.onInterrupt((count) => {
    const what = launched();
    if (count === 1) {
      interruption.abort();
      writeLine(
        io.stderr,
        what === null
          ? 'interrupted: stopping the start...'
          : `interrupted: stopping the half-started ${what} (interrupt again to leave it as it is)...`,
      );
      return;
    }
    writeLine(
      io.stderr,
      what === null
        ? 'interrupted again: exiting; no broker was launched.'
        : `interrupted again: left the half-started ${what} running and recorded in ${statePath}; \`qtool broker stop\` ends it.`,
    );
    io.exitNow(EXIT_INTERRUPTED);
  });
  return { signal: interruption.signal, stop };
}

/** After an interrupted start: says exactly what is left, and clears the record when nothing is. */
async function reportInterruptedStart(
  facts: LocalNodeFacts | null,
  statePath: string,
  io: CommandIo,
): Promise<null> {
  if (facts === null) {
    writeLine(io.stderr, 'interrupted: no broker was launched.');
  } else if (await isLocalNodeGone(facts)) {
    await removeBrokerState(statePath);
    writeLine(
      io.stderr,
      `interrupted: stopped the half-started node ${facts.nodeName} and removed its data (${facts.baseDir}).`,
    );
  } else {
    writeLine(
      io.stderr,
      `interrupted: the half-started node ${facts.nodeName} is left running and recorded in ${statePath}; \`qtool broker stop\` ends it.`,
    );
  }
  return null;
}

/**
 * A `starting` record: refused while the `qtool broker start` that wrote it still runs; otherwise
 * that start was interrupted, and whatever it left is stopped and removed before starting afresh.
 */
async function clearInterruptedStart(previous: BrokerState, statePath: string, io: CommandIo): Promise<void> {
  const starter = previous.starterPid;
  if (starter !== undefined && starter !== process.pid && (await isPidAlive(starter))) {
    throw new QtoolError(
      `another \`qtool broker start\` (pid ${starter}) is starting a broker on port ${previous.amqpPort}`,
      {
        hint: `Wait for it; if it is stuck, end it and run \`qtool broker stop\` (recorded in ${statePath}).`,
      },
    );
  }
  await stopRecorded(previous, io, false);
  await removeBrokerState(statePath);
  writeLine(
    io.stderr,
    `An earlier \`qtool broker start\` was interrupted: stopped what it left (${describeBroker(previous)}) and removed its data.`,
  );
}

async function startDocker(
  amqpPort: number,
  managementPort: number | undefined,
  statePath: string,
  io: CommandIo,
): Promise<BrokerState | null> {
  // docker-compose.yml publishes the lab's usual ports and no others.
  if (
    amqpPort !== DEFAULT_AMQP_PORT ||
    (managementPort ?? DEFAULT_MANAGEMENT_PORT) !== DEFAULT_MANAGEMENT_PORT
  ) {
    throw new UsageError(
      'with Docker, qtool broker start uses docker-compose.yml, which publishes ports 5672 and 15672 only',
      'Leave out --port and --management-port, or install rabbitmq-server for other ports.',
    );
  }
  if (await isPortAnswering(HOST, DEFAULT_MANAGEMENT_PORT, 1000)) {
    throw new QtoolError(`port ${DEFAULT_MANAGEMENT_PORT} is taken, and docker-compose.yml needs it`);
  }
  const state: BrokerState = {
    kind: 'docker',
    status: 'running',
    startedAt: new Date().toISOString(),
    composeFile: COMPOSE_FILE,
    amqpPort: DEFAULT_AMQP_PORT,
    managementPort: DEFAULT_MANAGEMENT_PORT,
  };
  // Recorded first: compose may leave containers behind however `up` ends, and `stop` removes them.
  await writeBrokerState(statePath, { ...state, status: 'starting', starterPid: process.pid });
  writeLine(
    io.stderr,
    `rabbitmq-server is not installed: running docker compose -f ${COMPOSE_FILE} up -d --wait...`,
  );
  const interrupts = listenForInterrupts(() => 'RabbitMQ in Docker', statePath, io);
  try {
    await compose(['up', '-d', '--wait'], COMPOSE_FILE, interrupts.signal);
  } catch (error) {
    if (!interrupts.signal.aborted) {
      if (error instanceof QtoolError && error.hint === undefined) {
        throw new QtoolError(error.message, {
          cause: error,
          hint: 'What it started is recorded; `qtool broker stop` removes it (docker compose down -v).',
        });
      }
      throw error;
    }
    writeLine(
      io.stderr,
      `interrupted: stopped docker compose up; what it started is recorded in ${statePath}, and \`qtool broker stop\` removes it (docker compose down -v).`,
    );
    return null;
  } finally {
    interrupts.stop();
  }
  await writeBrokerState(statePath, state);
  return state;
}

async function stopRecorded(state: BrokerState, io: CommandIo, report: boolean): Promise<void> {
  const say = (line: string) => {
    if (report) writeLine(io.stdout, line);
  };
  if (state.kind === 'docker') {
    await compose(['down', '-v'], state.composeFile);
    say('Stopped RabbitMQ in Docker and removed its volume (docker compose down -v).');
    return;
  }
  // A node whose start was interrupted may not have written its pid file yet: count every process.
  const running = (await isLocalNodeRunning(state)) || (await localNodeProcesses(state)).length > 0;
  try {
    await attachLocalNode(state, { onLog: nodeProgress(io) }).stop();
  } catch (error) {
    throw new QtoolError(`could not stop RabbitMQ node ${state.nodeName}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const node =
    state.status === 'starting'
      ? `the half-started RabbitMQ node ${state.nodeName} (its start was interrupted)`
      : `RabbitMQ node ${state.nodeName}`;
  say(
    running
      ? `Stopped ${node} and removed its data (${state.baseDir}).`
      : `${capitalised(node)} was not running; removed its data (${state.baseDir}).`,
  );
}

function describeBroker(state: BrokerState): string {
  return state.kind === 'local' ? `RabbitMQ node ${state.nodeName}` : 'RabbitMQ in Docker (docker compose)';
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The broker `start` recorded, or null after saying there is none that `verb` could act on. */
async function recordedBroker(
  statePath: string,
  verb: 'stops' | 'restarts',
  io: CommandIo,
): Promise<BrokerState | null> {
  const state = await readState(statePath);
  if (state === null) {
    writeLine(io.stderr, `qtool has not started a broker: nothing is recorded in ${statePath}.`);
    writeLine(io.stderr, `It only ${verb} a broker it started with \`qtool broker start\`.`);
  }
  return state;
}

async function isRunning(state: BrokerState): Promise<boolean> {
  if (state.kind === 'local') return isLocalNodeRunning(state);
  return (await probeAmqp(HOST, state.amqpPort)) === 'amqp';
}

async function readState(path: string): Promise<BrokerState | null> {
  try {
    return await readBrokerState(path);
  } catch (error) {
    throw new QtoolError(`cannot read ${path}: ${(error as Error).message}`, {
      hint: 'Remove the file if no broker qtool started is running any more.',
      cause: error,
    });
  }
}

function printFacts(state: BrokerState, io: CommandIo): void {
  const management =
    state.managementPort === null ? 'off' : `http://localhost:${state.managementPort}/ (user guest)`;
  const lines = [
    `  AMQP URL:    ${urlFor(state.amqpPort)} (user guest, the default password)`,
    `  management:  ${management}`,
    state.kind === 'local'
      ? `  data:        ${state.baseDir}`
      : '  data:        the Docker volume rabbitmq-data of the compose project',
  ];
  if (state.kind === 'local') lines.push(`  rabbitmqctl: rabbitmqctl -n ${state.nodeName} list_queues`);
  if (state.amqpPort !== DEFAULT_AMQP_PORT) {
    lines.push(
      `  use it:      qtool --port ${state.amqpPort} send hello  (or export QTOOL_PORT=${state.amqpPort})`,
    );
  }
  for (const line of lines) writeLine(io.stdout, line);
}

/**
 * The node's progress lines for a person: without guest's password in its URL, and without the
 * housekeeping line about helper processes ended after the VM (normal on every stop, yet alarming).
 */
function nodeProgress(io: CommandIo): (line: string) => void {
  return (line) => {
    if (line.startsWith('ending leftover processes')) return;
    writeLine(io.stderr, withoutPassword(line));
  };
}

/** The node's progress lines carry its URL with guest's password; qtool never prints a password. */
function withoutPassword(line: string): string {
  return line.replace(/(amqps?:\/\/[^:@/\s]+):[^@\s]*@/g, '$1@');
}

function urlFor(port: number): string {
  return maskedUrl({ protocol: 'amqp', hostname: 'localhost', port, vhost: '/', username: 'guest' });
}

function dockerAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('docker', ['info'], { timeout: 15_000 }, (error) => resolve(error === null));
  });
}

function compose(args: string[], file = COMPOSE_FILE, signal?: AbortSignal): Promise<void> {
  const options = { timeout: 180_000, ...(signal === undefined ? {} : { signal }) };
  return new Promise((resolve, reject) => {
    execFile('docker', ['compose', '-f', file, ...args], options, (error, _out, stderr) => {
      if (error === null) resolve();
      else {
        const detail = String(stderr).trim().split('\n').slice(-5).join('\n');
        reject(
          new QtoolError(`docker compose ${args.join(' ')} failed${detail === '' ? '' : `:\n${detail}`}`),
        );
      }
    });
  });
}
