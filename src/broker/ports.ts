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

function listenOnAnyPort(host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => resolve(server));
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
 * `count` distinct free TCP ports on `host`, picked by the OS (listening on port 0). All sockets are held
 * open until every port is known, so the ports differ from each other; they are free when returned, though
 * nothing stops another process taking one before it is used.
 */
export async function pickFreePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    for (let attempts = 0; ports.length < count; attempts++) {
      if (attempts > count + 50) throw new Error(`could not find ${count} free TCP ports on ${host}`);
      const server = await listenOnAnyPort(host);
      held.push(server);
      const port = portOf(server);
      if (!isReservedPort(port)) ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(held.map(close));
  }
}
