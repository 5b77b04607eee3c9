import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBrokerState } from '../../src/broker/broker-state.js';
import { attachLocalNode } from '../../src/broker/local-node.js';
import { testBroker, uniqueName } from '../support/broker.js';
import { runCli, startCli } from '../support/cli.js';
import { closedPort } from '../support/ports.js';

/** Numeric options at their limits, through the built CLI against the test broker. */
const broker = testBroker();
const env = { AMQP_URL: broker.amqpUrl };

describe('seconds options stop at the longest wait a timer can take', () => {
  it('refuses --idle-timeout 2147484 (it overflowed setTimeout and exited at once) with exit 2', async () => {
    const queue = uniqueName('idle-too-long');
    const result = await runCli(['receive', '--queue', queue, '--idle-timeout', '2147484'], { env });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain(
      "error: option '--idle-timeout <seconds>' argument '2147484' is invalid. expected a number of seconds " +
        'greater than 0, at most 2147483.647 (about 24.9 days, the longest a timer can wait).',
    );
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe('');
  });

  it('waits for a message with --idle-timeout 2147483.647, the longest it takes', async () => {
    const queue = uniqueName('idle-longest');
    const receive = startCli(['receive', '--queue', queue, '--idle-timeout', '2147483.647', '--count', '1'], {
      env,
    });
    try {
      await receive.waitFor(/Waiting for messages/, { stream: 'stderr' });
      // An idle timer that had overflowed would have ended receive long before this message.
      expect((await runCli(['send', '--queue', queue, 'still-here'], { env })).exitCode).toBe(0);
      const result = await receive.finished(20_000);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toBe('still-here\n');
      expect(result.stderr).not.toContain('No message for');
    } finally {
      receive.signal('SIGKILL');
    }
  });

  it('refuses --interval and --delay-per-char past it too, naming the maximum', async () => {
    for (const args of [
      ['watch', '--interval', '1e7'],
      ['qprocessor', '--delay-per-char', '2147483.648'],
      ['lab', '--delay-per-char', '99999999'],
    ]) {
      const result = await runCli(args, { env });
      expect(result.exitCode, args.join(' ')).toBe(2);
      expect(result.stderr).toContain('2147483.647 (about 24.9 days');
    }
  });
});

describe('declare takes the largest --max-length and --message-ttl it offers', () => {
  it('and RabbitMQ accepts them', async () => {
    const queue = uniqueName('limits');
    const largest = ['--max-length', '9007199254740991', '--message-ttl', '4294967295'];
    const result = await runCli(['declare', '--queue', queue, '--durable', ...largest], { env });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('max-length 9007199254740991, message-ttl 4294967295 ms');
    await runCli(['delete', '--queue', queue, '--force'], { env });
  });

  it('and refuses one past each with exit 2', async () => {
    for (const [option, value] of [
      ['--max-length', '9007199254740992'],
      ['--message-ttl', '4294967296'],
      ['--message-ttl', '0x10'],
    ] as const) {
      const result = await runCli(['declare', '--queue', uniqueName('limits'), option, value], { env });
      expect(result.exitCode, `${option} ${value}`).toBe(2);
      expect(result.stderr).toContain(`argument '${value}' is invalid. expected a whole number`);
    }
  });
});

describe('broker start --management-port', () => {
  it('refuses the AMQP port itself with exit 2, starting nothing', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'qtool-limits-state-'));
    try {
      const port = String(await closedPort());
      const result = await runCli(['broker', 'start', '--port', port, '--management-port', port], {
        env: { QTOOL_STATE_DIR: stateDir },
        timeoutMs: 120_000,
      });
      expect(result.exitCode, result.stderr).toBe(2);
      expect(result.stderr).toContain(`qtool: --management-port ${port} is the AMQP port too`);
      expect(result.stderr).not.toContain('starting RabbitMQ node');
    } finally {
      // Should a broken build start a node after all, stop it as `broker stop` would.
      const state = await readBrokerState(join(stateDir, 'broker.json')).catch(() => null);
      if (state?.kind === 'local') await attachLocalNode(state).stop();
      await rm(stateDir, { recursive: true, force: true });
    }
  }, 150_000);
});
