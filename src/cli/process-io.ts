import type { CommandIo } from '../commands/io.js';

/**
 * The real process as a CommandIo. Interrupts are counted here: the first Ctrl-C or SIGTERM asks
 * the running command to stop cleanly; a command decides what the second one does.
 */
export function processIo(): CommandIo {
  const handlers = new Set<(count: number) => void>();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts += 1;
    if (handlers.size === 0) process.exit(signal === 'SIGINT' ? 130 : 143);
    for (const handler of handlers) handler(interrupts);
  };
  let installed = false;

  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    onInterrupt(handler) {
      if (!installed) {
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        installed = true;
      }
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    exitNow(code): never {
      process.exit(code);
    },
  };
}
