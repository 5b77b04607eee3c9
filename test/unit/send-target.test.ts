import { describe, expect, it } from 'vitest';
import { resolveSendTarget } from '../../src/commands/send-target.js';
import { UsageError } from '../../src/errors.js';

/** The UsageError resolveSendTarget throws, for its message. */
function refusal(exchange: string | undefined, routingKey: string | undefined, queue = 'hello'): UsageError {
  try {
    resolveSendTarget(exchange, routingKey, queue);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error('expected a UsageError');
}

describe('resolveSendTarget', () => {
  it('routes by queue name through the default exchange, and by the key through a named one', () => {
    expect(resolveSendTarget(undefined, undefined, 'hello')).toEqual({
      exchange: '',
      routingKey: 'hello',
      destination: "queue 'hello'",
    });
    expect(resolveSendTarget('logs', 'info', 'hello')).toEqual({
      exchange: 'logs',
      routingKey: 'info',
      destination: "exchange 'logs' (routing key 'info')",
    });
    // The default exchange named explicitly is still the default exchange.
    expect(resolveSendTarget('', 'jobs', 'hello').destination).toBe("queue 'jobs'");
  });

  it('refuses an empty routing key through the default exchange, with exit code 2', () => {
    for (const exchange of [undefined, '']) {
      const error = refusal(exchange, '');
      expect(error.exitCode).toBe(2);
      expect(error.message).toMatch(/--routing-key is empty/);
      expect(error.hint).toMatch(/Leave out --routing-key to send to the queue 'hello'/);
    }
  });

  it('accepts an empty routing key with a named exchange', () => {
    expect(resolveSendTarget('amq.fanout', '', 'hello').routingKey).toBe('');
  });

  it("counts AMQP's 255-byte limit in bytes and names the option that gave the value", () => {
    expect(resolveSendTarget('e'.repeat(255), 'k'.repeat(255), 'hello').exchange).toHaveLength(255);
    expect(refusal('e'.repeat(256), undefined).message).toBe(
      '--exchange is 256 bytes long, but AMQP allows at most 255 bytes for an exchange name',
    );
    expect(refusal('ü'.repeat(128), undefined).message).toMatch(/--exchange is 256 bytes long/);
    expect(refusal('amq.direct', 'k'.repeat(256)).message).toMatch(
      /--routing-key is 256 bytes long, .* for a routing key/,
    );
    expect(refusal(undefined, 'q'.repeat(256)).message).toMatch(/--routing-key .* for a queue name/);
    expect(refusal(undefined, undefined, 'q'.repeat(256)).message).toMatch(/^--queue is 256 bytes long/);
  });

  it('refuses control characters in exchange names, showing them escaped', () => {
    for (const name of ['a\nb', 'tab\t', '\u0000', 'del\u007f', 'c1\u0085']) {
      const error = refusal(name, 'k');
      expect(error.exitCode).toBe(2);
      expect(error.message).toContain(`--exchange ${JSON.stringify(name)} contains a control character`);
    }
    expect(resolveSendTarget('orders.é-ü_1:x', 'k', 'hello').exchange).toBe('orders.é-ü_1:x');
  });
});
