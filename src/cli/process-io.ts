import type { CommandIo } from '../commands/io.js';

/**
 * The real process as a CommandIo. Interrupts are counted here: the first Ctrl-C or SIGTERM asks
 * the running command to stop cleanly; a command decides what the second one does. SIGHUP does
 * the same only for the commands that ask for it; for the others it ends the process as before.
 */
export function processIo(): CommandIo {
  const handlers = new Set<(count: number) => void>();
  /** The handlers that asked for SIGHUP too (a job worker: its jobs must not outlive a closed terminal). */
  const hangupHandlers = new Set<(count: number) => void>();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts += 1;
    const called = signal === 'SIGHUP' ? hangupHandlers : handlers;
    if (called.size === 0) process.exit(signal === 'SIGINT' ? 130 : signal === 'SIGHUP' ? 129 : 143);
    for (const handler of called) handler(interrupts);
  };
  let installed = false;
  let hangupInstalled = false;

  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    onInterrupt(handler, options) {
      if (!installed) {
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        installed = true;
      }
      handlers.add(handler);
      if (options?.hangup === true) {
        if (!hangupInstalled) {
          process.on('SIGHUP', onSignal);
          hangupInstalled = true;
        }
        hangupHandlers.add(handler);
      }
      return () => {
        handlers.delete(handler);
        hangupHandlers.delete(handler);
      };
    },
    exitNow(code): never {
      process.exit(code);
    },
  };
}
