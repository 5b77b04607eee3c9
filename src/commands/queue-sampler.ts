import { explainAmqpError } from '../amqp/explain.js';
import { Link, type ReconnectOptions } from '../amqp/link.js';
import { probeQueues, type QueueProbeResult } from '../amqp/queue-probe.js';
import { announcedClusterName } from '../amqp/server-identity.js';
import type { Session } from '../amqp/session.js';
import type { ConnectionSettings } from '../config/connection.js';
import { tlsSocketOptions } from '../config/tls.js';
import { QtoolError } from '../errors.js';
import { type ManagementQueue, managementTarget } from '../management/client.js';
import { clockTime, plural } from '../output/format.js';
import type { QueueFigures } from '../output/queue-table.js';
import { ManagementLink, type Notice } from './management-link.js';
import { lostLine, restoredLine } from './with-link.js';

/** Which queues to show and where to ask; shared by `status` and `watch`. */
export interface SamplerOptions {
  /** Queue names; none means every queue in the vhost (or the --queue queue over AMQP alone). */
  queues: string[];
  /** False with --no-management: AMQP alone, without trying the HTTP API. */
  management: boolean;
  managementUrl: string | undefined;
  /** The management port without --management-url: 15672, or that of the broker qtool started. */
  defaultManagementPort?: number | undefined;
  /**
   * How the AMQP connection comes back when it is lost (`watch`). Absent: a lost connection is
   * final, as for the one-shot `status`.
   */
  reconnect?: ReconnectOptions | undefined;
}

/** Where a sample came from; 'none' while the broker is unreachable and reconnecting (every figure null). */
export type FigureSource = 'management' | 'amqp' | 'none';

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
const NO_RECONNECT: ReconnectOptions = { enabled: false, timeoutMs: undefined };

/**
 * Runs `work` with a sampler over an AMQP link kept for the whole run (closed afterwards, whatever
 * happens), and the management API beside it unless --no-management. With `options.reconnect`
 * enabled, a lost connection comes back in the background while sampling goes on.
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
  const link = await Link.open(settings, purpose, options.reconnect ?? NO_RECONNECT);
  let amqp: AmqpSide | null = null;
  try {
    const management =
      target === null
        ? null
        : await ManagementLink.open(target, settings.vhost, announcedClusterName(link.session.model));
    const notices: string[] = [];
    amqp = new AmqpSide(
      link,
      options.reconnect?.enabled === true,
      () => management?.inUse === true,
      (line) => notices.push(line),
    );
    return await work(new Sampler(settings, options, amqp, management, notices));
  } catch (error) {
    if (error instanceof QtoolError) throw error;
    const session = link.session;
    throw session.isLost() ? await session.lost : explainAmqpError(error, settings);
  } finally {
    await (amqp === null ? link.close() : amqp.close());
  }
}

/** Lost, and reconnecting in the background; `attempts` failed so far. */
type DownState = { kind: 'down'; since: Date; error: QtoolError; attempts: number };

/** The state of the sampler's AMQP side. */
type AmqpState =
  | { kind: 'up'; session: Session }
  | DownState
  /** Lost for good: --no-reconnect, --reconnect-timeout passed, or a permanent failure. */
  | { kind: 'gone'; error: QtoolError };

/**
 * The sampler's AMQP connection through a Link. When it is lost, it reconnects in the background
 * at once (not at the next sample, so a quick comeback is not held up by the interval), and says
 * so once when it goes and once when it is back.
 */
class AmqpSide {
  state: AmqpState;
  /** When the latest reconnection succeeded, for the screen's note. */
  reconnectedAt: Date | null = null;
  private restoring: Promise<void> | null = null;
  private closing = false;
  /** Ends a reconnection in progress when the run ends. */
  private readonly ending = new AbortController();

  constructor(
    private readonly link: Link,
    private readonly reconnect: boolean,
    /** Whether the management API is the source now, so it carries on alone meanwhile. */
    private readonly managementInUse: () => boolean,
    private readonly notice: Notice,
  ) {
    this.state = this.follow(link.session);
  }

  /**
   * The state once a loss the connection already knows of is taken in: the `lost` reaction
   * registered in follow() runs before any later awaiter of the same promise.
   */
  async settled(): Promise<AmqpState> {
    if (this.state.kind === 'up' && this.state.session.isLost()) await this.state.session.lost;
    return this.state;
  }

  /** Ends the run's AMQP side: stops reconnecting, then closes whichever connection is current. */
  async close(): Promise<void> {
    this.closing = true;
    this.ending.abort();
    // A connection being opened right now must be the one closed, not left open behind us.
    await this.restoring;
    await this.link.close();
  }

  private follow(session: Session): AmqpState {
    void session.lost.then((error) => this.onLost(session, error));
    return { kind: 'up', session };
  }

