import type { Socket } from 'node:net';

/**
 * Makes the frames written to `socket` in one event-loop turn leave in one writev.
 *
 * amqplib writes each message's frames to the socket with a write of their own, and with
 * TCP_NODELAY (which qtool sets, see openConnection) each write is then a syscall and a packet:
 * a bulk send spent most of its CPU time in them. Corking the socket at a turn's first write and
 * uncorking it on the next tick hands the kernel the whole turn at once, so no write waits for a
 * timer and no packet goes out smaller than the turn made it. The socket's back-pressure is kept:
 * a corked write still returns false past the high-water mark, and amqplib waits for 'drain'.
 */
export function batchWritesPerTurn(socket: Socket): void {
  const write = socket.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = function batchedWrite(this: Socket, ...args: Parameters<Socket['write']>) {
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  } as Socket['write'];
}
