import type { Command } from 'commander';
import { recordedManagementPort } from '../../broker/broker-state.js';
import type { SamplerOptions } from '../../commands/queue-sampler.js';
import { type ConnectionSettings, parseQueueName } from '../../config/connection.js';
import type { CliContext } from '../context.js';
import { positiveInteger, positiveSeconds } from '../parsers.js';
import { addReconnectOptions, reconnectOptions } from '../reconnect-options.js';

/** status and watch: how full the queues are, once or continuously. */
export function registerMonitoringCommands(program: Command, { io, result, connection }: CliContext): void {
  addSourceOptions(
    program
      .command('status')
      .description(
        'ready, unacked and total messages, consumers and rates per queue (every queue when none is named)',
      )
      .argument('[queue...]', 'queues to show (default: every queue, or --queue without the management API)')
      .option('--json', 'one JSON document: {"source", "vhost", "queues": [...]}, null where unknown', false),
  ).action(async (queues: string[], options, command: Command) => {
    const settings = await connection(command);
    const { runStatus } = await import('../../commands/status.js');
    result.exitCode = await runStatus(
      settings,
      { ...(await samplerOptions(queues, options, settings, io.env)), json: options.json },
      io,
    );
  });

  addReconnectOptions(
    addSourceOptions(
      program
        .command('watch')
        .description("status refreshed in place, with a sparkline of each queue's depth; q or Ctrl-C quits")
        .argument(
          '[queue...]',
          'queues to watch (default: every queue, or --queue without the management API)',
        )
        .option('--interval <seconds>', 'seconds between samples', positiveSeconds, 1)
        .option('--count <n>', 'take n samples, then exit', positiveInteger)
        .option('--json', 'one JSON document per sample and line, as status --json', false),
    ),
  ).action(async (queues: string[], options, command: Command) => {
    const settings = await connection(command);
    const { runWatch } = await import('../../commands/watch.js');
    result.exitCode = await runWatch(
      settings,
      {
        ...(await samplerOptions(queues, options, settings, io.env)),
        intervalSeconds: options.interval,
        count: options.count,
        json: options.json,
        reconnect: reconnectOptions(options),
      },
      io,
    );
  });
}

function addSourceOptions(command: Command): Command {
  return command
    .option(
      '--management-url <url>',
      'management HTTP API (default: the broker host, https on 15671 with TLS, else http on 15672 or the port `qtool broker start` chose; same user, password and TLS settings)',
    )
    .option('--no-management', 'AMQP only: do not ask the management API (no unacked figures or rates)');
}

async function samplerOptions(
  queues: string[],
  options: { management: boolean; managementUrl?: string },
  settings: ConnectionSettings,
  env: Readonly<Record<string, string | undefined>>,
): Promise<SamplerOptions> {
  const recorded =
    options.managementUrl === undefined && options.management
      ? await recordedManagementPort(env, settings.hostname, settings.port)
      : null;
  return {
    queues: queues.map((queue) => parseQueueName(queue, 'queue name')),
    management: options.management,
    managementUrl: options.managementUrl,
    defaultManagementPort: recorded ?? undefined,
  };
}
