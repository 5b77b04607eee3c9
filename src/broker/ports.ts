import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';

/**
 * Ports never handed out: RabbitMQ's and epmd's defaults, and 35672-35682, where rabbitmqctl and the other
 * CLI tools listen for Erlang distribution while they run.
 */
export function isReservedPort(port: number): boolean {
  return (
    port === 4369 || port === 5672 || port === 15672 || port === 25672 || (port >= 35672 && port <= 35682)
  );
}

/** Plain TCP connect probe: true when something accepts a connection on host:port within timeoutMs. */
export function isPortAnswering(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let settled = false;
    const finish = (answered: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answered);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** Linux's default ip_local_port_range, for a kernel that does not say. */
const DEFAULT_EPHEMERAL: [number, number] = [32768, 60999];
/** The lowest port handed out: below it sit well-known and registered services. */
const LOWEST_PICK = 10_000;

/** The kernel's ephemeral port range from the text of /proc/sys/net/ipv4/ip_local_port_range. */
export function ephemeralRangeFrom(text: string): [number, number] {
  const [low, high] = text.trim().split(/\s+/).map(Number);
  if (
    low === undefined ||
    high === undefined ||
    !Number.isInteger(low) ||
    !Number.isInteger(high) ||
    low > high
  ) {
    return DEFAULT_EPHEMERAL;
  }
  return [low, high];
}

function ephemeralRange(): [number, number] {
  try {
    return ephemeralRangeFrom(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'));
  } catch {
    return DEFAULT_EPHEMERAL;
  }
}

/**
 * Random ports outside the kernel's ephemeral range, or 0 (the kernel picks) when that range leaves
 * too few. The kernel gives ephemeral ports to every outgoing connection and every bind(0); a node
 * that restarts keeps its ports, and one of them given away while the node was down made the
 * restart, or another node started meanwhile, fail ("could not bind to distribution port N, it is
 * in use by another node").
 */
function* candidatePorts(): Generator<number> {
  const [low, high] = ephemeralRange();
  const ranges = [
    [LOWEST_PICK, low - 1],
    [high + 1, 65_535],
  ].filter(([from, to]) => (to as number) - (from as number) >= 1000) as [number, number][];
  const size = ranges.reduce((sum, [from, to]) => sum + to - from + 1, 0);
  for (;;) {
    if (size === 0) {
      yield 0;
      continue;
    }
    let offset = randomInt(size);
    for (const [from, to] of ranges) {
      if (offset <= to - from) {
        yield from + offset;
        break;
      }
      offset -= to - from + 1;
    }
  }
}

/** Listens on `port` (0: any), or resolves null when it is taken or cannot be had. */
function listenOn(host: string, port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(null));
    server.listen({ host, port, exclusive: true }, () => resolve(server));
  });
}
function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('listening socket has no TCP port');
  return address.port;
}

/**
 * `count` distinct free TCP ports on `host`, tried from `candidates` (by default random ports outside
 * the kernel's ephemeral range) by listening on each. All sockets are held open until every port is
 * known, so the ports differ from each other; they are free when returned, though nothing stops
 * another process taking one before it is used.
 */
export async function pickFreePorts(
  count: number,
  host = '127.0.0.1',
  candidates: Iterator<number> = candidatePorts(),
): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    for (let attempts = 0; ports.length < count; attempts++) {
      const candidate = candidates.next();
      if (attempts > count + 50 || candidate.done === true) {
        throw new Error(`could not find ${count} free TCP ports on ${host}`);
      }
      const server = await listenOn(host, candidate.value);
      if (server === null) continue;
      held.push(server);
      const port = portOf(server);
      if (!isReservedPort(port) && !ports.includes(port)) ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(held.map(close));
  }
}
