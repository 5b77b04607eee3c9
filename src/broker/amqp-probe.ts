import { connect } from 'node:net';

/** AMQP 0-9-1's protocol header: what a client sends first. */
const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);
const METHOD_FRAME = 1;

/**
 * What listens on host:port: `amqp` when it answers the AMQP protocol header (with connection.start,
 * or with its own header for another version), `other` when something else accepts the connection,
 * `none` when nothing does. Raw TCP, so no AMQP connection is opened and no credentials are needed.
 */
export function probeAmqp(host: string, port: number, timeoutMs = 3000): Promise<'amqp' | 'other' | 'none'> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let connected = false;
    let settled = false;
    const finish = (answer: 'amqp' | 'other' | 'none') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => finish(connected ? 'other' : 'none'), timeoutMs);
    socket.once('connect', () => {
      connected = true;
      socket.write(PROTOCOL_HEADER);
    });
    socket.once('data', (chunk: Buffer) => {
      const amqp = chunk[0] === METHOD_FRAME || chunk.subarray(0, 4).toString('latin1') === 'AMQP';
      finish(amqp ? 'amqp' : 'other');
    });
    socket.once('error', () => finish(connected ? 'other' : 'none'));
    socket.once('close', () => finish(connected ? 'other' : 'none'));
  });
}
