import { probeQueues, type QueueProbe } from '../amqp/queue-probe.js';
import { openSession, type Session } from '../amqp/session.js';
import type { ConnectionSettings } from '../config/connection.js';
import { QtoolError } from '../errors.js';
import {
  displayManagementUrl,
  listQueues,
  type ManagementQueue,
  ManagementUnavailable,
  managementTarget,
} from '../management/client.js';
import type { QueueFigures } from '../output/queue-table.js';
import { withSession } from './with-session.js';

/** Which queues to show and where to ask; shared by `status` and `watch`. */
export interface SamplerOptions {
  /** Queue names; none means every queue in the vhost (or the --queue queue over AMQP alone). */
  queues: string[];
  /** False with --no-management: AMQP alone, without trying the HTTP API. */
  management: boolean;
  managementUrl: string | undefined;
  /** The management port without --management-url: 15672, or that of the broker qtool started. */
  defaultManagementPort?: number | undefined;
}

export type FigureSource = 'management' | 'amqp';

/** Takes samples of the queues' figures from whichever source answered first. */
export interface QueueSampler {
  readonly source: FigureSource;
  /** One line for stderr: the source used and what it cannot tell. */
  readonly note: string;
  /** The same in a few words, for the `watch` screen. */
  readonly shortNote: string;
  /** Named queues that do not exist come back in place with `gone: true` and null figures. */
  sample(): Promise<QueueFigures[]>;
}

const MISSING_WITHOUT_MANAGEMENT = 'no unacked, total or rates without the management plugin';

/**
 * Runs `work` with a sampler: the management HTTP API when it answers, else AMQP passive declares
 * on one connection kept open for the whole run (closed afterwards, whatever happens).
 */
export async function withQueueSampler<T>(
  settings: ConnectionSettings,
  options: SamplerOptions,
  purpose: string,
  work: (sampler: QueueSampler) => Promise<T>,
): Promise<T> {
  let unavailable = '--no-management';
  if (options.management) {
    const target = managementTarget(settings, options.managementUrl, options.defaultManagementPort);
    let pending: ManagementQueue[] | undefined;
    try {
      pending = await listQueues(target, settings.vhost);
    } catch (error) {
      if (!(error instanceof ManagementUnavailable)) throw error;
      unavailable = error.message;
    }
    if (pending !== undefined) {
      const where = displayManagementUrl(target);
      const live = await LiveCounts.open(settings, purpose);
      try {
        return await work({
          source: 'management',
          note: live.available
            ? `source: management API at ${where} (unacked and rates lag up to 5 s; ready and consumers are live, over AMQP)`
            : `source: management API at ${where} (its figures lag the broker by up to 5 s)`,
          shortNote: live.available
            ? 'management API (unacked, rates lag up to 5 s) + live AMQP'
            : 'management API (figures lag up to 5 s)',
          async sample() {
            // The probe's answer is the first sample: no need to ask twice.
            const listed = pending ?? (await listQueuesOrFail(target, settings.vhost));
            pending = undefined;
            return live.overlay(selectFromManagement(listed, options.queues));
          },
        });
      } finally {
        await live.close();
      }
    }
  }

  const names = options.queues.length > 0 ? options.queues : [settings.queue];
  const onlyOne =
    options.queues.length > 0
      ? ''
      : `; listing every queue needs it too, so this is only '${settings.queue}' (--queue)`;
  return withSession(settings, purpose, (session) =>
    work({
      source: 'amqp',
      note: `source: AMQP only (${unavailable}): ready and consumers from a passive declare; ${MISSING_WITHOUT_MANAGEMENT}${onlyOne}`,
      shortNote: `AMQP only: ${MISSING_WITHOUT_MANAGEMENT}`,
      async sample() {
        const probes = await probeQueues(session.model, names);
        return names.map((name, index) => {
          const probe = probes[index];
          if (!probe) return goneQueue(name);
          return {
            ...unknownFigures(name),
            ready: probe.ready,
            consumers: probe.consumers,
          };
        });
      },
    }),
  );
}

/** Above this many queues, the live AMQP figures are left out: one passive declare each per sample. */
const MAX_LIVE_QUEUES = 50;

/**
 * The management API's message counts come from samples aggregated every 5 seconds, too coarse to
 * see a lab's messages arrive and drain. Passive declares over AMQP give the current ready count and
 * consumers, so these replace the API's; unacked and rates stay the API's. Best effort: when AMQP
 * is not reachable or fails mid-run, the API's own figures are shown.
 */
