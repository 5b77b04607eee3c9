import { explainAmqpError } from '../amqp/explain.js';
import { probeQueues, type QueueProbeResult } from '../amqp/queue-probe.js';
import { announcedClusterName } from '../amqp/server-identity.js';
import { openSession, type Session } from '../amqp/session.js';
import type { ConnectionSettings } from '../config/connection.js';
import { tlsSocketOptions } from '../config/tls.js';
import { QtoolError } from '../errors.js';
import { type ManagementQueue, managementTarget } from '../management/client.js';
import type { QueueFigures } from '../output/queue-table.js';
import { ManagementLink } from './management-link.js';

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

/**
 * Takes samples of the queues' figures: from the management API while it answers and belongs to
 * the connected broker, else from AMQP alone. The source may change from one sample to the next.
 */
export interface QueueSampler {
  /** Where the latest sample came from (before the first: where the next one will). */
  readonly source: FigureSource;
  /** One line for stderr: the source of the latest sample and what it cannot tell. */
  readonly note: string;
  /** The same in a few words, for the `watch` screen. */
  readonly shortNote: string;
  /** Whether the latest sample's ready counts are live (AMQP), not the API's up to 5 s old. */
  readonly liveReady: boolean;
  /** Named queues that do not exist come back in place with `gone: true` and null figures. */
  sample(): Promise<QueueFigures[]>;
  /** Lines that say, once, how the source changed during the run (API lost, back, ...); then empty. */
  takeNotices(): string[];
}

/** Above this many queues, no live AMQP figures: one passive declare each per sample. */
const MAX_LIVE_QUEUES = 50;
const AMQP_ONLY = 'AMQP only (ready and consumers; no unacked, total or rates)';

/**
 * Runs `work` with a sampler over one AMQP connection kept open for the whole run (closed
 * afterwards, whatever happens), and the management API beside it unless --no-management.
 */
export async function withQueueSampler<T>(
  settings: ConnectionSettings,
  options: SamplerOptions,
  purpose: string,
  work: (sampler: QueueSampler) => Promise<T>,
): Promise<T> {
  // The management API follows the connection's TLS settings (its CA, its name to check).
  const tls = settings.protocol === 'amqps' ? await tlsSocketOptions(settings) : undefined;
  const target = options.management
    ? managementTarget(settings, options.managementUrl, options.defaultManagementPort, tls)
    : null;
  // AMQP first: whether the broker answers, the login is right and the vhost exists is the
  // broker's own answer (a missing vhost is an error), never the management API's opinion.
  const session = await openSession(settings, purpose);
  try {
    const link =
      target === null
        ? null
        : await ManagementLink.open(target, settings.vhost, announcedClusterName(session.model));
    return await work(new Sampler(settings, options, session, link));
  } catch (error) {
    if (error instanceof QtoolError) throw error;
    throw session.isLost() ? await session.lost : explainAmqpError(error, settings);
  } finally {
    await session.close();
  }
}

class Sampler implements QueueSampler {
  source: FigureSource;
  liveReady: boolean;
  /** The AMQP connection, or null once it was lost (the API goes on alone). */
  private session: Session | null;
  private lostAmqp: QtoolError | null = null;
  /** Why the latest API sample has no live AMQP counts. */
  private liveProblem: string | null = null;
  /** The names of the API's latest listing of every queue: what AMQP watches once the API is gone. */
  private lastListed: string[] | null = null;
  private notices: string[] = [];

  constructor(
    private readonly settings: ConnectionSettings,
    private readonly options: SamplerOptions,
    session: Session,
    private readonly link: ManagementLink | null,
  ) {
    this.session = session;
    this.source = link?.inUse ? 'management' : 'amqp';
    this.liveReady = true;
  }

  get note(): string {
    const link = this.link;
    if (this.source === 'management' && link !== null) {
      const doubt = link.doubt === null ? '' : `; ${link.doubt}`;
      return this.liveReady
        ? `source: management API at ${link.where} (unacked, total and rates lag up to 5 s; ready and consumers are live, over AMQP${doubt})`
        : `source: management API at ${link.where} (its figures lag the broker by up to 5 s${this.liveProblem === null ? '' : `; ${this.liveProblem}`}${doubt})`;
    }
    return `source: ${AMQP_ONLY}: ${link?.reason ?? '--no-management'}${this.coverage()}`;
  }

  get shortNote(): string {
    const link = this.link;
    if (this.source === 'management' && link !== null) {
      const doubt = link.doubt === null ? '' : ", may be another broker's";
      return this.liveReady
        ? `management API (unacked, total, rates lag up to 5 s${doubt}) + live AMQP`
        : `management API (figures lag up to 5 s${doubt})`;
    }
    return `AMQP only (no unacked, total or rates): ${link === null ? '--no-management' : link.briefReason}`;
  }

  takeNotices(): string[] {
    const notices = this.notices;
    this.notices = [];
    return notices;
  }

