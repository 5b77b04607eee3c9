import type { Socket } from 'node:net';
import * as amqp from 'amqplib';
import type { ConnectionSettings } from '../config/connection.js';
import { tlsSocketOptions } from '../config/tls.js';
import { explainAmqpError } from './explain.js';
import { batchWritesPerTurn } from './write-batching.js';

export type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Message } from 'amqplib';

/** How long to wait for TCP + AMQP handshake before calling the broker unreachable. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The one place qtool opens a connection. Every command goes through here, so reconnection,
 * TLS options and fail-over can later be added without touching the commands.
 *
 * `purpose` becomes the connection's name in the management UI (e.g. "qtool qprocessor w1"),
 * which helps a teacher tell thirty students' workers apart.
 */
export async function openConnection(
  settings: ConnectionSettings,
  purpose: string,
): Promise<amqp.ChannelModel> {
  const options: amqp.Options.Connect = {
    protocol: settings.protocol,
    hostname: settings.hostname,
    port: settings.port,
    username: settings.username,
    password: settings.password,
    // amqplib unescapes the vhost it is given, so hand it the escaped form: 'a%2Fb' -> 'a/b'.
    vhost: encodeURIComponent(settings.vhost),
  };
  if (settings.heartbeat !== undefined) options.heartbeat = settings.heartbeat;
  try {
    const model = await amqp.connect(options, {
      timeout: CONNECT_TIMEOUT_MS,
      // TCP_NODELAY: without it the handshake's last two small frames (tune-ok, then open) meet
      // Nagle's algorithm and the broker's delayed ACK, and every connection waits ~40 ms for
      // nothing. A turn's frames are gathered into one write instead (batchWritesPerTurn).
      noDelay: true,
      // The pid tells apart the panes of one student (and lets a test close exactly its own client).
      clientProperties: { connection_name: `qtool ${purpose} (pid ${process.pid})` },
      ...(settings.protocol === 'amqps' ? await tlsSocketOptions(settings) : {}),
    });
    batchWritesPerTurn((model.connection as unknown as { stream: Socket }).stream);
    return model;
  } catch (error) {
    throw explainAmqpError(error, settings);
  }
}

/** Seconds between heartbeats agreed with the broker (0: off). */
export function negotiatedHeartbeat(model: amqp.ChannelModel): number {
  return (model.connection as unknown as { heartbeat?: number }).heartbeat ?? 0;
}

/**
 * amqplib queues outgoing frames and writes them to the socket on the next event-loop turn
 * (setImmediate). Awaiting two turns lets acks sent so far reach the socket (before a deliberate
 * crash) and lets socket reads run (to notice a connection the broker dropped while we blocked).
 */
export async function letPendingIoRun(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
}