class LiveCounts {
  private constructor(private session: Session | null) {}

  static async open(settings: ConnectionSettings, purpose: string): Promise<LiveCounts> {
    try {
      return new LiveCounts(await openSession(settings, purpose));
    } catch {
      return new LiveCounts(null);
    }
  }

  get available(): boolean {
    return this.session !== null;
  }

  async overlay(rows: QueueFigures[]): Promise<QueueFigures[]> {
    const session = this.session;
    if (session === null || rows.length > MAX_LIVE_QUEUES) return rows;
    let probes: Awaited<ReturnType<typeof probeQueues>>;
    try {
      probes = await probeQueues(
        session.model,
        rows.map((row) => row.name),
      );
    } catch {
      // The connection went (a broker restart, say): carry on with the API alone.
      this.session = null;
      await session.close();
      return rows;
    }
    return rows.map((row, index) => withLiveCounts(row, probes[index] ?? null));
  }

  async close(): Promise<void> {
    await this.session?.close();
  }
}

/** A row with the live ready and consumer counts; a queue the API does not list yet is no longer missing. */
export function withLiveCounts(row: QueueFigures, probe: QueueProbe | null): QueueFigures {
  if (probe === null) return row;
  const { gone: _gone, ...known } = row;
  return {
    ...known,
    ready: probe.ready,
    consumers: probe.consumers,
    total: row.unacked === null ? null : probe.ready + row.unacked,
  };
}

/** Once chosen, the management API must keep answering; a broker gone mid-watch ends the run. */
async function listQueuesOrFail(
  target: Parameters<typeof listQueues>[0],
  vhost: string,
): Promise<ManagementQueue[]> {
  try {
    return await listQueues(target, vhost);
  } catch (error) {
    if (!(error instanceof ManagementUnavailable)) throw error;
    throw new QtoolError(`lost the management API: ${error.message}`, {
      hint: 'Is the broker still running? Run the command again once it is back.',
    });
  }
}

/** The named queues in the order given, or every queue sorted by name. */
function selectFromManagement(listed: readonly ManagementQueue[], names: readonly string[]): QueueFigures[] {
  if (names.length === 0) {
    return [...listed].sort((a, b) => a.name.localeCompare(b.name)).map(fromManagement);
  }
  const byName = new Map(listed.map((queue) => [queue.name, queue]));
  return names.map((name) => {
    const queue = byName.get(name);
    return queue ? fromManagement(queue) : goneQueue(name);
  });
}

/** The management API's figures; absent message stats mean no traffic yet, so a rate of 0. */
export function fromManagement(queue: ManagementQueue): QueueFigures {
  const count = (value: number | undefined) => (typeof value === 'number' ? value : null);
  const rate = (details: { rate?: number } | undefined) =>
    typeof details?.rate === 'number' ? details.rate : 0;
  const stats = queue.message_stats;
  return {
    name: queue.name,
    ready: count(queue.messages_ready),
    unacked: count(queue.messages_unacknowledged),
    total: count(queue.messages),
    consumers: count(queue.consumers),
    publishRate: rate(stats?.publish_details),
    deliverRate: rate(stats?.deliver_get_details),
    ackRate: rate(stats?.ack_details),
    redeliverRate: rate(stats?.redeliver_details),
  };
}

/** A row with no figure known: what a source that cannot tell anything about the queue gives. */
export function unknownFigures(name: string): QueueFigures {
  return {
    name,
    ready: null,
    unacked: null,
    total: null,
    consumers: null,
    publishRate: null,
    deliverRate: null,
    ackRate: null,
    redeliverRate: null,
  };
}

function goneQueue(name: string): QueueFigures {
  return { ...unknownFigures(name), gone: true };
}

/** The error for named queues that do not exist. */
export function missingQueuesError(rows: readonly QueueFigures[], vhost: string): QtoolError | null {
  const missing = rows.filter((row) => row.gone).map((row) => `'${row.name}'`);
  if (missing.length === 0) return null;
  const subject =
    missing.length === 1 ? `queue ${missing[0]} does not` : `queues ${missing.join(', ')} do not`;
  return new QtoolError(`${subject} exist in vhost '${vhost}'`, {
    hint: 'Check the name and --vhost; any qtool send, receive or qprocessor declares a queue.',
  });
}
