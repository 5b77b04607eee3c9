import type { Command } from 'commander';
import type { ReconnectOptions } from '../amqp/link.js';
import { positiveSeconds } from './parsers.js';

/**
 * --no-reconnect and --reconnect-timeout, described once for every command that rides through a
 * lost connection (send, receive, qprocessor, watch).
 */
export function addReconnectOptions(command: Command): Command {
  return command
    .option('--no-reconnect', 'exit 1 when the connection is lost, instead of reconnecting')
    .option(
      '--reconnect-timeout <seconds>',
      'give up (exit 1) when the broker has not come back within this long (default: keep trying)',
      positiveSeconds,
    );
}

export function reconnectOptions(options: {
  reconnect?: boolean;
  reconnectTimeout?: number;
}): ReconnectOptions {
  return {
    enabled: options.reconnect !== false,
    timeoutMs: options.reconnectTimeout === undefined ? undefined : options.reconnectTimeout * 1000,
  };
}