  private onLost(session: Session, error: QtoolError): void {
    if (this.closing || this.state.kind !== 'up' || this.state.session !== session) return;
    if (!this.reconnect) {
      // As without reconnecting: the sample that meets the loss tells it, in its own words.
      this.state = { kind: 'gone', error };
      return;
    }
    const down: DownState = { kind: 'down', since: new Date(), error, attempts: 0 };
    this.state = down;
    const meanwhile = this.managementInUse()
      ? 'Until then, figures come from the management API alone while it answers, up to 5 s old.'
      : 'Until then the broker is unreachable: no figures.';
    this.notice(`${clockTime(down.since)} ${lostLine(error, 'connection')} ${meanwhile}`);
    this.restoring = this.link
      .restore(
        {
          onRetry: (_failure, attempt) => {
            down.attempts = attempt;
          },
        },
        this.ending.signal,
      )
      .then(
        (restored) => {
          if (restored === null) return;
          this.reconnectedAt = new Date();
          this.notice(
            `${clockTime(this.reconnectedAt)} the broker is back: ${restoredLine(restored, this.link)}; live AMQP figures again`,
          );
          this.state = this.follow(restored.session);
        },
        (failure: unknown) => {
          // Given up: from here as without reconnecting, told by the sample that meets it.
          const final = failure instanceof QtoolError ? failure : explainAmqpError(failure, session.settings);
          this.state = { kind: 'gone', error: final };
        },
      );
  }
}

class Sampler implements QueueSampler {
  source: FigureSource;
  liveReady: boolean;
  /** The loss of AMQP without reconnecting was told (a notice, once). */
  private toldGone = false;
  /** Why the latest API sample has no live AMQP counts. */
  private liveProblem: string | null = null;
  /** The names of the API's latest listing of every queue: what AMQP watches once the API is gone. */
  private lastListed: string[] | null = null;

  constructor(
    private readonly settings: ConnectionSettings,
    private readonly options: SamplerOptions,
    private readonly amqp: AmqpSide,
    private readonly link: ManagementLink | null,
    /** Filled by the AMQP side too, whenever its connection goes or comes back: emptied in place. */
    private readonly notices: string[],
  ) {
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
    if (this.source === 'none') return `source: none: ${this.unreachable()}`;
    return `source: ${AMQP_ONLY}: ${link?.reason ?? '--no-management'}${this.coverage()}`;
  }

  get shortNote(): string {
    const link = this.link;
    const back =
      this.amqp.reconnectedAt === null ? '' : `; reconnected at ${clockTime(this.amqp.reconnectedAt)}`;
    if (this.source === 'management' && link !== null) {
      const doubt = link.doubt === null ? '' : ", may be another broker's";
      return this.liveReady
        ? `management API (unacked, total, rates lag up to 5 s${doubt}) + live AMQP${back}`
        : `management API (figures lag up to 5 s${doubt})${this.amqpDown() ?? back}`;
    }
    if (this.source === 'none') return this.unreachable();
    return `AMQP only (no unacked, total or rates): ${link === null ? '--no-management' : link.briefReason}${back}`;
  }

  takeNotices(): string[] {
    return this.notices.splice(0);
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
    if (names.length > MAX_LIVE_QUEUES) {
      this.liveProblem = `no live AMQP counts for more than ${MAX_LIVE_QUEUES} queues`;
      return null;
    }
    let failure: unknown = null;
    const before = await this.amqp.settled();
    if (before.kind === 'up') {
      try {
        return await probeQueues(before.session.model, names);
      } catch (error) {
        failure = error;
      }
    }
    const state = await this.amqp.settled();
    if (state.kind === 'up') {
      this.liveProblem = `no live AMQP counts (${explainAmqpError(failure, this.settings).message})`;
    } else if (state.kind === 'down') {
      this.liveProblem = `the AMQP connection for live counts was lost at ${clockTime(state.since)}; reconnecting`;
    } else {
      this.liveProblem = 'the AMQP connection for live counts was lost';
      if (!this.toldGone) {
        this.toldGone = true;
        this.notices.push(
          `${state.error.message}: ready and consumers now come from the management API, up to 5 s old`,
        );
      }
    }
    return null;
  }

  /** Ready and consumers by passive declare; all AMQP can tell. */
  private async sampleAmqp(): Promise<QueueFigures[]> {
    this.source = 'amqp';
    this.liveReady = true;
    const names = this.amqpQueueNames();
    const before = await this.amqp.settled();
    // Neither source is left.
    if (before.kind === 'gone') throw before.error;
    let probes: QueueProbeResult[] | null = null;
    if (before.kind === 'up') {
      try {
        probes = await probeQueues(before.session.model, names);
      } catch (error) {
        const state = await this.amqp.settled();
        if (state.kind === 'up') throw explainAmqpError(error, this.settings);
        if (state.kind === 'gone') throw state.error;
      }
    }
    if (probes === null) {
      // Reconnecting, and no other source: every figure unknown, for as long as it takes.
      this.source = 'none';
      return names.map(unknownFigures);
    }
    const rows = names.map((name, index) => fromProbe(name, probes[index]));
    // In place of the API's listing, a queue deleted since is no longer there, not missing.
    return this.options.queues.length === 0 && this.lastListed !== null
      ? rows.filter((row) => !row.gone)
      : rows;
  }

  /** While AMQP reconnects but the API answers: `; AMQP lost at ..., reconnecting`; else null. */
  private amqpDown(): string | null {
    const state = this.amqp.state;
    return state.kind === 'down' ? `; AMQP lost at ${clockTime(state.since)}, reconnecting` : null;
  }

  /** What the screen and stderr say while AMQP reconnects and nothing else answers. */
  private unreachable(): string {
    const state = this.amqp.state;
    if (state.kind !== 'down') return 'the broker is unreachable';
    const tries = state.attempts === 0 ? '' : ` (${plural(state.attempts, 'attempt')} failed)`;
    return `the broker is unreachable since ${clockTime(state.since)}: reconnecting${tries}`;
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
