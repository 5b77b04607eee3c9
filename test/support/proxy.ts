import { createServer, type Socket, connect as tcpConnect } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of the broker that a test can disturb the way real networks
 * and brokers fail, without touching the broker itself:
 * - `freeze()` stops forwarding in both directions but keeps every socket open: a frozen broker,
 *   or a network path that went silent. Each side's writes still succeed and are never answered.
 * - `cut()` drops every connection through it at once: a broker or a link that dies.
 * While frozen it reads what the clients send, so a test can wait until a client has sent a given
 * AMQP method (say channel.close) before it cuts.
 */
export interface FreezableProxy {
  /** The broker URL with its host and port replaced by the proxy's. */
  url: string;
  /** Stops forwarding without closing anything; the peers wait for bytes that never come. */
  freeze(): void;
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
  /** Bytes from the client since the freeze, not yet split into frames. */
  held: Buffer;
}

/** The methods a test may wait for, by AMQP class and method id. */
const METHOD_NAMES: Record<string, string> = {
  '10.50': 'connection.close',
  '10.51': 'connection.close-ok',
  '20.40': 'channel.close',
  '20.41': 'channel.close-ok',
  '60.30': 'basic.cancel',
  '60.80': 'basic.ack',
};

/** Starts a proxy that forwards to the broker at `brokerUrl` (amqp://user:pass@host:port/vhost). */
export async function startProxy(brokerUrl: string): Promise<FreezableProxy> {
  const target = new URL(brokerUrl);
  const pairs = new Set<Pair>();
  const methods: string[] = [];
  let frozen = false;

  /** Reads whole AMQP frames (type, channel, size, payload, end byte) out of what a client sent. */
  const readFrames = (pair: Pair) => {
    while (pair.held.length >= 7) {
      const size = pair.held.readUInt32BE(3);
      if (pair.held.length < 7 + size + 1) return;
      if (pair.held[0] === 1 && size >= 4) {
        const id = `${pair.held.readUInt16BE(7)}.${pair.held.readUInt16BE(9)}`;
        methods.push(METHOD_NAMES[id] ?? id);
      }
      pair.held = pair.held.subarray(7 + size + 1);
    }
  };

  const hold = (pair: Pair) => {
    pair.client.unpipe(pair.upstream);
    pair.upstream.unpipe(pair.client);
    pair.client.on('data', (chunk: Buffer) => {
      pair.held = Buffer.concat([pair.held, chunk]);
      readFrames(pair);
    });
    // unpipe() left the client's side paused: keep reading it, into `held`.
    pair.client.resume();
    // The broker's side is simply no longer read: what it sends waits in the kernel.
    pair.upstream.pause();
  };

  const server = createServer((client) => {
    const upstream = tcpConnect(Number(target.port || 5672), target.hostname);
    const pair: Pair = { client, upstream, held: Buffer.alloc(0) };
    pairs.add(pair);
    const forget = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', forget).on('close', forget);
    upstream.on('error', forget).on('close', forget);
    if (frozen) {
      hold(pair);
      return;
    }
    client.pipe(upstream);
    upstream.pipe(client);
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
    freeze() {
      if (frozen) return;
      frozen = true;
      for (const pair of pairs) hold(pair);
    },
    cut,
    heldMethods: () => [...methods],
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
