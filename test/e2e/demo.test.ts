import { describe, expect, it } from 'vitest';
import { findRabbitmqServer, isPortAnswering } from '../../src/broker/local-node.js';
import { testBroker } from '../support/broker.js';
import { runCli } from '../support/cli.js';
import { testNodeRoot } from '../support/nodes.js';
import { closedPort } from '../support/ports.js';

const broker = testBroker();

/** Both workers print a tally; together they processed all six demo messages. */
function expectBothWorkersShared(stderr: string): void {
  const processed = [...stderr.matchAll(/(alice|bob) stopped: \d+ messages? received, (\d+) processed/g)];
  expect(processed.map((m) => m[1]).sort()).toEqual(['alice', 'bob']);
  expect(processed.reduce((sum, m) => sum + Number(m[2]), 0)).toBe(6);
}

describe('qtool demo', () => {
  it('runs a sender and two workers on the broker that answers', async () => {
    const result = await runCli(['demo'], { env: { AMQP_URL: broker.amqpUrl }, timeoutMs: 90_000 });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/sent 6 messages/);
    expect(result.stderr).not.toMatch(/throwaway/);
    expectBothWorkersShared(result.stderr);
    expect(result.stdout).toMatch(/alice processed/);
    expect(result.stdout).toMatch(/bob processed/);
  }, 100_000);

  // The demo's own node always comes from the host's rabbitmq-server: not again in e2e-4.0.
  it.skipIf(findRabbitmqServer() === null || testNodeRoot() !== null)(
    'starts a throwaway local node when no broker answers, says so, and stops it',
    async () => {
      const port = await closedPort();
      const result = await runCli(['demo', '--host', '127.0.0.1', '--port', String(port)], {
        timeoutMs: 150_000,
      });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toContain(
        `No broker answers at 127.0.0.1:${port}: starting a throwaway local RabbitMQ node`,
      );
      expectBothWorkersShared(result.stderr);
      expect(result.stderr).toMatch(/Stopping the throwaway node \S+\.\.\./);
      const started = /Started \S+ on port (\d+)/.exec(result.stderr)?.[1];
      expect(await isPortAnswering('127.0.0.1', Number(started), 1000)).toBe(false);
    },
    160_000,
  );
});
