import type { ConnectionSettings } from '../config/connection.js';
import { renderTable } from '../output/queue-table.js';
import { colorLevel, createStyle } from '../output/style.js';
import { type CommandIo, writeLine } from './io.js';
import { missingQueuesError, type SamplerOptions, withQueueSampler } from './queue-sampler.js';

export interface StatusOptions extends SamplerOptions {
  json: boolean;
}

/**
 * `qtool status [queue...]`: one table (or one JSON document) of each queue's figures, from the
 * connected broker's management API when it answers, else from AMQP passive declares. The source,
 * and why when it is AMQP alone, goes to stderr.
 */
export async function runStatus(
  settings: ConnectionSettings,
  options: StatusOptions,
  io: CommandIo,
): Promise<number> {
  return withQueueSampler(settings, options, 'status', async (sampler) => {
    const rows = await sampler.sample();
    // After the sample, so the line tells where these figures came from.
    writeLine(io.stderr, sampler.note);
    const missing = missingQueuesError(rows, settings.vhost);
    if (missing) throw missing;

    if (options.json) {
      writeLine(io.stdout, JSON.stringify({ source: sampler.source, vhost: settings.vhost, queues: rows }));
      return 0;
    }
    if (rows.length === 0) {
      writeLine(io.stderr, `no queues in vhost '${settings.vhost}'`);
      return 0;
    }
    const tty = Boolean(io.stdout.isTTY);
    const columns = (io.stdout as { columns?: number }).columns;
    const lines = renderTable(rows, {
      maxWidth: tty ? (columns ?? 80) : undefined,
      style: createStyle(colorLevel(io.env, tty)),
    });
    for (const line of lines) writeLine(io.stdout, line);
    return 0;
  });
}
