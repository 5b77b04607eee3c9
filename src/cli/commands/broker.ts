import type { Command } from 'commander';
import { parsePort } from '../../config/connection.js';
import type { CliContext } from '../context.js';

/** broker start|stop|status: a local RabbitMQ for people who have none. */
export function registerBrokerCommands(program: Command, { io, result }: CliContext): void {
  const broker = program
    .command('broker')
    .description('start, stop or check a local RabbitMQ node for the lab (management plugin on)');

  broker
    .command('start')
    .description(
      'start a RabbitMQ node on localhost (--port, default 5672) that runs until `qtool broker stop`; ' +
        'from rabbitmq-server, else docker compose. Exit 0 when a broker answers there, also one that already did',
    )
    .option('--port <n>', 'AMQP port to start on (default 5672)')
    .option('--management-port <n>', 'port of the management UI (default 15672, or a free one if taken)')
    .action(async (options: { managementPort?: string }, command: Command) => {
      // --port is the program's connection option; here it chooses the port to start on.
      const { port } = command.optsWithGlobals() as { port?: string };
      const { runBrokerStart } = await import('../../commands/broker.js');
      result.exitCode = await runBrokerStart(
        {
          port: port === undefined ? undefined : parsePort(port, '--port'),
          managementPort:
            options.managementPort === undefined
              ? undefined
              : parsePort(options.managementPort, '--management-port'),
        },
        io,
      );
    });

  broker
    .command('stop')
    .description('stop the broker `qtool broker start` started and remove its data (never any other)')
    .action(async () => {
      const { runBrokerStop } = await import('../../commands/broker.js');
      result.exitCode = await runBrokerStop(io);
    });

  broker
    .command('restart')
    .description(
      'restart the broker `qtool broker start` started, keeping its data (durable queues and persistent messages survive)',
    )
    .action(async () => {
      const { runBrokerRestart } = await import('../../commands/broker.js');
      result.exitCode = await runBrokerRestart(io);
    });

  broker
    .command('status')
    .description('whether the broker qtool started is running, and its URL (exit 0 if it runs, else 1)')
    .action(async () => {
      const { runBrokerStatus } = await import('../../commands/broker.js');
      result.exitCode = await runBrokerStatus(io);
    });
}
