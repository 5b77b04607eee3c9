import type { ConnectionSettings } from '../config/connection.js';
import { QtoolError, UsageError } from '../errors.js';

/** The management plugin's default HTTP port. */
export const DEFAULT_MANAGEMENT_PORT = 15672;
/** Long enough for a busy broker, short enough that `watch` never stalls for long. */
const REQUEST_TIMEOUT_MS = 3000;

/** Where the management HTTP API lives, and who to be there. */
export interface ManagementTarget {
  /** Base URL without credentials, ending in `/`: `http://localhost:15672/`. */
  baseUrl: string;
  username: string;
  password: string;
}

/** One queue as `GET /api/queues/{vhost}` describes it (only the fields qtool reads). */
export interface ManagementQueue {
  name: string;
  messages_ready?: number;
  messages_unacknowledged?: number;
  messages?: number;
  consumers?: number;
  message_stats?: {
    publish_details?: { rate?: number };
    deliver_get_details?: { rate?: number };
    ack_details?: { rate?: number };
    redeliver_details?: { rate?: number };
  };
}

/**
 * The management API did not answer as one: nothing listens there, no answer in time, or the
 * server is not RabbitMQ's management plugin. Callers fall back to AMQP; `reason` says why.
 */
export class ManagementUnavailable extends Error {
  override readonly name = 'ManagementUnavailable';
}

/**
 * The management API's address: `--management-url` when given (credentials in it win over the
 * connection's), else http on port 15672 of the broker's host, with the connection's credentials.
 */
export function managementTarget(
  settings: ConnectionSettings,
  url: string | undefined,
  defaultPort: number = DEFAULT_MANAGEMENT_PORT,
): ManagementTarget {
  if (url === undefined) {
    const host = settings.hostname.includes(':') ? `[${settings.hostname}]` : settings.hostname;
    return {
      baseUrl: `http://${host}:${defaultPort}/`,
      username: settings.username,
      password: settings.password,
    };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Never echo the text: it may hold a password.
    throw new UsageError('--management-url is not a valid URL', 'expected http://host:15672');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(
      `--management-url must start with http:// or https:// (got ${parsed.protocol}//)`,
      'expected http://host:15672',
    );
  }
  const username = parsed.username === '' ? settings.username : decodeURIComponent(parsed.username);
  const password = parsed.password === '' ? settings.password : decodeURIComponent(parsed.password);
  // fetch refuses URLs with credentials; they travel in the Authorization header instead.
  parsed.username = '';
  parsed.password = '';
  parsed.search = '';
  parsed.hash = '';
  if (!parsed.pathname.endsWith('/')) parsed.pathname = `${parsed.pathname}/`;
  return { baseUrl: parsed.toString(), username, password };
}

/** The management URL as shown to a person: never with credentials (baseUrl has none). */
export function displayManagementUrl(target: ManagementTarget): string {
  return target.baseUrl.replace(/\/$/, '');
}

/**
 * Every queue of `vhost` with its figures. Throws ManagementUnavailable when no management API
 * answers (the caller falls back to AMQP), and a QtoolError for answers worth stopping on:
 * a refused login, a vhost that does not exist.
 */
export async function listQueues(target: ManagementTarget, vhost: string): Promise<ManagementQueue[]> {
  const where = displayManagementUrl(target);
  // The vhost is one path segment: '/' must travel as %2F.
  const url = new URL(`api/queues/${encodeURIComponent(vhost)}`, target.baseUrl);
  let response: Response;
  try {
    response = await fetch(url, {
      headers: {
        authorization: `Basic ${Buffer.from(`${target.username}:${target.password}`).toString('base64')}`,
        accept: 'application/json',
      },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      redirect: 'error',
    });
  } catch (error) {
    throw new ManagementUnavailable(`no management API at ${where}: ${describeFetchError(error)}`, {
      cause: error,
    });
  }
  const text = await response.text().catch(() => '');
  const body = parseJson(text);
  if (response.status === 401 || response.status === 403) {
    const reason = typeof body?.reason === 'string' ? body.reason : '';
    const notManagementUser = /management user|not_authorised|not authori[sz]ed/i.test(reason);
    throw new QtoolError(
      /vhost|virtual host/i.test(reason)
        ? `the management API at ${where} refused user '${target.username}' access to vhost '${vhost}'`
        : `the management API at ${where} refused the login for user '${target.username}' (HTTP ${response.status})`,
      {
        hint: notManagementUser
          ? `Check the username and password; the user also needs a management tag (rabbitmqctl set_user_tags ${target.username} management). Or use --no-management for AMQP figures only.`
          : 'Check --username and --password, or --management-url; --no-management uses AMQP figures only.',
      },
    );
  }
  if (response.status === 404 && body?.error === 'Object Not Found') {
    throw new QtoolError(`vhost '${vhost}' does not exist (the management API at ${where} says so)`, {
      hint: 'Check --vhost (in the lab your vhost is your user name).',
    });
  }
  if (!response.ok || !Array.isArray(body)) {
    throw new ManagementUnavailable(
      `no management API at ${where}: HTTP ${response.status} ${response.ok ? 'but not the expected JSON' : response.statusText}`.trim(),
    );
  }
  return (body as unknown[]).filter(isQueue);
}

function isQueue(value: unknown): value is ManagementQueue {
  return (
    typeof value === 'object' && value !== null && typeof (value as { name?: unknown }).name === 'string'
  );
}

// biome-ignore lint/suspicious/noExplicitAny: a JSON body is read field by field, each checked.
function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Node's fetch hides the socket error in `cause`: `fetch failed` says nothing by itself. */
function describeFetchError(error: unknown): string {
  const name = (error as { name?: unknown })?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  }
  const cause = (error as { cause?: { code?: unknown; message?: unknown } })?.cause;
  switch (cause?.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unknown host';
    case 'ECONNRESET':
      return 'connection reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to the host';
  }
  const message = cause?.message ?? (error as { message?: unknown })?.message;
  return typeof message === 'string' && message !== '' ? message : 'no answer';
}
