import {
  displayManagementUrl,
  listQueues,
  type ManagementIdentity,
  type ManagementQueue,
  type ManagementTarget,
  ManagementUnavailable,
  readIdentity,
} from '../management/client.js';

/** After the API stopped answering mid-run, how long until it is asked again. */
export const MANAGEMENT_RETRY_MS = 15_000;

/** Whether the management API belongs to the broker of the AMQP connection. */
export type BrokerMatch = { same: true; doubt: string | null } | { same: false; why: string; brief: string };

/**
 * Compares the cluster name the broker announced over AMQP with the one the API reports. Two
 * brokers on one host (a second one on another port, when 5672 was taken) each have their own;
 * nodes of one cluster share it, and their API shows the same queues.
 */
export function matchBroker(
  amqpClusterName: string | null,
  api: ManagementIdentity,
  target: Pick<ManagementTarget, 'baseUrl' | 'explicit'>,
): BrokerMatch {
  const where = displayManagementUrl(target);
  if (amqpClusterName === null) {
    return {
      same: true,
      doubt: 'the broker did not announce its cluster name over AMQP: the figures may be from another broker',
    };
  }
  if (api.clusterName === null) {
    return {
      same: true,
      doubt: `the API did not say its cluster name: the figures may be from another broker than '${amqpClusterName}'`,
    };
  }
  if (api.clusterName === amqpClusterName) return { same: true, doubt: null };
  const theirs = api.node === null ? `'${api.clusterName}'` : `'${api.clusterName}', node '${api.node}'`;
  const fix = target.explicit
    ? 'check --management-url'
    : "pass --management-url with the API of the broker you connect to (its port is in that broker's config)";
  return {
    same: false,
    why: `the management API at ${where} belongs to another broker (${theirs}, not '${amqpClusterName}' of this connection); ${fix}`,
    brief: "management API is another broker's",
  };
}

/** A change of source mid-run, said once. */
export type Notice = (line: string) => void;

/**
 * The management API as a source of figures for one run: checked to be the connected broker's,
 * given up on (with a reason) when it fails, and asked again a while after it stopped answering
 * mid-run. It never throws: every failure is a reason to fall back to AMQP.
 */
export class ManagementLink {
  /** Full sentence, for stderr, when the API is not in use; null while it is. */
  private why: string | null = null;
  /** The same in a few words, for the watch screen. */
  private brief = '';
  /** When the API is in use but could not be shown to be the connected broker's. */
  private doubtText: string | null = null;
  /** The answer of the check at start or on a retry, used as the next sample. */
  private pending: ManagementQueue[] | null = null;
  /** When to ask again after a mid-run failure; null: never (it failed at start, or is another broker's). */
  private retryAt: number | null = null;

  private constructor(
    private readonly target: ManagementTarget,
    private readonly vhost: string,
    private readonly amqpClusterName: string | null,
  ) {}

  /** Checks the API once: does it answer, is it this broker's, may this user list the vhost. */
  static async open(
    target: ManagementTarget,
    vhost: string,
    amqpClusterName: string | null,
  ): Promise<ManagementLink> {
    const link = new ManagementLink(target, vhost, amqpClusterName);
    await link.connect();
    return link;
  }

  get where(): string {
    return displayManagementUrl(this.target);
  }

  /** True while the API is the source of figures. */
  get inUse(): boolean {
    return this.why === null;
  }

  /** Why the API is not used (a sentence), or null while it is. */
  get reason(): string | null {
    return this.why;
  }

  /** Why the API is not used, in a few words. */
  get briefReason(): string {
    return this.brief;
  }

  /** Why the API's figures may be another broker's, or null. */
  get doubt(): string | null {
    return this.doubtText;
  }

  /**
   * The vhost's queues, or null when the API is not in use (now or any more). A failure mid-run
   * and a comeback are told to `notice` once each.
   */
  async list(notice: Notice): Promise<ManagementQueue[] | null> {
    if (this.pending !== null) {
      const listed = this.pending;
      this.pending = null;
      return listed;
    }
    if (this.why === null) {
      try {
        return await listQueues(this.target, this.vhost);
      } catch (error) {
        this.fail(error);
        this.retryAt = Date.now() + MANAGEMENT_RETRY_MS;
        notice(`${this.why}: AMQP figures only (ready and consumers) until it answers again`);
        return null;
      }
    }
    if (this.retryAt === null || Date.now() < this.retryAt) return null;
    await this.connect();
    if (this.why === null) {
      notice(`the management API at ${this.where} answers again: unacked, total and rates are back`);
      return this.list(notice);
    }
    // Still failing: ask again later, silently. Another broker's API is never asked again.
    if (this.retryAt === null) notice(`${this.why}: AMQP figures only`);
    else this.retryAt = Date.now() + MANAGEMENT_RETRY_MS;
    return null;
  }

  /** Asks who the API is and for the first listing; sets why/brief on any failure. */
  private async connect(): Promise<void> {
    let identity: ManagementIdentity;
    try {
      identity = await readIdentity(this.target);
    } catch (error) {
      this.fail(error);
      return;
    }
    const match = matchBroker(this.amqpClusterName, identity, this.target);
    if (!match.same) {
      this.why = match.why;
      this.brief = match.brief;
      this.retryAt = null;
      return;
    }
    try {
      this.pending = await listQueues(this.target, this.vhost);
    } catch (error) {
      this.fail(error);
      return;
    }
    this.why = null;
    this.doubtText = match.doubt;
  }

  private fail(error: unknown): void {
    if (!(error instanceof ManagementUnavailable)) throw error;
    this.why = error.message;
    this.brief = briefProblem(error, this.target.username);
  }
}

function briefProblem(error: ManagementUnavailable, username: string): string {
  switch (error.problem) {
    case 'unreachable':
      return 'no management API';
    case 'refused':
      return `management API refused user '${username}'`;
    case 'not-found':
      return 'management API does not know the vhost';
    case 'bad-answer':
      return 'management API failed';
  }
}
