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
  findRabbitmqServer,
  isLocalNodeRunning,
  isPortAnswering,
  localNodeFacts,
  startLocalNode,
} from '../broker/local-node.js';
import { maskedUrl } from '../config/connection.js';
import { QtoolError, UsageError } from '../errors.js';
import { DEFAULT_MANAGEMENT_PORT } from '../management/client.js';
import { type CommandIo, writeLine } from './io.js';

const COMPOSE_FILE = fileURLToPath(new URL('../../docker-compose.yml', import.meta.url));
const DEFAULT_AMQP_PORT = 5672;
/** The broker qtool starts listens on the loopback interface only. */
const HOST = '127.0.0.1';

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
  const statePath = brokerStatePath(io.env);
  const previous = await readState(statePath);
  if (previous !== null) {
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
    const state = await startLocal(amqpPort, options.managementPort, io);
    await writeBrokerState(statePath, state);
    writeLine(io.stdout, `Started RabbitMQ node ${state.nodeName}; it runs until \`qtool broker stop\`.`);
    printFacts(state, io);
    return 0;
  }
  if (await dockerAnswers()) {
    const state = await startDocker(amqpPort, options.managementPort, io);
    await writeBrokerState(statePath, state);
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
  const running = await isRunning(state);
  const what =
    state.kind === 'local' ? `RabbitMQ node ${state.nodeName}` : 'RabbitMQ in Docker (docker compose)';
  writeLine(io.stdout, `${what}, started by qtool, is ${running ? 'running' : 'NOT running'}.`);
  printFacts(state, io);
  if (!running)
    writeLine(io.stdout, 'Start it again with `qtool broker start` (a stale record is cleared first).');
  return running ? 0 : 1;
}

async function startLocal(
  amqpPort: number,
  requestedManagementPort: number | undefined,
  io: CommandIo,
): Promise<Extract<BrokerState, { kind: 'local' }>> {
  let management = requestedManagementPort ?? DEFAULT_MANAGEMENT_PORT;
  if (requestedManagementPort === undefined && (await isPortAnswering(HOST, management, 1000))) {
    writeLine(io.stderr, `Port ${management} is taken: the management plugin gets a free port instead.`);
    management = 0;
  }
  try {
    const node = await startLocalNode({
      amqpPort,
      management: management === 0 ? true : management,
      nodeName: `qtool-broker-${amqpPort}@localhost`,
      onLog: nodeProgress(io),
    });
    return { kind: 'local', startedAt: new Date().toISOString(), ...localNodeFacts(node) };
  } catch (error) {
    if (error instanceof BrokerStartError || error instanceof TypeError) {
      throw new QtoolError(`could not start a RabbitMQ node: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

async function startDocker(
  amqpPort: number,
  managementPort: number | undefined,
  io: CommandIo,
): Promise<BrokerState> {
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
  writeLine(
    io.stderr,
    `rabbitmq-server is not installed: running docker compose -f ${COMPOSE_FILE} up -d --wait...`,
  );
  await compose(['up', '-d', '--wait']);
  return {
    kind: 'docker',
    startedAt: new Date().toISOString(),
    composeFile: COMPOSE_FILE,
    amqpPort: DEFAULT_AMQP_PORT,
    managementPort: DEFAULT_MANAGEMENT_PORT,
  };
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
  const running = await isLocalNodeRunning(state);
  try {
    await attachLocalNode(state, { onLog: nodeProgress(io) }).stop();
  } catch (error) {
    throw new QtoolError(`could not stop RabbitMQ node ${state.nodeName}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  say(
    running
      ? `Stopped RabbitMQ node ${state.nodeName} and removed its data (${state.baseDir}).`
      : `RabbitMQ node ${state.nodeName} was not running; removed its data (${state.baseDir}).`,
  );
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

function compose(args: string[], file = COMPOSE_FILE): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('docker', ['compose', '-f', file, ...args], { timeout: 180_000 }, (error, _out, stderr) => {
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
