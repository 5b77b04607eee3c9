import { once } from 'node:events';
import net from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { batchWritesPerTurn } from '../../src/amqp/write-batching.js';

/** A loopback server that keeps what it reads, and a client socket connected to it with TCP_NODELAY. */
async function connectedPair(): Promise<{ client: net.Socket; received: () => Buffer; close: () => void }> {
  const chunks: Buffer[] = [];
  const server = net.createServer((peer) => peer.on('data', (chunk) => chunks.push(chunk)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  client.setNoDelay(true);
  return {
    client,
    received: () => Buffer.concat(chunks),
    close: () => {
      client.destroy();
      server.close();
    },
  };
}

/** Counts the socket's own writes to the kernel: one per _write, one per _writev (many chunks). */
function countKernelWrites(socket: net.Socket): { writes: number; chunksInWritev: number } {
  const counts = { writes: 0, chunksInWritev: 0 };
  const internals = socket as unknown as {
    _write: (...args: unknown[]) => void;
    _writev: (chunks: unknown[], ...rest: unknown[]) => void;
  };
  const write = internals._write.bind(socket);
  const writev = internals._writev.bind(socket);
  internals._write = (...args) => {
    counts.writes += 1;
    write(...args);
  };
  internals._writev = (chunks, ...rest) => {
    counts.writes += 1;
    counts.chunksInWritev += chunks.length;
    writev(chunks, ...rest);
  };
  return counts;
}

let close = () => {};
afterEach(() => close());

it('the writes of one turn reach the kernel as one writev, in order', async () => {
  const pair = await connectedPair();
  close = pair.close;
  batchWritesPerTurn(pair.client);
  const counts = countKernelWrites(pair.client);
  const frames = Array.from({ length: 100 }, (_, index) => Buffer.from(`frame ${index};`));
  for (const frame of frames) pair.client.write(frame);
  await new Promise((resolve) => setImmediate(resolve));
  expect(counts).toEqual({ writes: 1, chunksInWritev: 100 });

  const expected = Buffer.concat(frames);
  const deadline = Date.now() + 5_000;
  while (pair.received().length < expected.length && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  expect(pair.received().toString()).toBe(expected.toString());
});

it('each turn is flushed on its own: nothing waits for a later write', async () => {
  const pair = await connectedPair();
  close = pair.close;
  batchWritesPerTurn(pair.client);
  pair.client.write('first');
  await new Promise((resolve) => setImmediate(resolve));
  const deadline = Date.now() + 5_000;
  while (pair.received().length < 5 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  expect(pair.received().toString()).toBe('first');
});

it('keeps back-pressure: a turn that writes past the high-water mark is told to wait for drain', async () => {
  const pair = await connectedPair();
  close = pair.close;
  batchWritesPerTurn(pair.client);
  const big = Buffer.alloc(pair.client.writableHighWaterMark + 1);
  expect(pair.client.write(Buffer.from('small'))).toBe(true);
  expect(pair.client.write(big)).toBe(false);
  await once(pair.client, 'drain');
});

it('what a turn writes before end() still goes out: end uncorks', async () => {
  const pair = await connectedPair();
  close = pair.close;
  batchWritesPerTurn(pair.client);
  pair.client.write('last words');
  pair.client.end();
  await once(pair.client, 'finish');
  const deadline = Date.now() + 5_000;
  while (pair.received().length < 10 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  expect(pair.received().toString()).toBe('last words');
});
