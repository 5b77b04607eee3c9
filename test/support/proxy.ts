import { createServer, type Socket, connect as tcpConnect } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of the broker that a test can disturb the way real networks
 * and brokers fail, without touching the broker itself:
 * - `freeze()` stops forwarding in both directions but keeps every socket open: a frozen broker,
 *   or a network path that went silent. Each side's writes still succeed and are never answered.
 *   `freezeOn('channel.close')` does the same the moment a client sends that AMQP method, which
 *   is then never forwarded: the broker never sees it, so it never answers.
 * - `cut()` drops every connection through it at once: a broker or a link that dies.
 * It reads the clients' AMQP frames (never the broker's), so a test can also wait until a client
 * has sent a given method while frozen before it cuts.
 */
export interface FreezableProxy {
  /** The broker URL with its host and port replaced by the proxy's. */
  url: string;
  /** Stops forwarding without closing anything; the peers wait for bytes that never come. */
  freeze(): void;
  /**
   * Freezes as soon as a client sends `method` (e.g. `channel.close`), holding that frame back;
   * with `after`, only once a client has sent that method first (e.g. `basic.publish`).
   */
  freezeOn(method: string, options?: { after?: string }): void;
  /** Whether it is frozen. */
  isFrozen(): boolean;
  /** Destroys every connection through the proxy, both sides. */
  cut(): void;
  /** AMQP methods the clients sent since the freeze, as `class.method` (e.g. `channel.close`). */
  heldMethods(): string[];
  /** Cuts everything and stops listening. */
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  /** Bytes from the client not yet split into frames (the 8-byte protocol header first). */
  pending: Buffer;
  headerSeen: boolean;
}

/** The methods a test may name, by AMQP class and method id; others read as `class.method` ids. */
const METHOD_NAMES: Record<string, string> = {
  '10.50': 'connection.close',
  '10.51': 'connection.close-ok',
  '20.10': 'channel.open',
  '20.40': 'channel.close',
  '20.41': 'channel.close-ok',
  '60.20': 'basic.consume',
  '60.30': 'basic.cancel',
  '60.40': 'basic.publish',
  '60.70': 'basic.get',
  '60.80': 'basic.ack',
};

const PROTOCOL_HEADER_BYTES = 8;
/** type (1), channel (2), payload size (4) before the payload; one end byte after it. */
const FRAME_HEADER_BYTES = 7;
const METHOD_FRAME = 1;

/** Starts a proxy that forwards to the broker at `brokerUrl` (amqp://user:pass@host:port/vhost). */
export async function startProxy(brokerUrl: string): Promise<FreezableProxy> {
  const target = new URL(brokerUrl);
  const pairs = new Set<Pair>();
  const held: string[] = [];
  let frozen = false;
  let trigger: string | null = null;
  /** A method that must pass before the trigger counts; null once it has. */
  let armAfter: string | null = null;

  const freeze = () => {
    if (frozen) return;
    frozen = true;
    // The broker's side is no longer read: what it sends waits in the kernel.
    for (const { upstream, client } of pairs) {
      upstream.unpipe(client);
      upstream.pause();
    }
  };

  /** Splits what a client sent into frames; forwards each unless frozen (or freezing on it). */
  const fromClient = (pair: Pair, chunk: Buffer) => {
    pair.pending = Buffer.concat([pair.pending, chunk]);
    if (!pair.headerSeen) {
      if (pair.pending.length < PROTOCOL_HEADER_BYTES) return;
      if (!frozen) pair.upstream.write(pair.pending.subarray(0, PROTOCOL_HEADER_BYTES));
      pair.pending = pair.pending.subarray(PROTOCOL_HEADER_BYTES);
      pair.headerSeen = true;
    }
    while (pair.pending.length >= FRAME_HEADER_BYTES) {
      const length = FRAME_HEADER_BYTES + pair.pending.readUInt32BE(3) + 1;
      if (pair.pending.length < length) return;
      const frame = pair.pending.subarray(0, length);
      pair.pending = pair.pending.subarray(length);
      const method =
        frame[0] === METHOD_FRAME && length >= FRAME_HEADER_BYTES + 5
          ? `${frame.readUInt16BE(FRAME_HEADER_BYTES)}.${frame.readUInt16BE(FRAME_HEADER_BYTES + 2)}`
          : null;
      const name = method === null ? null : (METHOD_NAMES[method] ?? method);
      if (!frozen && name !== null && armAfter === null && name === trigger) freeze();
      if (name !== null && name === armAfter) armAfter = null;
      if (frozen) {
        if (name !== null) held.push(name);
      } else {
        pair.upstream.write(frame);
      }
    }
  };

  const server = createServer((client) => {
    const upstream = tcpConnect(Number(target.port || 5672), target.hostname);
    const pair: Pair = { client, upstream, pending: Buffer.alloc(0), headerSeen: false };
    pairs.add(pair);
    const forget = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', forget).on('close', forget);
    upstream.on('error', forget).on('close', forget);
    client.on('data', (chunk: Buffer) => fromClient(pair, chunk));
    if (!frozen) upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = new URL(brokerUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);

  const cut = () => {
    for (const { client, upstream } of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };

  return {
    url: url.toString(),
    freeze,
    freezeOn(method, options = {}) {
      trigger = method;
      armAfter = options.after ?? null;
    },
    isFrozen: () => frozen,
    cut,
    heldMethods: () => [...held],
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