  async sample(): Promise<QueueFigures[]> {
    const listed = this.link === null ? null : await this.link.list((line) => this.notices.push(line));
    return listed === null ? this.sampleAmqp() : this.sampleManagement(listed);
  }

  /** The API's figures, with live ready and consumer counts over AMQP where it can give them. */
  private async sampleManagement(listed: ManagementQueue[]): Promise<QueueFigures[]> {
    this.source = 'management';
    const everyQueue = this.options.queues.length === 0;
    const rows = selectFromManagement(listed, this.options.queues);
    if (everyQueue) this.lastListed = rows.map((row) => row.name);
    const probes = await this.probeLive(rows.map((row) => row.name));
    this.liveReady = probes !== null;
    if (probes === null) return rows;
    const live = rows.map((row, index) => withLiveCounts(row, probes[index]));
    // Listed by the API, but AMQP finds no such queue: deleted since the API's sample.
    return everyQueue ? live.filter((row) => !row.gone) : live;
  }

  /** Passive declares, or null (and why) when there are none to be had this time. */
  private async probeLive(names: string[]): Promise<QueueProbeResult[] | null> {
    this.liveProblem = null;
    const session = this.session;
    if (session === null) {
      this.liveProblem = 'the AMQP connection for live counts was lost';
      return null;
    }
    if (names.length > MAX_LIVE_QUEUES) {
      this.liveProblem = `no live AMQP counts for more than ${MAX_LIVE_QUEUES} queues`;
      return null;
    }
    let failure: unknown = null;
    if (!session.isLost()) {
      try {
        return await probeQueues(session.model, names);
      } catch (error) {
        failure = error;
      }
    }
    if (session.isLost()) {
      const lost = await session.lost;
      this.session = null;
      this.lostAmqp = lost;
      this.liveProblem = 'the AMQP connection for live counts was lost';
      this.notices.push(
        `${lost.message}: ready and consumers now come from the management API, up to 5 s old`,
      );
    } else {
      this.liveProblem = `no live AMQP counts (${explainAmqpError(failure, this.settings).message})`;
    }
    return null;
  }

  /** Ready and consumers by passive declare; all AMQP can tell. */
  private async sampleAmqp(): Promise<QueueFigures[]> {
    this.source = 'amqp';
    this.liveReady = true;
    const session = this.session;
    if (session === null) {
      // Neither source is left.
      throw this.lostAmqp ?? new QtoolError('lost the connection to the broker');
    }
    const names = this.amqpQueueNames();
    let probes: QueueProbeResult[];
    try {
      probes = await probeQueues(session.model, names);
    } catch (error) {
      throw session.isLost() ? await session.lost : explainAmqpError(error, this.settings);
    }
    const rows = names.map((name, index) => fromProbe(name, probes[index]));
    // In place of the API's listing, a queue deleted since is no longer there, not missing.
    return this.options.queues.length === 0 && this.lastListed !== null
      ? rows.filter((row) => !row.gone)
      : rows;
  }

  /** The named queues; else those the API listed last; else the --queue queue. */
  private amqpQueueNames(): string[] {
    if (this.options.queues.length > 0) return this.options.queues;
    if (this.lastListed !== null) return this.lastListed.slice(0, MAX_LIVE_QUEUES);
    return [this.settings.queue];
  }

  /** What an AMQP-only sample covers when no queue was named. */
  private coverage(): string {
    if (this.options.queues.length > 0) return '';
    if (this.lastListed === null) {
      return `; listing every queue needs the management API too, so this is only '${this.settings.queue}' (--queue)`;
    }
    const count = this.lastListed.length;
    return count > MAX_LIVE_QUEUES
      ? `; only the first ${MAX_LIVE_QUEUES} of the ${count} queues the API listed last`
      : `; only the queues the API listed last`;
  }
}

/**
 * An API row with the live ready and consumer counts of a passive declare. The total stays the
 * API's: it and unacked come from one sample, while the live ready count plus an unacked count up
 * to 5 s old would be a figure that was never true. A queue AMQP does not find is gone; one the
 * API does not list yet is no longer missing.
 */
export function withLiveCounts(row: QueueFigures, probe: QueueProbeResult | undefined): QueueFigures {
  if (probe === undefined) return row;
  if (probe === null) return goneQueue(row.name);
  // Another connection's exclusive queue: it exists, but AMQP cannot tell its figures.
  if (probe === 'exclusive') return row.gone ? unknownFigures(row.name) : row;
  const { gone: _gone, ...known } = row;
  return { ...known, ready: probe.ready, consumers: probe.consumers };
}

function fromProbe(name: string, probe: QueueProbeResult | undefined): QueueFigures {
  if (probe === null || probe === undefined) return goneQueue(name);
  if (probe === 'exclusive') return unknownFigures(name);
  return { ...unknownFigures(name), ready: probe.ready, consumers: probe.consumers };
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
