import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { queueState } from '../support/amqp.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { childEnv, QTOOL_BIN, runCli } from '../support/cli.js';

const broker = testBroker();
const env = { AMQP_URL: broker.amqpUrl };
const run = promisify(execFile);

/** Runs qtool under `script`, so its stderr is a real terminal (a pseudo-TTY). */
async function inTerminal(args: string[]): Promise<string> {
  const command = [process.execPath, QTOOL_BIN, ...args].map((word) => `'${word}'`).join(' ');
  const { stdout } = await run('script', ['-qec', command, '/dev/null'], {
    env: childEnv({ ...env, TERM: 'xterm' }),
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

describe('send progress', () => {
  it('draws a bar with rate and ETA on a terminal', async () => {
    const queue = uniqueName('progress');
    const output = await inTerminal(['send', '--queue', queue, '--count', '60000', 'hello']);
    expect(output).toMatch(/sending \[[█░]+\] +\d+% \| [\d,]+ messages \| [\d,.]+ msg\/s \| ETA/);
    expect(output).toMatch(/sent 60,000 messages/);
    expect((await queueState(broker.amqpUrl, queue))?.messageCount).toBe(60000);
  });

  it('stays silent with --quiet on a terminal, and when stderr is not a terminal', async () => {
    const queue = uniqueName('quiet');
    const quiet = await inTerminal(['send', '--queue', queue, '--count', '20000', '--quiet', 'x']);
    expect(quiet).not.toMatch(/sending/);
    const piped = await runCli(['send', '--queue', queue, '--count', '20000', 'x'], { env });
    expect(piped.stderr).not.toMatch(/sending \[/);
    expect(piped.stderr).toMatch(/^sent 20,000 messages/);
  });
});
